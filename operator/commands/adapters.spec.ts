import { describe, expect, it } from 'vitest';
import type { ReplicaHealth } from '../health/health.ts';
import type { HealthChange, HealthMonitor } from '../health/monitor.ts';
import type { DesiredService, ObservedContainer } from '../model/state.ts';
import { createDrainer } from '../proxy/drain.ts';
import { Registry } from '../registry/registry.ts';
import { registryListener } from './adapters.ts';

const START = Date.parse('2026-01-01T00:00:10Z');
const svc = { key: 'ns/web', namespace: 'ns', name: 'web', spec: { ports: [{ name: 'http', port: 80, protocol: 'tcp' }] } } as unknown as DesiredService;
const container = (id: string, startedAt: string): ObservedContainer => ({
  id, name: id, status: 'running', address: '10.0.0.2', startedAt, exitCode: 0, imageId: 'i', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0, createdAt: startedAt,
  labels: { 'berth.managed': 'true', 'berth.namespace': 'ns', 'berth.service': 'web', 'berth.replica': '0', 'berth.spec-hash': 'h' },
});
const progressing: ReplicaHealth = { health: 'Progressing', started: true, ready: false, live: true, message: 'not probed yet' };
const failing: ReplicaHealth = { health: 'Degraded', started: true, ready: false, live: true, message: 'readiness failed' };
const change = (c: ObservedContainer, before: ReplicaHealth | undefined, after: ReplicaHealth): HealthChange =>
  ({ containerId: c.id, name: c.name, service: 'ns/web', replica: '0', before, after, container: c, desired: svc });

function setup() {
  const registry = new Registry();
  const drainer = createDrainer({ registry, openTo: () => 0, timeoutMs: 10 });
  const monitor = { health: () => undefined } as unknown as HealthMonitor;
  return { registry, l: registryListener(registry, drainer, monitor, START) };
}

describe('registryListener', () => {
  it('keeps a replica that ran before the operator started ready until its first probe verdict', () => {
    const { registry, l } = setup();
    const old = container('old', '2026-01-01T00:00:00Z');
    l.onHealthChange(change(old, undefined, progressing));
    expect(registry.ready('ns/web').map((e) => e.id)).toEqual(['old']);
    l.onHealthChange(change(old, progressing, failing));
    expect(registry.ready('ns/web')).toEqual([]);
  });

  it('keeps a replica started after the operator out of the load balancers until it is ready', () => {
    const { registry, l } = setup();
    l.onHealthChange(change(container('new', '2026-01-01T00:00:20Z'), undefined, progressing));
    expect(registry.endpoints('ns/web')).toMatchObject([{ id: 'new', ready: false }]);
  });
});
