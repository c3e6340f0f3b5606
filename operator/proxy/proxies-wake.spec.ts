/** PublishedService.wake through the ProxyManager: carried to the listeners, held requests released by registry changes. */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DesiredRoute } from '../model/state.ts';
import { Registry, type RegistryEndpoint } from '../registry/registry.ts';
import { silentLogger } from '../util/log.ts';
import { freePort } from '../../test/helpers/net.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import { accessTable } from './access-stats.ts';
import { ProxyManager, wantedListeners, type ListenerInputs, type PublishedService } from './proxies.ts';
import { wakeSignals } from './wake.ts';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  wakeSignals.take();
});

const wake = { queue: 4, timeoutMs: 5_000 };
const published = (key: string, port: number, withWake = true): PublishedService => ({
  key, spec: { loadBalancer: { algorithm: 'round-robin', protocol: 'http', targetPort: 80, weight: 1, publish: { port, host: '127.0.0.1' } } }, ...(withWake ? { wake } : {}),
});
const route = (port: number, service: string): DesiredRoute => ({
  key: 'ns/r', namespace: 'ns', name: 'r', source: { file: 'r.yaml', line: 1, col: 1 },
  spec: { publish: { port, host: '127.0.0.1' }, rules: [{ pathPrefix: '/', backends: [{ service, weight: 1 }] }] },
});
const endpoint = (service: string, id: string, port: number): RegistryEndpoint => ({ id, service, node: 'local', address: '127.0.0.1', port, weight: 1, ready: true, source: 'replica', metadata: {} });

async function backend(): Promise<number> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.end(`ok ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return (server.address() as net.AddressInfo).port;
}

function held(port: number, service: string): number | undefined {
  return accessTable.snapshot().listeners.find((l) => l.listener === `127.0.0.1:${port}`)?.services.find((s) => s.service === service)?.held;
}

describe('wantedListeners with wake', () => {
  it('gives the wake of a service to its listener and to the Route pools that name it; nothing without it', () => {
    const inputs: ListenerInputs = {
      services: [published('ns/a', 18080), { key: 'ns/b', spec: {}, wake }, published('ns/c', 18081, false)],
      routes: [{ ...route(18090, 'b'), spec: { publish: { port: 18090, host: '127.0.0.1' }, rules: [{ pathPrefix: '/', backends: [{ service: 'b', weight: 1 }, { service: 'c', weight: 1 }] }] } }],
    };
    const w = wantedListeners(inputs, '0.0.0.0');
    expect(w.get('127.0.0.1:18080')!.wake).toEqual(wake);
    expect('wake' in w.get('127.0.0.1:18081')!).toBe(false);
    expect(w.get('127.0.0.1:18090')!.pools).toEqual({ 'ns/b': { algorithm: 'round-robin', wake }, 'ns/c': { algorithm: 'round-robin' } });
  });
});

describe('ProxyManager with wake', () => {
  it('holds a request of a published service at zero and forwards it when the registry has a ready replica', async () => {
    const port = await freePort();
    const registry = new Registry();
    const manager = new ProxyManager({ registry, defaultHost: '127.0.0.1', log: silentLogger });
    closers.push(() => manager.close());
    await manager.sync({ services: [published('ns/a', port)], routes: [] });
    const pending = fetch(`http://127.0.0.1:${port}/x`);
    await waitFor(() => held(port, 'ns/a') === 1, { what: 'held', timeoutMs: 5_000, intervalMs: 5 });
    expect(wakeSignals.take()).toEqual(['ns/a']);
    registry.setReplicas('ns/a', [endpoint('ns/a', 'a1', await backend())]);
    const r = await pending;
    expect([r.status, await r.text()]).toEqual([200, 'ok /x']);

    // wake removed by a sync: what is held is released to the normal path (no endpoint: 502)
    registry.setReplicas('ns/a', []);
    const next = fetch(`http://127.0.0.1:${port}/y`);
    await waitFor(() => held(port, 'ns/a') === 1, { what: 'held again', timeoutMs: 5_000, intervalMs: 5 });
    await manager.sync({ services: [published('ns/a', port, false)], routes: [] });
    expect((await next).status).toBe(502);
  });

  it('holds a Route request for a backend at zero (no loadBalancer of its own) until the registry has a replica', async () => {
    const port = await freePort();
    const registry = new Registry();
    const manager = new ProxyManager({ registry, defaultHost: '127.0.0.1', log: silentLogger });
    closers.push(() => manager.close());
    await manager.sync({ services: [{ key: 'ns/b', spec: {}, wake }], routes: [route(port, 'b')] });
    const pending = fetch(`http://127.0.0.1:${port}/r`);
    await waitFor(() => held(port, 'ns/b') === 1, { what: 'held', timeoutMs: 5_000, intervalMs: 5 });
    registry.setReplicas('ns/b', [endpoint('ns/b', 'b1', await backend())]);
    const r = await pending;
    expect([r.status, await r.text()]).toEqual([200, 'ok /r']);
  });
});
