/**
 * Debian's chromium (/usr/bin/chromium, provisioned; never a downloaded browser) through playwright-core, for the
 * dashboard's tests: a headless browser, and a page signed in with a token that records every JavaScript error and
 * every failed request (with its URL) the test then expects to be none.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

export async function launchBrowser(): Promise<Browser> {
  await fs.mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page of the dashboard at `url`, signed in with `token`. `errors` collects page errors, console errors and failed
 * responses; answers `allowed` says are expected (401/403 of a refused action) are left out.
 */
export async function openDashboard(browser: Browser, url: string, token: string, errors: string[], opts: { viewport?: { width: number; height: number }; allowed?: RegExp } = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
  const allowed = opts.allowed ?? /^40[13]$/;
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400 && !allowed.test(String(r.status()))) errors.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
  await page.goto(`${url}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Open' }).click();
  return page;
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
