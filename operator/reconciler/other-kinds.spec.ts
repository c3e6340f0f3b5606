/**
 * A container berth made for another kind (berth.kind: Job) that carries the same namespace/service labels as a
 * Service replica: the Service pass never reads it as a replica (registry, health targets, garbage-collection keep
 * set, status, evictions), while its memory and requests still count as load on its node.
 */
import { describe, expect, it } from 'vitest';
import { LABELS } from '../model/keys.ts';
import type { PlacementSpec } from '../model/manifest.ts';
import type { Plan } from '../model/plan.ts';
import type { DesiredService, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import { Registry } from '../registry/registry.ts';
import { syncRegistry, syncReplica } from '../registry/sync.ts';
import { buildStatus } from '../status/report.ts';
import { placeCreates } from './placement.ts';
import { pressureEvictions } from './pressure.ts';
import { currentReplicas } from './replicas.ts';
import { node } from '../../test/doubles/scheduler-fixtures.ts';

const Gi = 1024 ** 3;
const placement: PlacementSpec = { strategy: 'spread', constraints: [], priority: 0 };
const svc = {
  key: 'shop/web', namespace: 'shop', name: 'web', specHash: 'h1', image: { type: 'pull', ref: 'web:1' },
  spec: { replicas: 2, ports: [{ name: 'http', port: 8080, protocol: 'tcp' }], placement, resources: { cpu: 1, memory: Gi } },
} as unknown as DesiredService;
const desired: DesiredState = { revision: 'rev1234567', services: [svc], volumes: [], networks: [], routes: [], nodes: [] };

function container(name: string, replica: string, kind: string | undefined, more: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `id-${name}`, name, status: 'running', exitCode: 0, imageId: 'sha256:aaa', address: '10.0.0.9', node: 'n1',
    labels: { [LABELS.managed]: 'true', [LABELS.instance]: 'unit', [LABELS.namespace]: 'shop', [LABELS.service]: 'web', [LABELS.replica]: replica, [LABELS.specHash]: 'h1', ...(kind ? { [LABELS.kind]: kind } : {}) },
    command: [], env: {}, restartPolicy: 'no', nanoCpus: 2e9, memory: 3 * Gi, createdAt: '2026-01-01T00:00:00Z', ...more,
  };
}

const replica = container('berth.unit.shop.web.1.aaa', '1', 'Service');
const job = container('berth.unit.shop.web-job.1.bbb', '2', 'Job');
const observed: ObservedState = { containers: [replica, job], volumes: [], networks: [], images: {} };

describe('containers of another kind are not Service replicas', () => {
  it('the registry lists only Service replicas as endpoints', () => {
    const reg = new Registry({ now: () => 0 });
    syncRegistry(reg, desired, observed, () => undefined);
    syncReplica(reg, job, svc, { ready: true });
    expect(reg.endpoints('shop/web').map((e) => e.id)).toEqual([replica.id]);
  });

  it('garbage collection keeps only Service replicas as current', () => {
    expect([...currentReplicas(desired, observed)]).toEqual([replica.id]);
  });

  it('the status counts only Service replicas', () => {
    const doc = buildStatus({
      instance: 'unit', source: { repo: 'r', branch: 'main', path: '.' }, appliedRevision: desired.revision, latestRevision: desired.revision,
      desired, observed, pending: null, error: null, errorRevision: null, now: '2026-01-01T00:00:00Z', previous: null,
    });
    expect(doc.services['shop/web']?.replicas.map((r) => r.container)).toEqual([replica.name]);
    expect(doc.services['shop/web']).toMatchObject({ desired: 2, running: 1, ready: 1 });
  });

  it('memory pressure counts the other container but stops only Service replicas', () => {
    const nodes = [node('n1', {}, 8, 4 * Gi)];
    const usage = { [replica.id]: 1 * Gi, [job.id]: 3 * Gi };
    const p = pressureEvictions({ nodes, observed, desired, usage, highMark: 0.9 });
    expect(p.pressured.has('n1')).toBe(true);
    expect(p.actions.map((a) => a.container.id)).toEqual([replica.id]);
  });

  it('placement counts the other container as load and never evicts it', () => {
    const nodes = [node('n1', {}, 4, 3.5 * Gi)];
    const create = { type: 'create' as const, service: 'shop/web', replica: 2, desired: { ...svc, spec: { ...svc.spec, placement: { ...placement, priority: 1000 } } }, reason: 'replica 2 missing', cause: 'change' as const };
    const plan: Plan = { revision: desired.revision, actions: [create] };
    const lone: ObservedState = { ...observed, containers: [job] };
    const r = placeCreates(plan, desired, lone, nodes, new Set());
    expect(r.plan.actions.filter((a) => a.type === 'remove')).toEqual([]);
    expect(r.waiting.map((a) => a.replica)).toEqual([2]);
  });
});
