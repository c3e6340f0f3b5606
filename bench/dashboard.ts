/**
 * Benchmark (#19): the dashboard in Debian's chromium (playwright-core) against `berth run` (its own process) with
 * SERVICES (200) services in one repository (replicas 0: the page's work, not the engine's, is measured).
 *  1. First paint of the overview: from navigation start (the token already in the tab) to the first contentful
 *     paint, and to every service row rendered (Performance API), median of 5 loads; goal < 1 s.
 *  2. The operator's CPU over 60 s with 5 dashboards open and idle, against 60 s with none; goal < 1 % of a core.
 * Run: npx tsx bench/dashboard.ts. Cleans up its repository and state.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { makeRemote } from '../test/helpers/git.ts';
import { median, startBerth, until } from './lib.ts';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 200);
const files: Record<string, string> = {};
for (let i = 0; i < SERVICES; i++) {
  files[`s${i}.yaml`] = `apiVersion: berth/v1\nkind: Service\nmetadata: { name: svc${i}, namespace: ns${i % 10} }\nspec:\n  image: berth-local/busybox:1\n  replicas: 0\n`;
}

const state = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-dash-'));
const instance = `bench-dash-${process.pid}`;
const remote = await makeRemote(files);
const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', state], 17_401);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
try {
  await until(async () => Object.keys((await berth.status()).services ?? {}).length === SERVICES || undefined, `${SERVICES} services in status`, 120_000, 500);
  const token = berth.auth.authorization!.slice('Bearer '.length);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript((t) => sessionStorage.setItem('berth.token', t), token);
  const fcp: number[] = [];
  const rows: number[] = [];
  for (let i = 0; i < 5; i++) {
    const page = await context.newPage();
    await page.goto(`${berth.url}/`);
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-service]').length === n, SERVICES, { timeout: 30_000 });
    const t = await page.evaluate(() => ({
      rows: performance.now(),
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    }));
    fcp.push(t.fcp);
    rows.push(t.rows);
    await page.close();
  }
  const fmt = (xs: number[]) => `${Math.round(Math.min(...xs))} / ${Math.round(median(xs))} / ${Math.round(Math.max(...xs))} ms`;
  console.log(`dashboard, ${SERVICES} services (min / median / max of 5 loads):`);
  console.log(`  first contentful paint:   ${fmt(fcp)}`);
  console.log(`  all ${SERVICES} rows rendered: ${fmt(rows)}`);

  const cpuOver = async (ms: number) => { const c0 = await berth.cpuSeconds(); await new Promise((r) => setTimeout(r, ms)); return ((await berth.cpuSeconds()) - c0) / (ms / 1000); };
  const idle = await cpuOver(60_000);
  const pages = await Promise.all(Array.from({ length: 5 }, () => context.newPage()));
  for (const p of pages) await p.goto(`${berth.url}/`);
  for (const p of pages) await p.waitForFunction((n) => document.querySelectorAll('tr[data-service]').length === n, SERVICES, { timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 5000));
  const open = await cpuOver(60_000);
  console.log(`  operator CPU over 60 s: ${(idle * 100).toFixed(2)} % of a core with no dashboard, ${(open * 100).toFixed(2)} % with 5 open and idle (difference ${((open - idle) * 100).toFixed(2)} %)`);
} finally {
  await browser.close();
  await berth.stop();
  await remote.close();
  await fs.rm(state, { recursive: true, force: true });
}
