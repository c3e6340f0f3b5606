import { describe, expect, it } from 'vitest';
import type { ServiceSpec } from '../model/manifest.ts';
import { canonicalJson, specHash } from './spec-hash.ts';
import type { SpecHashInput } from './spec-hash.ts';

function spec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    image: 'shop/web:1.4',
    pullPolicy: 'IfNotPresent',
    command: ['httpd', '-f'],
    env: { A: '1', B: '2' },
    replicas: 3,
    ports: [
      { name: 'http', port: 8080, protocol: 'tcp' },
      { port: 53, protocol: 'udp' },
    ],
    resources: { cpu: 0.25, memory: 64 * 1024 * 1024 },
    restart: { policy: 'always' },
    update: { order: 'start-first', parallelism: 1, monitorMs: 5000, failureAction: 'rollback', maxFailureRatio: 0 },
    health: {},
    volumes: [{ volume: 'data', mountPath: '/data', readOnly: false }],
    dependsOn: ['db'],
    placement: { strategy: 'spread', constraints: [], priority: 0 },
    ...overrides,
  };
}

function input(s: ServiceSpec, more: Partial<SpecHashInput> = {}): SpecHashInput {
  return { instance: 'prod', namespace: 'shop', labels: { team: 'a' }, spec: s, image: { type: 'ref', ref: s.image ?? '' }, env: s.env, network: 'berth.prod.shop', ...more };
}

describe('specHash', () => {
  const base = specHash(input(spec()));

  it('is 16 hex chars', () => {
    expect(base).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is stable across key order of env, labels and objects', () => {
    const reordered: ServiceSpec = { ...spec(), env: { B: '2', A: '1' }, resources: { memory: 64 * 1024 * 1024, cpu: 0.25 } };
    expect(specHash(input(reordered))).toBe(base);
    expect(specHash({ ...input(spec()), labels: { team: 'a' } })).toBe(base);
  });

  it('ignores the order of ports and volume mounts', () => {
    const s = spec();
    expect(specHash(input({ ...s, ports: [...s.ports].reverse() }))).toBe(base);
  });

  it('does not change with replicas, update strategy, health probes, load balancing, placement or dependsOn', () => {
    const lb = { algorithm: 'consistent-hash', hashKey: 'header:X-User', protocol: 'http', targetPort: 8080, weight: 2, publish: { port: 18080 } } as const;
    expect(specHash(input(spec({ loadBalancer: lb })))).toBe(base);
    expect(specHash(input(spec({ health: { liveness: { tcp: { port: 1 }, intervalMs: 1, timeoutMs: 1, initialDelayMs: 0, failureThreshold: 1, successThreshold: 1 } } })))).toBe(base);
    expect(specHash(input(spec({ replicas: 10 })))).toBe(base);
    expect(specHash(input(spec({ update: { order: 'stop-first', parallelism: 4, monitorMs: 1, failureAction: 'pause', maxFailureRatio: 0.5 } })))).toBe(base);
    expect(specHash(input(spec({ dependsOn: [] })))).toBe(base);
    const zone = { expr: 'node.labels.zone == a', field: { kind: 'label', key: 'zone' }, op: '==', value: 'a' } as const;
    expect(specHash(input(spec({ placement: { strategy: 'binpack', constraints: [zone], maxPerNode: 1, topologySpreadKey: 'zone', priority: 100 } })))).toBe(base);
  });

  it('hashes the effective env (discovery variables included), not spec.env alone', () => {
    expect(specHash(input(spec(), { env: { A: '1', B: '2', DB_SERVICE_HOST: 'db', DB_SERVICE_PORT: '5432' } }))).not.toBe(base);
    expect(specHash(input(spec({ env: {} })))).not.toBe(base);
    expect(specHash(input(spec({ env: {} }), { env: { A: '1', B: '2' } }))).toBe(base);
  });

  it('changes with anything that shapes the container', () => {
    const variants: SpecHashInput[] = [
      input(spec(), { env: { A: '1', B: '2', DB_SERVICE_PORT: '15432' } }),
      input(spec(), { network: 'berth.prod.other' }),
      input(spec({ env: { A: '1', B: '3' } })),
      input(spec({ env: { A: '1' } })),
      input(spec({ command: ['httpd'] })),
      input(spec({ image: 'shop/web:1.5' })),
      input(spec({ resources: { cpu: 0.5, memory: 64 * 1024 * 1024 } })),
      input(spec({ restart: { policy: 'never' } })),
      input(spec({ volumes: [{ volume: 'data', mountPath: '/data', readOnly: true }] })),
      input(spec({ ports: [{ port: 8081, protocol: 'tcp' }] })),
      input(spec(), { labels: { team: 'b' } }),
      input(spec(), { instance: 'staging' }),
    ];
    const hashes = variants.map(specHash);
    for (const h of hashes) expect(h).not.toBe(base);
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

describe('specHash and spec.securityContext', () => {
  const base = specHash(input(spec()));
  const sc = { privileged: false, capAdd: ['NET_RAW'], capDrop: [], allowPrivilegeEscalation: false };

  it('is the hash of a berth without securityContext when the manifest has none (upgrading replaces no replica)', () => {
    // Computed before the field existed; a change here would roll every replica of every instance on upgrade.
    expect(base).toBe('6e8ecc05fad0d51a');
  });

  it('changes once the manifest sets it, whatever the order of the capabilities', () => {
    const added = specHash(input(spec({ securityContext: sc })));
    expect(added).not.toBe(base);
    expect(specHash(input(spec({ securityContext: { ...sc, capAdd: ['NET_RAW', 'SYS_TIME'] } })))).toBe(specHash(input(spec({ securityContext: { ...sc, capAdd: ['SYS_TIME', 'NET_RAW'] } }))));
    const variants = [
      { ...sc, capAdd: [] },
      { ...sc, capDrop: ['MKNOD'] },
      { ...sc, allowPrivilegeEscalation: true },
      { ...sc, privileged: true, allowPrivilegeEscalation: true },
    ].map((v) => specHash(input(spec({ securityContext: v }))));
    expect(new Set([base, added, ...variants]).size).toBe(6);
  });
});

describe('canonicalJson', () => {
  it('sorts keys recursively and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});
