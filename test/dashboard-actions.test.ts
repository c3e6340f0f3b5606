/**
 * The dashboard's deeper pages in a real browser (chromium through playwright-core) against a real operator on a real
 * engine with one Node and a Route: node capacity and allocation, Route rules with their weights, the plan each
 * applied revision was applied with, the branch head's plan while it is rejected, a review branch's plan, a rolled-back
 * update with why, pausing and resuming drift correction (recorded with who; refused for a viewer), the charts of a
 * service's traffic, and keyboard navigation. Every request goes to 127.0.0.1; screenshots go to test-artifacts/.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth } from './helpers/cli.ts';
import { launchBrowser, openDashboard, screenshot } from './helpers/browser.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { freePort } from './helpers/net.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('dash-act');
let remote: Remote;
let op: TestOperator;
let browser: Browser;
let routePort = 0;
const errors: string[] = [];

const NODES = `apiVersion: berth/v1
kind: Node
metadata: { name: main }
spec: { endpoint: "unix:///var/run/docker.sock", labels: { zone: a } }
`;

/** An httpd answering /healthz (or, with `serve`, only that file: readiness then fails with 404). */
const httpd = (name: string, opts: { serve?: string; version?: string } = {}) => `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: dash }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo ok > /www/${opts.serve ?? 'healthz'} && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
  env: { VERSION: "${opts.version ?? '1'}" }
  ports: [{ name: http, port: 8080 }]
  resources: { cpu: 0.1, memory: 32Mi }
  health:
    readiness: { http: { path: /healthz, port: 8080 }, interval: 300ms, timeout: 250ms, failureThreshold: 2 }
  update: { order: start-first, parallelism: 1, monitor: 500ms, failureAction: rollback }
`;

const route = (port: number) => `apiVersion: berth/v1
kind: Route
metadata: { name: shop, namespace: dash }
spec:
  publish: { port: ${port}, host: 127.0.0.1 }
  rules:
    - pathPrefix: /
      backends: [{ service: web, weight: 90 }, { service: green, weight: 10 }]
`;

const adminToken = () => op.auth.authorization.slice('Bearer '.length);
const open = (token = adminToken()): Promise<Page> => openDashboard(browser, op.url, token, errors);

/** Commits on main and wakes the operator (as the webhook would); resolves with the commit. */
async function push(files: Record<string, string | null>, message: string): Promise<string> {
  const rev = await remote.commit(files, message);
  op.trigger('push');
  return rev;
}

