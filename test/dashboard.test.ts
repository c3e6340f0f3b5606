/**
 * The dashboard in a real browser: playwright-core drives Debian's chromium (/usr/bin/chromium, provisioned; never a
 * downloaded browser) against a real operator, engine and git server. The token form; the overview lists the
 * services; a push shows the new revision and replica counts without a reload, live from /v1/status/watch; a bad
 * revision shows Stalled with file:line; a service page follows its logs and shows its events; "sync now" asks for a
 * pass, and is refused for a viewer token; no JavaScript error on any page; phone-sized viewport. Screenshots go to
 * test-artifacts/ (not committed). Every request goes to 127.0.0.1.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth } from './helpers/cli.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { ARTIFACTS, launchBrowser, openDashboard } from './helpers/browser.ts';
import { freePort } from './helpers/net.ts';
import { service, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('dash');
let remote: Remote;
let op: TestOperator;
let browser: Browser;
let sitePort = 0;
const errors: string[] = [];

const published = (port: number) => `apiVersion: berth/v1
kind: Service
metadata: { name: site, namespace: test }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
  ports: [{ name: http, port: 8080 }]
  loadBalancer: { publish: { port: ${port}, host: 127.0.0.1 } }
`;
const ticker = service('ticker', { command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'] });

beforeAll(async () => {
  sitePort = await freePort();
  remote = await makeRemote({ 'web.yaml': service('web', { replicas: 1 }), 'ticker.yaml': ticker, 'site.yaml': published(sitePort) });
  op = await startTestOperator(remote.url, instance);
  if (!op.passes.some((p) => p.converged)) await op.waitPass((p) => p.converged, 'first converged pass');
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

function open(token: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
  return openDashboard(browser, op.url, token, errors, { viewport });
}

const adminToken = () => op.auth.authorization.slice('Bearer '.length);

describe('the dashboard', () => {
  it('serves its assets with caching headers and without credentials, small', async () => {
    const index = await fetch(`${op.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const assets = [...html.matchAll(/\/ui\/(app-[\w]+\.(?:js|css))/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(2);
    let gz = 0;
    for (const a of assets) {
      const r = await fetch(`${op.url}/ui/${a}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      gz += Number(r.headers.get('content-length'));
    }
    expect(gz).toBeLessThan(300 * 1024);
    // The data is not open: the page's API calls need the token.
    expect((await fetch(`${op.url}/v1/status/watch`)).status).toBe(401);
  });

  it('lists the services, then shows a pushed revision and its replica counts without a reload', async () => {
    const page = await open(adminToken());
    await page.locator('tr[data-service="test/web"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('tr[data-service]').count()).toBe(3);
    expect(await page.locator('tr[data-service="test/web"] [data-testid=ready]').textContent()).toBe('1/1');
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });

    const rev = await remote.commit({ 'web.yaml': service('web', { replicas: 2 }) }, 'web x2');
    op.trigger('push');
    await op.waitPass((p) => p.status.revision.applied === rev && p.status.services['test/web']?.ready === 2, 'web x2 ready', 60_000);
    // Live: the page follows the status stream; it shows the pass within 2 s, no reload.
    await page.locator('[data-testid=applied]', { hasText: rev.slice(0, 7) }).waitFor({ timeout: 2000 });
    await page.getByRole('region', { name: 'revision' }).getByTestId('commit').filter({ hasText: 'web x2' }).waitFor({ timeout: 2000 });
    await page.locator('tr[data-service="test/web"] [data-testid=ready]', { hasText: '2/2' }).waitFor({ timeout: 2000 });

    // A bad revision: Stalled, with the file and line.
    await remote.commit({ 'web.yaml': service('web', { replicas: 2 }).replace('replicas: 2', 'replicas: two') }, 'broken');
    op.trigger('push');
    await page.locator('[data-condition=Stalled].bad').waitFor({ timeout: 30_000 });
    expect(await page.getByRole('alert').first().textContent()).toMatch(/web\.yaml:\d+:\d+/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'stalled.png'), fullPage: true });
    await remote.commit({ 'web.yaml': service('web', { replicas: 2 }) }, 'fixed');
    op.trigger('push');
    await page.close();
  }, 120_000);

  it('follows a service\'s logs live and shows its events', async () => {
    const page = await open(adminToken());
    await page.locator('a[href="#/service/test/ticker"]').click();
    const logs = page.getByTestId('logs');
    await logs.locator('div', { hasText: /tick \d+/ }).first().waitFor({ timeout: 15_000 });
    const count = await logs.locator('div').count();
    // New lines arrive while the page is open.
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=logs] div').length > n + 3, count, { timeout: 10_000 });
    await page.getByRole('region', { name: 'events' }).locator('li', { hasText: 'applied' }).first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'service.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('shows each listener with who publishes it and its ready backends', async () => {
    const page = await open(adminToken());
    await page.locator('a[href="#/traffic"]').click();
    const row = page.locator(`tr[data-listener="127.0.0.1:${sitePort}"]`);
    await row.waitFor({ timeout: 30_000 });
    await row.locator('td', { hasText: 'test/site: 1' }).waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain('test/site');
    await page.screenshot({ path: path.join(ARTIFACTS, 'traffic.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('lists the revisions with their commits and results, a rejected one marked', async () => {
    const page = await open(adminToken());
    await page.locator('a[href="#/revisions"]').click();
    const section = page.getByRole('region', { name: 'revisions' });
    await section.locator('tr', { hasText: 'web x2' }).waitFor({ timeout: 30_000 });
    await section.locator('tr', { hasText: 'broken' }).locator('text=rejected').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'revisions.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('sync now asks for a pass; a viewer token is refused; readable on a phone', async () => {
    const page = await open(adminToken());
    await page.locator('tr[data-service]').first().waitFor({ timeout: 10_000 });
    const before = op.passes.length;
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.getByRole('status').filter({ hasText: 'pass asked for' }).waitFor({ timeout: 5000 });
    await waitFor(() => op.passes.length > before, { what: 'the pass sync asked for', timeoutMs: 30_000 });
    // Recorded with who asked: an event in the store (berth events, GET /v1/events).
    const asked = await waitFor(async () => {
      const body = await (await fetch(`${op.url}/v1/events?since=10m`, { headers: op.auth })).json() as { events: { type: string; message: string }[] };
      return body.events.find((e) => e.type === 'sync-requested');
    }, { what: 'the sync-requested event' });
    expect(asked.message).toMatch(/^pass asked for by \S+$/);
    await page.close();

    // Dark and light follow the system setting.
    const dark = await browser.newPage({ colorScheme: 'dark' });
    await dark.goto(`${op.url}/`);
    const light = await browser.newPage({ colorScheme: 'light' });
    await light.goto(`${op.url}/`);
    const background = (p: Page) => p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(await background(dark)).toBe('rgb(13, 17, 23)');
    expect(await background(light)).toBe('rgb(255, 255, 255)');
    await dark.close();
    await light.close();

    const t = await berth(['token', 'create', '--role', 'viewer', '--name', 'dash-viewer', '--state-dir', op.stateDir]);
    expect(t.code, t.stderr).toBe(0);
    // berth re-reads its tokens file every second: the new token works once it has.
    await waitFor(async () => (await fetch(`${op.url}/v1/status`, { headers: { authorization: `Bearer ${t.stdout.trim()}` } })).status === 200, { what: 'the viewer token accepted' });
    const phone = await open(t.stdout.trim(), { width: 390, height: 844 });
    await phone.locator('tr[data-service]').first().waitFor({ timeout: 10_000 }).catch(async (e: unknown) => {
      await phone.screenshot({ path: path.join(ARTIFACTS, 'phone-failed.png'), fullPage: true });
      throw new Error(`${String(e)}\n${(await phone.content()).slice(0, 2000)}`);
    });
    await phone.getByRole('button', { name: 'Sync now' }).click();
    await phone.getByRole('status').filter({ hasText: 'refused: role viewer may not trigger sync' }).waitFor({ timeout: 5000 });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: true });
    await phone.close();
    expect(errors).toEqual([]);
  }, 60_000);
});
