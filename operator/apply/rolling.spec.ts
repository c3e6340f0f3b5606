import { describe, expect, it } from 'vitest';
import type { ReplaceAction } from '../model/plan.ts';
import type { DesiredService, ObservedContainer } from '../model/state.ts';
import { rollingUpdate, type Gate, type RollingCtx } from './rolling.ts';

function svc(update: Partial<DesiredService['spec']['update']> = {}): DesiredService {
  return {
    key: 'ns/web', namespace: 'ns', name: 'web', labels: {}, specHash: 'new', image: { type: 'ref', ref: 'img' }, source: { file: 'w.yaml', line: 1, col: 1 },
    network: 'berth.t.ns', env: {},
    spec: { env: {}, pullPolicy: 'IfNotPresent', replicas: 3, ports: [], resources: {}, restart: { policy: 'always' }, health: {}, volumes: [], dependsOn: [], placement: { strategy: 'spread', constraints: [], priority: 0 },
      update: { order: 'start-first', parallelism: 1, monitorMs: 10, failureAction: 'rollback', maxFailureRatio: 0, ...update } },
  };
}

const old = (n: number): ObservedContainer => ({ id: `old${n}`, name: `old${n}`, labels: { 'berth.spec-hash': 'old' }, status: 'running', exitCode: 0, imageId: 'x', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0, createdAt: '' });
const actions = (s: DesiredService, n: number): ReplaceAction[] => Array.from({ length: n }, (_, i) => ({ type: 'replace', service: s.key, replica: i + 1, desired: s, old: old(i + 1), reason: 'spec changed', cause: 'change' }));

function harness(failing: Set<string> = new Set(), holdFail: Set<string> = new Set()) {
  const log: string[] = [];
  const gate: Gate = {
    async ready(id) { log.push(`ready ${id}`); return failing.has(id) ? { ok: false, reason: 'readiness: HTTP 500' } : { ok: true, reason: 'ready' }; },
    async hold(id) { await new Promise((r) => setTimeout(r, 5)); log.push(`held ${id}`); return holdFail.has(id) ? { ok: false, reason: 'liveness' } : { ok: true, reason: 'held' }; },
  };
  const ctx: RollingCtx = {
    gate,
    async start(_s, replica) { log.push(`start new${replica}`); return `new${replica}`; },
    async remove(id) { log.push(`remove ${id}`); },
    async rename(id, name) { log.push(`rename ${id} ${name}`); },
    record() { /* outcomes are not under test here */ },
  };
  return { ctx, log };
}

describe('rollingUpdate', () => {
  it('start-first: starts the next replica while the previous one is in its monitor window, removes its old one after', async () => {
    const s = svc();
    const { ctx, log } = harness();
    expect(await rollingUpdate(ctx, actions(s, 2))).toBeNull();
    expect(log).toEqual(['start new1', 'ready new1', 'remove old1', 'start new2', 'ready new2', 'held new1', 'remove old2', 'held new2']);
  });

  it('rolls back on the first failure with maxFailureRatio 0, leaving the remaining old replicas', async () => {
    const s = svc();
    const { ctx, log } = harness(new Set(['new2']));
    expect(await rollingUpdate(ctx, actions(s, 3))).toEqual({ service: 'ns/web', action: 'rollback', failed: 1, total: 3, reason: 'ns/web #2 failed: readiness: HTTP 500' });
    expect(log).not.toContain('remove old2');
    expect(log).not.toContain('start new3');
    expect(log).toContain('remove new2');
  });

  it('continue goes on and reports; a ratio allows some failures', async () => {
    const { ctx, log } = harness(new Set(['new1']));
    expect(await rollingUpdate(ctx, actions(svc({ failureAction: 'continue' }), 3))).toMatchObject({ action: 'continue', failed: 1 });
    expect(log).toContain('start new3');
    const h = harness(new Set(['new1']));
    expect(await rollingUpdate(h.ctx, actions(svc({ maxFailureRatio: 0.5 }), 3))).toBeNull();
  });

  it('a same-spec replacement (healing) renames the old container, starts the new one, then removes the old', async () => {
    const s = svc();
    const heal: ReplaceAction = { type: 'replace', service: s.key, replica: 1, desired: s, old: { ...old(1), labels: { 'berth.spec-hash': 'new' } }, reason: 'liveness', cause: 'heal' };
    const { ctx, log } = harness();
    expect(await rollingUpdate(ctx, [heal])).toBeNull();
    expect(log).toEqual(['rename old1 old1.replaced', 'start new1', 'remove old1']);
  });

  it('a failure during the monitor window counts too', async () => {
    const { ctx } = harness(new Set(), new Set(['new1']));
    expect(await rollingUpdate(ctx, actions(svc({ failureAction: 'pause' }), 2))).toMatchObject({ action: 'pause', reason: 'ns/web #1 failed: liveness' });
  });
});
