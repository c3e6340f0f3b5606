import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildDesired } from '../manifests/desired.ts';
import { parseManifests } from '../manifests/parse.ts';
import type { DesiredState } from '../model/state.ts';
import { Registry, type RegistryEndpoint } from '../registry/registry.ts';
import { silentLogger } from '../util/log.ts';
import { freePort } from '../../test/helpers/net.ts';
import { createDrainer } from './drain.ts';
import { ProxyManager, wantedListeners } from './proxies.ts';

function desired(yaml: string): DesiredState {
  const { manifests, issues } = parseManifests([{ path: 'm.yaml', content: yaml }]);
  expect(issues).toEqual([]);
  return buildDesired('t', 'rev', manifests, new Map());
}

const svc = (name: string, lb = '') => `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: ns }
spec: { image: x, ports: [{ port: 80 }]${lb} }
---
`;
const route = (name: string, port: number, prefix: string, backends: string) => `apiVersion: berth/v1
kind: Route
metadata: { name: ${name}, namespace: ns }
spec:
  publish: { port: ${port}, host: 127.0.0.1 }
  rules: [{ pathPrefix: ${prefix}, backends: ${backends} }]
---
`;

describe('wantedListeners', () => {
  it('opens one listener per published service and one router per route port, merging the routes on it', () => {
    const d = desired(svc('a', ', loadBalancer: { algorithm: consistent-hash, hashKey: "header:x-user", publish: { port: 18080 } }')
      + svc('b', ', loadBalancer: { algorithm: least-connections }') + svc('c')
      + route('r1', 18090, '/', '[{ service: b, weight: 3 }, { service: c, weight: 1 }]') + route('r2', 18090, '/api', '[{ service: a }]'));
    const w = wantedListeners(d, '0.0.0.0');
    expect([...w.keys()]).toEqual(['0.0.0.0:18080', '127.0.0.1:18090']);
    expect(w.get('0.0.0.0:18080')).toMatchObject({ kind: 'service', protocol: 'http', algorithm: 'consistent-hash', hashKey: 'header:x-user', services: ['ns/a'] });
    const r = w.get('127.0.0.1:18090')!;
    expect(r).toMatchObject({ kind: 'route', protocol: 'http', owners: ['ns/r1', 'ns/r2'], services: ['ns/b', 'ns/c', 'ns/a'] });
    expect(r.rules).toEqual([
      { pathPrefix: '/', backends: [{ service: 'ns/b', weight: 3 }, { service: 'ns/c', weight: 1 }], source: 'ns/r1 rule 0' },
      { pathPrefix: '/api', backends: [{ service: 'ns/a', weight: 1 }], source: 'ns/r2 rule 0' },
    ]);
    expect(r.pools).toEqual({ 'ns/a': { algorithm: 'consistent-hash', hashKey: 'header:x-user' }, 'ns/b': { algorithm: 'least-connections' }, 'ns/c': { algorithm: 'round-robin' } });
  });
});

function endpoint(id: string, port: number, ready = true): RegistryEndpoint {
  return { id, service: 'ns/a', node: 'local', address: '127.0.0.1', port, weight: 1, ready, source: 'replica', metadata: {} };
}

