import { describe, expect, it } from 'vitest';
import type { ObservedContainer } from '../model/state.ts';
import { Registry, RegistryError, type RegistryChange, type RegistryEndpoint } from './registry.ts';
import { replicaEndpoint } from './replica-endpoints.ts';

const SVC = 'shop/web';

function replica(id: string, ready = true, extra: Partial<RegistryEndpoint> = {}): RegistryEndpoint {
  return { id, service: SVC, replica: id, node: 'local', address: `10.0.0.${id.length}`, port: 8080, weight: 1, ready, source: 'replica', metadata: {}, ...extra };
}

function setup(options: { deregisterAfterMs?: number } = {}): { reg: Registry; clock: { t: number }; changes: RegistryChange[] } {
  const clock = { t: 1_000 };
  const reg = new Registry({ now: () => clock.t, ...options });
  reg.setDesired([SVC]); // the applied revision has shop/web
  const changes: RegistryChange[] = [];
  reg.subscribe((c) => changes.push(c));
  return { reg, clock, changes };
}

describe('Registry replicas', () => {
  it('replaces the replica endpoints of a service and lists them sorted by id', () => {
    const { reg } = setup();
    reg.setReplicas(SVC, [replica('r2'), replica('r1', false)]);
    expect(reg.endpoints(SVC).map((e) => e.id)).toEqual(['r1', 'r2']);
    reg.setReplicas(SVC, [replica('r3')]);
    expect(reg.endpoints(SVC).map((e) => e.id)).toEqual(['r3']);
  });

  it('ready() keeps only ready endpoints; services() counts both', () => {
    const { reg } = setup();
    reg.setReplicas(SVC, [replica('a'), replica('b', false), replica('c')]);
    reg.setReplicas('shop/db', []);
    expect(reg.ready(SVC).map((e) => e.id)).toEqual(['a', 'c']);
    expect(reg.services()).toEqual([
      { name: 'shop/db', endpoints: 0, ready: 0 },
      { name: SVC, endpoints: 3, ready: 2 },
    ]);
  });

  it('notifies subscribers only when endpoints change, with increasing versions', () => {
    const { reg, changes } = setup();
    reg.setReplicas(SVC, [replica('a')]);
    reg.setReplicas(SVC, [replica('a')]);
    reg.setReplicas(SVC, [{ ...replica('a'), metadata: {} }]);
    expect(changes).toHaveLength(1);
    reg.setReplicas(SVC, [replica('a', false)]);
    reg.setReplicas(SVC, [replica('a', false, { metadata: { zone: 'a' } })]);
    reg.setReplicas(SVC, [replica('a', false, { metadata: { zone: 'a' } })]);
    expect(changes.map((c) => c.service)).toEqual([SVC, SVC, SVC]);
    const versions = changes.map((c) => c.version);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(3);
    expect(reg.version(SVC)).toBe(versions[2]);
  });

  it('keeps versions growing across removal and re-creation of a service', () => {
    const { reg, changes } = setup();
    expect(reg.version(SVC)).toBe(0);
    reg.setReplicas(SVC, [replica('a')]);
    const v1 = reg.version(SVC);
    expect(reg.removeService(SVC)).toBe(true);
    expect(reg.removeService(SVC)).toBe(false);
    const v2 = reg.version(SVC);
    expect(reg.has(SVC)).toBe(false);
    expect(reg.endpoints(SVC)).toEqual([]);
    reg.setReplicas(SVC, []);
    expect(v2).toBeGreaterThan(v1);
    expect(reg.version(SVC)).toBeGreaterThan(v2);
    expect(changes).toHaveLength(3);
  });

  it('returns copies: mutating a result does not change the registry', () => {
    const { reg } = setup();
    reg.setReplicas(SVC, [replica('a')]);
    const [e] = reg.endpoints(SVC);
    e!.ready = false;
    e!.metadata.x = 'y';
    expect(reg.endpoints(SVC)[0]).toMatchObject({ ready: true, metadata: {} });
  });

  it('unsubscribe stops notifications; a throwing subscriber does not stop the others', () => {
    const errors: unknown[] = [];
    const reg = new Registry({ now: () => 0, onSubscriberError: (e) => errors.push(e) });
    const seen: number[] = [];
    reg.subscribe(() => { throw new Error('boom'); });
    const off = reg.subscribe((c) => seen.push(c.version));
    reg.setReplicas(SVC, [replica('a')]);
    off();
    reg.setReplicas(SVC, [replica('b')]);
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(2);
  });
});

