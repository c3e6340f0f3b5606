import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.ts';
import { silentLogger } from '../util/log.ts';
import { controlRequest } from './control-client.ts';
import { startControlServer, type ControlServer } from './control-server.ts';
import { ensureKey } from './files.ts';
import { checkConfig, dataplanePaths, proxyArgs, settingsDiff, type DataplaneConfig } from './protocol.ts';
import { Dataplane } from './remote.ts';
import { nodeArgs, proxyEnv } from './launch.ts';

/** A pid that exists no more: the fake proxy "process" is this test's control server. */
const DEAD_PID = spawnSync('true').pid!;
const cleanups: (() => Promise<void>)[] = [];
const SETTINGS = { proxyHost: '127.0.0.1', idleTimeoutMs: 1_000, maxConnections: 'auto' as const, maxConnectionsPerClient: 8 };

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A state dir and a fake launcher that serves the control protocol in this process, recording every applied config. */
async function fixture(applyMs = 0) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-dp-'));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  const paths = dataplanePaths(dir, 'spec');
  const key = await ensureKey(paths.key);
  const applied: DataplaneConfig[] = [];
  const state = { inflight: 0, maxInflight: 0, launches: 0, server: null as ControlServer | null };
  const serve = async () => {
    state.server = await startControlServer({
      socket: paths.socket, key, log: silentLogger, list: () => [], openTo: (a) => (a === '10.0.0.1:80' ? 2 : 0), gates: () => [],
      health: () => ({ pid: DEAD_PID + state.launches, instance: 'spec', settings: SETTINGS, startedAt: '', configuredAt: null, listeners: 0 }),
      apply: async (c) => {
        state.maxInflight = Math.max(state.maxInflight, ++state.inflight);
        await new Promise((r) => setTimeout(r, applyMs));
        applied.push(c);
        state.inflight--;
      },
    });
  };
  const registry = new Registry();
  const dp = new Dataplane({
    stateDir: dir, instance: 'spec', registry, log: silentLogger, settings: SETTINGS, checkMs: 50,
    launch: async () => { state.launches++; await serve(); return DEAD_PID; },
  });
  cleanups.push(async () => { await dp.close(); await state.server?.close(); });
  return { dir, paths, key, applied, state, registry, dp };
}

const ep = (id: string, ready = true) => ({ id, service: 'ns/web', node: 'n', address: '10.0.0.1', port: 80, weight: 1, ready, source: 'replica' as const, metadata: {} });
const inputs = { services: [{ key: 'ns/web', spec: { loadBalancer: { algorithm: 'round-robin', protocol: 'tcp', publish: { port: 1 } } } }], routes: [] } as never;

describe('Dataplane (the operator side)', () => {
  it('pushes nothing before the first pass, then coalesces bursts of changes with one request in flight', async () => {
    const f = await fixture(20);
    await f.dp.start();
    expect(f.state.launches).toBe(1);
    f.registry.setReplicas('ns/web', [ep('a')]);
    await new Promise((r) => setTimeout(r, 50));
    expect(f.applied).toEqual([]); // a persisted configuration is never replaced by an empty one
    f.dp.setDesired(inputs);
    for (let i = 0; i < 50; i++) f.registry.setReplicas('ns/web', [ep('a', i % 2 === 0), ep(`b${i}`)]);
    await f.dp.flush();
    expect(f.applied.length).toBeGreaterThan(0);
    expect(f.applied.length).toBeLessThan(10);
    expect(f.state.maxInflight).toBe(1);
    const last = f.applied.at(-1)!;
    expect(last.endpoints['ns/web']!.map((e) => e.id)).toEqual(['a', 'b49']);
    expect(last.services).toEqual([{ key: 'ns/web', spec: { loadBalancer: expect.objectContaining({ publish: { port: 1 } }) } }]);
    expect(await f.dp.openTo('10.0.0.1:80')).toBe(2);
  });

  it('starts the process again when it stops answering and configures it again', async () => {
    const f = await fixture();
    await f.dp.start();
    f.dp.setDesired(inputs);
    await f.dp.flush();
    const before = f.applied.length;
    await f.state.server!.close();
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 5_000;
      const poll = () => (f.state.launches === 2 && f.applied.length > before ? resolve() : Date.now() > deadline ? reject(new Error('not restarted')) : setTimeout(poll, 20));
      poll();
    });
    expect(f.dp.info()).toMatchObject({ state: 'running', restarts: 1 });
  });

  it('pushes the wake of a service, and keeps a Route backend that has only a wake', async () => {
    const f = await fixture();
    await f.dp.start();
    const wake = { queue: 3, timeoutMs: 1_000 };
    f.dp.setDesired({ services: [{ key: 'ns/web', spec: { loadBalancer: { algorithm: 'round-robin', protocol: 'tcp', publish: { port: 1 } } }, wake }, { key: 'ns/api', spec: {}, wake }, { key: 'ns/none', spec: {} }], routes: [] } as never);
    await f.dp.flush();
    const last = f.applied.at(-1)!;
    expect(last.services).toEqual([
      { key: 'ns/web', spec: { loadBalancer: expect.objectContaining({ publish: { port: 1 } }) }, wake },
      { key: 'ns/api', spec: {}, wake },
    ]);
  });

  it('answers 0 connections and an empty list while nothing answers', async () => {
    const f = await fixture();
    const dp = new Dataplane({ stateDir: f.dir, instance: 'other', registry: new Registry(), log: silentLogger, settings: SETTINGS });
    expect(await dp.openTo('10.0.0.1:80')).toBe(0);
    expect(await dp.list()).toEqual([]);
  });
});

