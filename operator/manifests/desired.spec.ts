import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../model/state.ts';
import { buildDesired } from './desired.ts';
import { parseManifests } from './parse.ts';

const api = (publish: string): string => `apiVersion: berth/v1
kind: Service
metadata: { name: api, namespace: shop }
spec:
  image: shop/api:1
  ports: [{ port: 9000 }]
  loadBalancer: { algorithm: round-robin${publish} }
`;
const web = `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { image: shop/web:1, dependsOn: [api] }
`;

function desired(...contents: string[]): DesiredState {
  const { manifests, issues } = parseManifests(contents.map((content, i) => ({ path: `m${i}.yaml`, content })));
  expect(issues).toEqual([]);
  return buildDesired('prod', 'rev', manifests, new Map());
}

const hashOf = (d: DesiredState, key: string): string | undefined => d.services.find((s) => s.key === key)?.specHash;

describe('buildDesired: networks, discovery and the spec hash', () => {
  it('puts each service on its namespace network and gives it discovery variables', () => {
    const d = desired(api(', publish: { port: 18080 }'), web);
    expect(d.networks).toEqual([{ namespace: 'shop', dockerName: 'berth.prod.shop' }]);
    expect(d.services.map((s) => s.network)).toEqual(['berth.prod.shop', 'berth.prod.shop']);
    expect(d.services.find((s) => s.key === 'shop/web')?.env).toEqual({ API_SERVICE_HOST: 'host.docker.internal', API_SERVICE_PORT: '18080' });
  });

  it("replaces dependents (not the dependency) when a dependency's published port changes", () => {
    const a = desired(api(', publish: { port: 18080 }'), web);
    const b = desired(api(', publish: { port: 18081 }'), web);
    expect(hashOf(b, 'shop/api')).toBe(hashOf(a, 'shop/api'));
    expect(hashOf(b, 'shop/web')).not.toBe(hashOf(a, 'shop/web'));
  });

  it('keeps every hash when only the placement changes', () => {
    const a = desired(api(''), web);
    const b = desired(api(''), web.replace('dependsOn: [api] }', 'dependsOn: [api], placement: { strategy: binpack, constraints: ["node.name == x"], priority: 5 } }'));
    expect(b.services.find((s) => s.key === 'shop/web')?.spec.placement.strategy).toBe('binpack');
    expect(b.services.map((s) => s.specHash)).toEqual(a.services.map((s) => s.specHash));
    expect(b.nodes).toEqual([]);
  });

  it('keeps every hash when only the load-balancing algorithm changes', () => {
    const a = desired(api(''), web);
    const b = desired(api('').replace('round-robin', 'least-connections'), web);
    expect(b.services.map((s) => s.specHash)).toEqual(a.services.map((s) => s.specHash));
  });
});