describe('Registry external endpoints (TTL checks)', () => {
  const ext = { service: SVC, id: 'ext-1', address: '192.0.2.1', port: 9000, ttlMs: 10_000 };

  it('registers a passing, ready endpoint next to the replicas', () => {
    const { reg } = setup();
    reg.setReplicas(SVC, [replica('a')]);
    const e = reg.register({ ...ext, weight: 3, metadata: { dc: 'x' } });
    expect(e).toMatchObject({ source: 'external', status: 'passing', ready: true, weight: 3, lastHeartbeat: 1_000, node: 'external' });
    expect(reg.ready(SVC).map((x) => x.id)).toEqual(['a', 'ext-1']);
    reg.setReplicas(SVC, []);
    expect(reg.endpoints(SVC).map((x) => x.id)).toEqual(['ext-1']);
  });

  it('marks a silent endpoint critical after its TTL, then removes it after deregisterAfterMs', () => {
    const { reg, clock, changes } = setup({ deregisterAfterMs: 30_000 });
    reg.register(ext);
    const afterRegister = changes.length;
    clock.t += 10_000;
    reg.tick();
    expect(reg.endpoints(SVC)[0]).toMatchObject({ status: 'passing', ready: true });
    clock.t += 1;
    reg.tick();
    expect(reg.endpoints(SVC)[0]).toMatchObject({ status: 'critical', ready: false });
    expect(reg.ready(SVC)).toEqual([]);
    reg.tick(clock.t + 5_000);
    expect(changes).toHaveLength(afterRegister + 1);
    reg.tick(1_000 + 40_000);
    expect(reg.endpoints(SVC)).toHaveLength(1);
    reg.tick(1_000 + 40_001);
    expect(reg.endpoints(SVC)).toEqual([]);
    expect(changes).toHaveLength(afterRegister + 2);
  });

  it('defaults deregisterAfterMs to 10 x the TTL', () => {
    const { reg } = setup();
    reg.register(ext);
    reg.tick(1_000 + 110_000);
    expect(reg.endpoints(SVC)).toHaveLength(1);
    reg.tick(1_000 + 110_001);
    expect(reg.endpoints(SVC)).toHaveLength(0);
  });

  it('heartbeats keep an endpoint passing and revive a critical one; silent heartbeats do not notify', () => {
    const { reg, clock, changes } = setup();
    reg.register(ext);
    const n = changes.length;
    clock.t += 8_000;
    expect(reg.heartbeat(SVC, 'ext-1')).toBe(true);
    clock.t += 8_000;
    reg.tick();
    expect(reg.ready(SVC)).toHaveLength(1);
    expect(changes).toHaveLength(n);
    clock.t += 20_000;
    reg.tick();
    expect(reg.ready(SVC)).toHaveLength(0);
    expect(reg.heartbeat(SVC, 'ext-1')).toBe(true);
    expect(reg.endpoints(SVC)[0]).toMatchObject({ status: 'passing', ready: true, lastHeartbeat: clock.t });
    expect(changes).toHaveLength(n + 2);
    expect(reg.heartbeat(SVC, 'nope')).toBe(false);
    expect(reg.heartbeat('shop/none', 'ext-1')).toBe(false);
  });

  it('re-registering the same endpoint unchanged does not notify; deregister removes it', () => {
    const { reg, changes } = setup();
    reg.register(ext);
    reg.register(ext);
    expect(changes).toHaveLength(1);
    reg.register({ ...ext, port: 9001 });
    expect(changes).toHaveLength(2);
    expect(reg.deregister(SVC, 'ext-1')).toBe(true);
    expect(reg.deregister(SVC, 'ext-1')).toBe(false);
    expect(changes).toHaveLength(3);
  });

  it('rejects invalid registrations and ids taken by replicas', () => {
    const { reg } = setup();
    reg.setReplicas(SVC, [replica('a')]);
    expect(() => reg.register({ ...ext, id: 'a' })).toThrow(RegistryError);
    for (const bad of [{ port: 0 }, { port: 70_000 }, { ttlMs: 0 }, { weight: 0 }, { address: '' }, { id: '' }]) {
      expect(() => reg.register({ ...ext, ...bad })).toThrow(RegistryError);
    }
    expect(reg.endpoints(SVC).map((e) => e.id)).toEqual(['a']);
  });
});