describe('the control server', () => {
  it('refuses requests without the key, bodies over the limit and configurations of the wrong shape', async () => {
    const f = await fixture();
    await f.dp.start();
    const target = { socket: f.paths.socket, key: f.key };
    expect((await controlRequest({ ...target, key: 'nope' }, 'GET', '/healthz')).status).toBe(401);
    expect((await controlRequest(target, 'GET', '/healthz')).status).toBe(200);
    expect((await controlRequest(target, 'GET', '/nothing')).status).toBe(404);
    expect((await controlRequest(target, 'GET', '/connections')).status).toBe(400);
    expect((await controlRequest(target, 'PUT', '/config', { services: 'x' })).status).toBe(400);
    const huge = { services: [], routes: [], endpoints: {}, pad: 'x'.repeat(9 * 1024 * 1024) };
    expect((await controlRequest(target, 'PUT', '/config', huge).catch(() => ({ status: 413 }))).status).toBe(413);
    expect(f.applied).toEqual([]);
    expect((await fs.stat(f.paths.socket)).mode & 0o777).toBe(0o600);
  });

  it('never sends the key to a path that is not a socket', async () => {
    const f = await fixture();
    const file = path.join(f.dir, 'not-a-socket');
    await fs.writeFile(file, '');
    await expect(controlRequest({ socket: file, key: f.key }, 'GET', '/healthz')).rejects.toMatchObject({ code: 'E_NOT_SOCKET' });
  });
});

describe('protocol and launch helpers', () => {
  it('names the flags an attached proxy process runs with differently, and spells them as flags', () => {
    expect(settingsDiff(SETTINGS, SETTINGS)).toEqual([]);
    expect(settingsDiff(SETTINGS, { ...SETTINGS, proxyHost: '0.0.0.0', maxConnections: 10 })).toEqual(['proxyHost', 'maxConnections']);
    expect(proxyArgs(SETTINGS)).toEqual(['--proxy-host', '127.0.0.1', '--proxy-idle-timeout', '1000ms', '--max-connections', 'auto', '--max-connections-per-client', '8']);
  });

  it('checks the shape of a configuration', () => {
    expect(checkConfig({ services: [], routes: [], endpoints: {} }).ok).toBe(true);
    expect(checkConfig(null).ok).toBe(false);
    expect(checkConfig({ services: [], routes: [], endpoints: { 'a/b': [{ id: 'x', address: 'h', port: 'p', weight: 1, ready: true }] } }).ok).toBe(false);
    expect(checkConfig({ services: [], routes: [{ key: 'r' }], endpoints: {} }).ok).toBe(false);
    const withWake = (wake: unknown) => checkConfig({ services: [{ key: 'a/b', spec: {}, wake }], routes: [], endpoints: {} });
    expect(withWake({ queue: 5, timeoutMs: 30_000 }).ok).toBe(true);
    expect(withWake({ queue: 0, timeoutMs: 30_000 })).toMatchObject({ ok: false, error: expect.stringMatching(/a\/b: wake.queue/) });
    expect(withWake({ queue: 5, timeoutMs: 'x' }).ok).toBe(false);
    expect(withWake({ queue: 1e9, timeoutMs: 1 }).ok).toBe(false);
  });

  it('keeps a tsx loader, adds one otherwise, drops inspector flags; keeps credentials out of the environment', () => {
    expect(nodeArgs(['--require', '/x/tsx/dist/preflight.cjs', '--import', 'file:///x/tsx/dist/loader.mjs', '--inspect=9229'])).toEqual(['--require', '/x/tsx/dist/preflight.cjs', '--import', 'file:///x/tsx/dist/loader.mjs']);
    expect(nodeArgs(['--conditions', 'node'])).toEqual(['--import', 'tsx']);
    // From the bundle (dist/cli.js), a loader inherited from a parent is dropped with its value, the rest kept.
    expect(nodeArgs(['--require', '/x/tsx/dist/preflight.cjs', '--max-old-space-size=256', '--import', 'file:///x/tsx/dist/loader.mjs', '--import=tsx'], true)).toEqual(['--max-old-space-size=256']);
    expect(proxyEnv({ PATH: '/bin', GITHUB_TOKEN: 't', BERTH_WEBHOOK_SECRET: 's', BERTH_LOG_LEVEL: 'debug' })).toEqual({ PATH: '/bin', BERTH_LOG_LEVEL: 'debug' });
  });
});