beforeAll(async () => {
  routePort = await freePort();
  remote = await makeRemote({ 'nodes.yaml': NODES, 'web.yaml': httpd('web'), 'green.yaml': httpd('green'), 'route.yaml': route(routePort) });
  op = await startTestOperator(remote.url, instance, { 'review-branches': ['review/*'], 'series-step': '1s' });
  await op.reached((p) => p.converged && p.status.services['dash/web']?.ready === 1 && p.status.services['dash/green']?.ready === 1, 'both services ready', 90_000);
  browser = await launchBrowser();
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

describe('the dashboard, deeper', () => {
  it('shows the node with its capacity, what the replicas reserve and where they run', async () => {
    const page = await open();
    await page.locator('nav a', { hasText: 'Nodes' }).click();
    const row = page.locator('tr[data-node=main]');
    await row.waitFor({ timeout: 10_000 });
    // Two replicas of 0.1 cores and 32 MiB each, on an engine whose capacity berth read.
    await row.getByTestId('cpu').filter({ hasText: /0\.2 of \d+(\.\d+)? cores/ }).waitFor({ timeout: 10_000 });
    expect(await row.getByTestId('memory').textContent()).toMatch(/64 MiB of \d+(\.\d)? GiB/);
    expect(await row.textContent()).toContain('zone=a');
    expect(await row.textContent()).toMatch(/dash\/green #\d.*dash\/web #\d|dash\/web #\d.*dash\/green #\d/);
    await screenshot(page, 'actions-nodes');
    await page.close();
  }, 60_000);

  it('shows the Route\'s rule with each backend\'s share, and charts the traffic it carries', async () => {
    const page = await open();
    await page.locator('nav a', { hasText: 'Traffic' }).click();
    const rule = page.locator(`tr[data-listener="127.0.0.1:${routePort}"] [data-rule="dash/shop rule 0"]`);
    await rule.waitFor({ timeout: 30_000 });
    expect(await rule.textContent()).toMatch(/dash\/web 90%.*dash\/green 10%/);
    await screenshot(page, 'actions-traffic');
    // Bounded traffic to loopback through the Route, once the sampler has read the proxy's counters (a rate is a difference).
    await waitFor(async () => {
      const r = await fetch(`${op.url}/v1/series?service=dash/web`, { headers: op.auth });
      return r.status === 200 && ((await r.json()) as { rps: (number | null)[] }).rps.some((v) => v !== null);
    }, { what: 'a first rate of dash/web', timeoutMs: 30_000 });
    for (let i = 0; i < 40; i++) expect((await fetch(`http://127.0.0.1:${routePort}/`)).status).toBe(200);
    await page.evaluate(() => { location.hash = '#/service/dash/web'; });
    const requests = page.getByRole('img', { name: /^Requests: rate \d/ });
    await requests.waitFor({ timeout: 30_000 });
    await page.getByRole('img', { name: /^Latency: p50 \d/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('img', { name: /^Memory: memory \d/ }).waitFor({ timeout: 30_000 });
    expect(await page.locator('.charts canvas').count()).toBe(4);
    await screenshot(page, 'actions-charts');
    await page.close();
  }, 90_000);

  it('shows the plan an applied revision was applied with, a rejected head\'s errors and a review branch\'s plan', async () => {
    // A review branch first: the round that follows the next applied revision plans it.
    await remote.git(['checkout', '--quiet', '--detach', 'main']);
    await fs.writeFile(path.join(remote.workDir, 'web.yaml'), httpd('web', { version: '2' }));
    await remote.git(['commit', '--quiet', '-am', 'web v2 for review']);
    await remote.git(['push', '--quiet', 'origin', 'HEAD:refs/heads/review/more']);
    await remote.git(['checkout', '--quiet', 'main']);
    const green2 = await push({ 'green.yaml': httpd('green', { version: '2' }) }, 'green v2');
    await op.waitPass((p) => p.status.revision.applied === green2 && p.converged, 'green v2 applied', 60_000);

    const page = await open();
    await page.locator('nav a', { hasText: 'Revisions' }).click();
    const row = page.locator(`tr[data-revision="${green2}"]`);
    await row.getByRole('button', { name: 'Plan' }).click();
    const plan = page.getByLabel(`plan of ${green2.slice(0, 7)}`);
    await plan.waitFor({ timeout: 15_000 });
    expect(await plan.textContent()).toMatch(/dash\/green/);
    expect(await plan.textContent()).toMatch(/replace/);
    expect(await plan.locator('table').count()).toBeGreaterThan(0); // rendered markdown, not the source text

    const review = page.locator('[data-review="branch/review/more"]');
    await review.waitFor({ timeout: 30_000 });
    await review.locator('> summary').click();
    expect(await review.getByLabel('plan of branch/review/more').textContent()).toMatch(/dash\/web/);

    const bad = await push({ 'web.yaml': httpd('web').replace('cpu: 0.1', 'cpu: lots') }, 'broken cpu');
    await op.waitPass((p) => p.status.revision.latest === bad, 'broken revision fetched', 30_000);
    const head = page.getByRole('region', { name: 'head plan' });
    await head.getByTestId('head').filter({ hasText: bad.slice(0, 7) }).waitFor({ timeout: 15_000 });
    expect(await head.textContent()).toMatch(/rejected/);
    expect(await head.textContent()).toMatch(/web\.yaml:\d+:\d+/);
    await screenshot(page, 'actions-revisions');
    await page.close();
    const fixed = await push({ 'web.yaml': httpd('web') }, 'cpu fixed');
    await op.waitPass((p) => p.status.revision.applied === fixed && p.converged, 'fixed applied', 60_000);
  }, 150_000);

  it('shows a rolled-back update with why, on the service page and in its events', async () => {
    const page = await open();
    await page.getByRole('region', { name: 'services' }).locator('a[href="#/service/dash/web"]').click();
    const failing = await push({ 'web.yaml': httpd('web', { serve: 'other', version: '3' }) }, 'web v3 without healthz');
    await op.waitPass((p) => p.status.revision.latest === failing && /rolled back/.test(p.status.services['dash/web']?.message ?? ''), 'the rollback', 60_000);
    const held = page.getByRole('alert', { name: 'held update' });
    await held.waitFor({ timeout: 5000 });
    expect(await held.textContent()).toMatch(/rolled back at [0-9a-f]{7}: .*HTTP 404/);
    await page.locator('[data-event=rollback]').first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'actions-rollback');
    await page.close();
  }, 90_000);

  it('pauses and resumes drift correction, recorded with who; a viewer is refused', async () => {
    const page = await open();
    await page.getByRole('region', { name: 'services' }).locator('a[href="#/service/dash/green"]').click();
    await page.getByLabel('Reason').fill('debugging in place');
    await page.getByRole('button', { name: 'Pause drift correction' }).click();
    const banner = page.locator('[data-paused="dash/green"]');
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toMatch(/paused by \S+ since .*debugging in place/);
    await page.locator('[data-event=drift-paused]').first().waitFor({ timeout: 10_000 });
    // The overview says so too, until resumed.
    await page.locator('nav a', { hasText: 'Services' }).click();
    await page.locator('[data-paused="dash/green"]').waitFor({ timeout: 5000 });
    await screenshot(page, 'actions-paused');

    const t = await berth(['token', 'create', '--role', 'viewer', '--name', 'act-viewer', '--state-dir', op.stateDir]);
    expect(t.code, t.stderr).toBe(0);
    await waitFor(async () => (await fetch(`${op.url}/v1/status`, { headers: { authorization: `Bearer ${t.stdout.trim()}` } })).status === 200, { what: 'the viewer token accepted' });
    const viewer = await open(t.stdout.trim());
    await viewer.getByRole('region', { name: 'services' }).locator('a[href="#/service/dash/green"]').click();
    await viewer.getByRole('button', { name: 'Resume drift correction' }).click();
    await viewer.getByRole('status').filter({ hasText: /refused: role viewer may not/ }).waitFor({ timeout: 5000 });
    await viewer.close();

    await page.getByRole('region', { name: 'services' }).locator('a[href="#/service/dash/green"]').click();
    await page.getByRole('button', { name: 'Resume drift correction' }).click();
    await page.locator('[data-event=drift-resumed]').first().waitFor({ timeout: 10_000 });
    await page.locator('[data-paused="dash/green"]').waitFor({ state: 'detached', timeout: 10_000 });
    await page.close();
  }, 90_000);

  it('is keyboard navigable: the pages are links in tab order, and a followed link moves focus to the page', async () => {
    const page = await open();
    await page.locator('tr[data-service]').first().waitFor({ timeout: 10_000 });
    await page.locator('body').focus();
    let reached = '';
    for (let i = 0; i < 8 && reached !== 'Revisions'; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent ?? '');
    }
    expect(reached).toBe('Revisions');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Revisions', level: 1 }).waitFor({ timeout: 5000 });
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('MAIN');
    expect(await page.evaluate(() => location.hash)).toBe('#/revisions');
    await page.close();
    expect(errors).toEqual([]);
  }, 60_000);
});
