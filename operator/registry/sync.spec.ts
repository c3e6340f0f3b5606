import { describe, expect, it } from 'vitest';
import type { DesiredService, DesiredState, ObservedState } from '../model/state.ts';
import { Registry } from './registry.ts';
import { syncRegistry } from './sync.ts';

const svc = (key: string): DesiredService => {
  const [namespace, name] = key.split('/') as [string, string];
  return { key, namespace, name, spec: { ports: [{ name: 'http', port: 8080, protocol: 'tcp' }] } } as unknown as DesiredService;
};
const desired = (...keys: string[]): DesiredState => ({ revision: 'r', services: keys.map(svc), volumes: [], networks: [], routes: [], nodes: [] });
const observed: ObservedState = { containers: [], volumes: [], networks: [], images: {} };
const ext = { id: 'e1', address: '192.0.2.1', port: 9000, ttlMs: 10_000 };

describe('syncRegistry', () => {
  it('opens external registration to the services of the applied revision only', () => {
    const reg = new Registry({ now: () => 0 });
    syncRegistry(reg, desired('shop/web'), observed, () => undefined);
    expect(() => reg.register({ ...ext, service: 'shop/web' })).not.toThrow();
    expect(() => reg.register({ ...ext, service: 'shop/other' })).toThrow(/not in the applied revision/);
  });

  it('drops a service that left the revision, its external endpoints included', () => {
    const reg = new Registry({ now: () => 0 });
    syncRegistry(reg, desired('shop/web', 'shop/db'), observed, () => undefined);
    reg.register({ ...ext, service: 'shop/db' });
    syncRegistry(reg, desired('shop/web'), observed, () => undefined);
    expect(reg.has('shop/db')).toBe(false);
    expect(reg.stats()).toMatchObject({ services: 1, externals: 0 });
    expect(() => reg.register({ ...ext, service: 'shop/db' })).toThrow(/not in the applied revision/);
  });
});