describe('ProxyManager and draining', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it('feeds registry changes to the listener and drains a replica before it goes', async () => {
    let release: () => void = () => undefined;
    const backend = http.createServer((req, res) => {
      if (req.url === '/slow') release = () => res.end('slow');
      else res.end('fast');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => { backend.closeAllConnections(); backend.close(r); }));
    const backendPort = (backend.address() as net.AddressInfo).port;
    const port = await freePort();
    const registry = new Registry();
    const manager = new ProxyManager({ registry, defaultHost: '127.0.0.1', log: silentLogger });
    closers.push(() => manager.close());
    await manager.sync(desired(svc('a', `, loadBalancer: { protocol: http, publish: { port: ${port} } }`)));
    expect(manager.list()).toMatchObject([{ address: `127.0.0.1:${port}`, backends: { 'ns/a': 0 } }]);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(502);

    registry.putReplica(endpoint('c1', backendPort));
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('fast');

    const slow = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
    expect(manager.openTo(`127.0.0.1:${backendPort}`)).toBe(1);
    const drainer = createDrainer({ registry, openTo: (a) => manager.openTo(a), timeoutMs: 5_000, pollMs: 5 });
    let drained = false;
    const draining = drainer.drain('c1').then(() => { drained = true; });
    await new Promise((r) => setTimeout(r, 50));
    expect(drained).toBe(false); // the slow request is still open
    expect(registry.ready('ns/a')).toEqual([]);
    expect(drainer.draining('c1')).toBe(true);
    release();
    expect(await slow).toBe('slow');
    await draining;
    expect(manager.openTo(`127.0.0.1:${backendPort}`)).toBe(0);

    // A new algorithm switches on the same listener: its counters carry on.
    const total = manager.list()[0]!.stats.total;
    await manager.sync(desired(svc('a', `, loadBalancer: { algorithm: least-connections, protocol: http, publish: { port: ${port} } }`)));
    expect(manager.list()[0]!.stats.total).toBe(total);
  });

  it('reports a port it cannot open and keeps the others', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => blocker.close(r)));
    const taken = (blocker.address() as net.AddressInfo).port;
    const free = await freePort();
    const manager = new ProxyManager({ registry: new Registry(), defaultHost: '127.0.0.1', log: silentLogger });
    closers.push(() => manager.close());
    await manager.sync(desired(svc('a', `, loadBalancer: { publish: { port: ${taken} } }`) + svc('b', `, loadBalancer: { publish: { port: ${free} } }`)));
    const list = manager.list();
    expect(list.find((l) => l.address === `127.0.0.1:${taken}`)?.error).toMatch(/EADDRINUSE/);
    expect(list.find((l) => l.address === `127.0.0.1:${free}`)?.error).toBeUndefined();
  });

  it("forwards a ports[].publish listener to that port of the replicas, leaving out external endpoints", async () => {
    // the external endpoint listens on 127.0.0.2: dialled on the second port it would fail (and be counted)
    const servers = await Promise.all([['first-port', '127.0.0.1'], ['second-port', '127.0.0.1'], ['external', '127.0.0.2']].map(async ([body, host]) => {
      const server = http.createServer((_req, res) => res.end(body));
      await new Promise<void>((r) => server.listen(0, host, r));
      closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
      return (server.address() as net.AddressInfo).port;
    }));
    const [first, second, external] = servers as [number, number, number];
    const [main, extra] = [await freePort(), await freePort()];
    const registry = new Registry();
    const manager = new ProxyManager({ registry, defaultHost: '127.0.0.1', log: silentLogger });
    closers.push(() => manager.close());
    const yaml = `apiVersion: berth/v1
kind: Service
metadata: { name: a, namespace: ns }
spec: { image: x, ports: [{ port: ${first} }, { port: ${second}, publish: { port: ${extra} } }], loadBalancer: { protocol: http, publish: { port: ${main} } } }
`;
    await manager.sync(desired(yaml));
    // the registry holds the replica on the service's port (loadBalancer.targetPort) and an external endpoint of its own
    registry.setDesired(['ns/a']);
    registry.setReplicas('ns/a', [endpoint('c1', first)]);
    registry.register({ service: 'ns/a', id: 'ext', address: '127.0.0.2', port: external, ttlMs: 60_000 });
    const bodies = async (port: number): Promise<string[]> => Promise.all([1, 2, 3, 4].map(async () => (await fetch(`http://127.0.0.1:${port}/`)).text()));
    expect(new Set(await bodies(main))).toEqual(new Set(['first-port', 'external']));
    expect(new Set(await bodies(extra))).toEqual(new Set(['second-port']));
    const list = manager.list();
    expect(list.map((l) => [l.address, l.backends['ns/a']])).toEqual([[`127.0.0.1:${main}`, 2], [`127.0.0.1:${extra}`, 2]].sort());
    expect(list.find((l) => l.address === `127.0.0.1:${extra}`)!.stats).toMatchObject({ total: 4, failedConnects: 0 });
  });
});
