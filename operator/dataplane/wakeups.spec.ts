/** GET /wakeups on the control socket (long poll) and watchWakeups, the operator's loop over it. Real unix sockets. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WakeSignals } from '../proxy/wake.ts';
import { silentLogger } from '../util/log.ts';
import { controlRequest } from './control-client.ts';
import { startControlServer, type ControlServer } from './control-server.ts';
import { ensureKey } from './files.ts';
import { dataplanePaths, type DataplanePaths } from './protocol.ts';
import { watchWakeups } from './wakeups.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function paths(): Promise<DataplanePaths> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-wake-'));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dataplanePaths(dir, 'spec');
}

async function control(p: DataplanePaths, wakes: WakeSignals): Promise<{ server: ControlServer; key: string }> {
  const key = await ensureKey(p.key);
  const server = await startControlServer({
    socket: p.socket, key, log: silentLogger, list: () => [], openTo: () => 0, gates: () => [], apply: async () => {}, wakes,
    health: () => ({ pid: 1, instance: 'spec', settings: { proxyHost: '127.0.0.1', idleTimeoutMs: 1_000, maxConnections: 'auto', maxConnectionsPerClient: 8 }, startedAt: '', configuredAt: null, listeners: 0 }),
  });
  cleanups.push(() => server.close());
  return { server, key };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GET /wakeups', () => {
  it('answers as soon as a service has a pending wake, each wake once; the empty list when the wait ends', async () => {
    const p = await paths();
    const wakes = new WakeSignals();
    const { key } = await control(p, wakes);
    const target = { socket: p.socket, key };
    const started = Date.now();
    const poll = controlRequest(target, 'GET', '/wakeups?wait=5000');
    await sleep(100);
    wakes.note('ns/web');
    const r = await poll;
    expect(r).toEqual({ status: 200, body: { services: ['ns/web'] } });
    expect(Date.now() - started).toBeLessThan(2_000);
    const t = Date.now();
    expect((await controlRequest(target, 'GET', '/wakeups?wait=200')).body).toEqual({ services: [] });
    expect(Date.now() - t).toBeGreaterThanOrEqual(190);
    wakes.note('ns/a');
    wakes.note('ns/b');
    expect((await controlRequest(target, 'GET', '/wakeups')).body).toEqual({ services: ['ns/a', 'ns/b'] }); // no wait: at once
    expect((await controlRequest(target, 'GET', '/wakeups?wait=-1')).status).toBe(400);
    expect((await controlRequest({ socket: p.socket, key: 'wrong' }, 'GET', '/wakeups?wait=10')).status).toBe(401);
  });

  it('serves several concurrent pollers; one that leaves takes nothing', async () => {
    const p = await paths();
    const wakes = new WakeSignals();
    const { key } = await control(p, wakes);
    const target = { socket: p.socket, key };
    const stop = new AbortController();
    const leaving = controlRequest(target, 'GET', '/wakeups?wait=5000', undefined, 10_000, stop.signal).catch((e: Error) => e);
    const polls = [controlRequest(target, 'GET', '/wakeups?wait=3000'), controlRequest(target, 'GET', '/wakeups?wait=3000')];
    await sleep(100);
    stop.abort();
    expect(await leaving).toBeInstanceOf(Error);
    await sleep(50);
    expect(wakes.polling).toBe(2);
    wakes.note('ns/x');
    const first = await Promise.race(polls);
    expect(first.body).toEqual({ services: ['ns/x'] });
    wakes.note('ns/y');
    const both = (await Promise.all(polls)).map((r) => (r.body as { services: string[] }).services);
    expect(both.flat().sort()).toEqual(['ns/x', 'ns/y']);
  });
});

describe('watchWakeups', () => {
  it('reports wakes as they come, survives the proxy process being absent and restarted (backoff), and stops', async () => {
    const p = await paths();
    const wakes = new WakeSignals();
    const seen: string[][] = [];
    const watch = watchWakeups({ socket: p.socket, key: p.key }, (s) => seen.push(s), { waitMs: 1_000, backoffMs: 50, maxBackoffMs: 200 });
    cleanups.push(() => watch.stop());
    await sleep(300); // nothing listens yet: the loop backs off, it does not spin
    const { server } = await control(p, wakes);
    await waitUntil(() => wakes.polling === 1);
    wakes.note('ns/a');
    await waitUntil(() => seen.length === 1);
    expect(seen).toEqual([['ns/a']]);
    await server.close();
    await sleep(100);
    await control(p, wakes);
    await waitUntil(() => wakes.polling === 1);
    wakes.note('ns/b');
    await waitUntil(() => seen.length === 2);
    expect(seen).toEqual([['ns/a'], ['ns/b']]);
    watch.stop();
    await waitUntil(() => wakes.polling === 0);
    wakes.note('ns/c');
    await sleep(200);
    expect(seen).toHaveLength(2);
    expect(wakes.take()).toEqual(['ns/c']); // nobody took it
  });
});

async function waitUntil(pred: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