describe('replica endpoints glue', () => {
  const container = {
    id: 'c1', name: 'x', labels: { 'berth.namespace': 'shop', 'berth.service': 'web', 'berth.replica': '0' }, status: 'running',
    exitCode: 0, imageId: 'sha256:1', address: '172.17.0.2', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0,
    createdAt: '2026-01-01T00:00:00Z',
  } as unknown as ObservedContainer;

  it('builds a registry endpoint from container labels and health', () => {
    expect(replicaEndpoint(container, { ready: false }, { node: 'n1', port: 8080 })).toEqual({
      id: 'c1', service: SVC, replica: '0', node: 'n1', address: '172.17.0.2', port: 8080, weight: 1, ready: false, source: 'replica', metadata: {},
    });
    expect(replicaEndpoint({ ...container, address: undefined }, { ready: true }, { node: 'n1', port: 80 })).toBeUndefined();
    expect(replicaEndpoint({ ...container, labels: {} }, { ready: true }, { node: 'n1', port: 80 })).toBeUndefined();
  });
});

describe('Registry external endpoints: bounds', () => {
  const ext = { service: SVC, id: 'ext-1', address: '192.0.2.1', port: 9000, ttlMs: 10_000 };
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return err instanceof RegistryError ? err.reason : String(err);
    }
  };

  it('accepts external endpoints only for services of the applied revision', () => {
    const reg = new Registry({ now: () => 0 });
    expect(code(() => reg.register(ext))).toBe('not-ready');
    reg.setDesired(['shop/db']);
    expect(code(() => reg.register(ext))).toBe('unknown-service');
    expect(code(() => reg.register({ ...ext, service: 'evil/x'.repeat(10) }))).toBe('unknown-service');
    expect(reg.has(SVC)).toBe(false);
    reg.setDesired([SVC]);
    expect(code(() => reg.register(ext))).toBeUndefined();
  });

  it('caps the external endpoints of a service; re-registering one of them still works', () => {
    const { reg } = setup();
    for (let i = 0; i < 256; i++) reg.register({ ...ext, id: `e${i}` });
    expect(code(() => reg.register({ ...ext, id: 'one-more' }))).toBe('limit');
    expect(code(() => reg.register({ ...ext, id: 'e7', port: 9001 }))).toBeUndefined();
    reg.deregister(SVC, 'e0');
    expect(code(() => reg.register({ ...ext, id: 'one-more' }))).toBeUndefined();
    expect(reg.stats().externals).toBe(256);
  });

  it('bounds ids, addresses, TTLs and metadata', () => {
    const { reg } = setup();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const wide = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'x'.repeat(500)]));
    for (const bad of [
      { id: 'x'.repeat(129) }, { id: 'a/b' }, { id: '-a' },
      { address: 'not an address' }, { address: '0.0.0.0' }, { address: '::' }, { address: `${'a'.repeat(63)}.`.repeat(5) }, { address: '1.2.3.999' },
      { ttlMs: 999 }, { ttlMs: 24 * 3_600_000 + 1 }, { ttlMs: 999_999 * 3_600_000 },
      { metadata: many }, { metadata: wide }, { metadata: { 'bad key': 'v' } }, { metadata: { k: 'x'.repeat(513) } },
    ]) {
      expect(code(() => reg.register({ ...ext, ...bad })), JSON.stringify(bad).slice(0, 80)).toBe('invalid');
    }
    for (const good of [{ address: 'db.internal' }, { address: '2001:db8::1' }, { address: 'localhost' }, { ttlMs: 1_000 }, { ttlMs: 24 * 3_600_000 },
      { metadata: { 'app.kubernetes.io/name': 'db', zone: 'a' } }, { id: `a${'b'.repeat(127)}` }]) {
      expect(code(() => reg.register({ ...ext, ...good })), JSON.stringify(good)).toBeUndefined();
    }
  });

  it('keeps nothing of deleted endpoints, nor of a service that left the revision', () => {
    const { reg } = setup();
    const metadata = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, 'm'.repeat(400)]));
    const before = reg.stats();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 256; i++) reg.register({ ...ext, id: `r${round}-${i}`, metadata });
      for (let i = 0; i < 256; i++) expect(reg.deregister(SVC, `r${round}-${i}`)).toBe(true);
    }
    expect(reg.stats()).toEqual({ ...before, services: 1, versions: 1 });
    for (let i = 0; i < 10; i++) reg.register({ ...ext, id: `left-${i}`, metadata });
    reg.setDesired([]);
    reg.removeService(SVC);
    expect(reg.stats()).toMatchObject({ services: 0, replicas: 0, externals: 0 });
  });
});
