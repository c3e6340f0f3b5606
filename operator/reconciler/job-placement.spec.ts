/**
 * Job attempts are placed by the scheduler like Service replicas (placement.ts, through planPass): constraints,
 * resources, spread, nodes not ready excluded; an attempt that fits nowhere waits (status message, not a failure); a
 * created attempt starts where it is; attempts on a lost node are lost (a new attempt elsewhere, not counted as failed),
 * on an unknown node left alone. Pure: desired state, observed containers and nodes in, plan and statuses out.
 */
import { describe, expect, it } from 'vitest';
import { LABELS } from '../model/keys.ts';
import type { JobSpec, PlacementSpec } from '../model/manifest.ts';
import type { Action, RunJobAction } from '../model/plan.ts';
import type { DesiredCronJob, DesiredJob, DesiredNode, DesiredService, DesiredState, ObservedContainer } from '../model/state.ts';
import { JOB_STATUS } from '../manifests/kinds/job/status.ts';
import { CRONJOB_STATUS } from '../manifests/kinds/cronjob/status.ts';
import type { CronJobStatus } from '../jobs/cron-plan.ts';
import { constraint, Gi, node } from '../../test/doubles/scheduler-fixtures.ts';
import type { SchedNode } from '../scheduler/types.ts';
import { placeCreates } from './placement.ts';
import { planPass, type PassPlan } from './plan-pass.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const HASH = 'aaaabbbbccccdddd0000';
const RUN = HASH.slice(0, 16);
const spread: PlacementSpec = { strategy: 'spread', constraints: [], priority: 0 };

function job(spec: Partial<JobSpec> = {}): DesiredJob {
  return {
    key: 'shop/work', namespace: 'shop', name: 'work', labels: {},
    spec: { completions: 4, parallelism: 2, backoffLimit: 6, resources: {}, placement: spread, ...spec } as JobSpec,
    image: { type: 'ref', ref: 'busybox:1' }, specHash: HASH, network: 'berth.t.shop', env: {},
    source: { file: 'job.yaml', line: 1, col: 1 },
  };
}

interface C { completion: number; attempt?: number; status?: ObservedContainer['status']; exit?: number; node: string; started?: number; finished?: number }
function attempt(c: C): ObservedContainer {
  const attemptNo = c.attempt ?? 1;
  return {
    id: `id-${c.completion}-${attemptNo}`, name: `berth.t.shop.work.job-${RUN}.${c.completion}.${attemptNo}`, node: c.node,
    labels: { [LABELS.managed]: 'true', [LABELS.instance]: 't', [LABELS.kind]: 'Job', [LABELS.namespace]: 'shop', [LABELS.job]: 'work', [LABELS.run]: RUN, [LABELS.completion]: String(c.completion), [LABELS.attempt]: String(attemptNo) },
    status: c.status ?? 'running', exitCode: c.exit ?? 0, imageId: 'sha256:x', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0,
    createdAt: at(c.started ?? 0), startedAt: at(c.started ?? 0), ...(c.finished !== undefined ? { finishedAt: at(c.finished) } : {}),
  };
}

/** A Service replica holding `memory` on `nodeName`. */
function replica(nodeName: string, memory: number): ObservedContainer {
  return {
    id: `id-web-${nodeName}`, name: `berth.t.shop.web.1.${nodeName}`, node: nodeName, status: 'running', exitCode: 0, imageId: 'sha256:y',
    labels: { [LABELS.managed]: 'true', [LABELS.instance]: 't', [LABELS.kind]: 'Service', [LABELS.namespace]: 'shop', [LABELS.service]: 'web', [LABELS.replica]: '1', [LABELS.specHash]: 'h' },
    command: [], env: {}, restartPolicy: 'always', nanoCpus: 0, memory, createdAt: at(0),
  };
}

const TWO = [node('n1', { zone: 'a' }, 4, 8 * Gi), node('n2', { zone: 'b' }, 4, 8 * Gi)];

function pass(j: DesiredJob, containers: ObservedContainer[], o: { nodes?: SchedNode[]; unreachable?: string[]; lost?: string[]; nowS?: number } = {}): PassPlan & { runs: RunJobAction[]; where: string[] } {
  const desired: DesiredState = { revision: 'rev1234567', services: [], volumes: [], networks: [], routes: [], nodes: [{ name: 'n1' }, { name: 'n2' }] as unknown as DesiredNode[], jobs: [j] };
  const lost = new Set(o.lost ?? []);
  const p = planPass({
    desired, observed: { containers, volumes: [], networks: [{ name: 'berth.t.shop', id: 'n', labels: {} } as never], images: {} }, instance: 't', applied: new Map(), drift: 'correct',
    now: T0 + (o.nowS ?? 100) * 1000, cluster: { nodes: o.nodes ?? TWO, unreachable: new Set([...(o.unreachable ?? []), ...lost]), lost },
  });
  const runs = p.plan.actions.filter((a): a is RunJobAction => a.type === 'run-job');
  return { ...p, runs, where: runs.map((a) => `${a.completion}.${a.attempt}@${a.node ?? '-'}`) };
}

const statusOf = (j: DesiredJob, containers: ObservedContainer[], unschedulable?: Map<string, string>, lost?: string[]) => JOB_STATUS.report({
  desired: { revision: 'r', services: [], volumes: [], networks: [], routes: [], nodes: [], jobs: [j] }, containers, multiNode: true, now: T0 + 100_000,
  ...(unschedulable ? { unschedulable } : {}), ...(lost ? { lostNodes: new Set(lost) } : {}),
})[j.key]!;

const kinds = (actions: Action[]) => actions.map((a) => (a.type === 'run-job' ? `run ${a.completion}.${a.attempt}@${a.node ?? '-'}` : a.type === 'stop-job' ? `stop ${a.container.name.split('.').slice(-2).join('.')}` : a.type));

describe('placement of Job attempts', () => {
  it('spreads a run over the nodes, counting the run\'s running attempts and not its finished ones', () => {
    expect(pass(job(), []).where).toEqual(['1.1@n1', '2.1@n2']);
    // Completion 1 runs on n1, 2 succeeded on n2 (it takes no room any more): the next attempt goes to n2.
    const p = pass(job(), [attempt({ completion: 1, node: 'n1' }), attempt({ completion: 2, node: 'n2', status: 'exited', exit: 0, finished: 50 })]);
    expect(p.where).toEqual(['3.1@n2']);
    expect(p.runs[0]!.reason).toMatch(/completion 3\/4 on node n2$/);
  });

  it('honours constraints, resources and nodes that are not ready; a retry may go to another node', () => {
    const zoneB = { ...spread, constraints: [constraint('node.labels.zone == b')] };
    expect(pass(job({ placement: zoneB }), []).where).toEqual(['1.1@n2', '2.1@n2']);
    // 7 GiB of n1 used by a Service replica: a 2 GiB attempt fits on n2 only.
    expect(pass(job({ parallelism: 1, resources: { memory: 2 * Gi } }), [replica('n1', 7 * Gi)]).where).toEqual(['1.1@n2']);
    expect(pass(job(), [], { nodes: [TWO[0]!, { ...TWO[1]!, ready: false }], unreachable: ['n2'] }).where).toEqual(['1.1@n1', '2.1@n1']);
    // Attempt 1 of completion 1 failed on n1 while completion 2 runs there: the retry goes to n2.
    const retry = pass(job({ parallelism: 2 }), [attempt({ completion: 1, node: 'n1', status: 'exited', exit: 1, finished: 10 }), attempt({ completion: 2, node: 'n1' })]);
    expect(retry.where).toEqual(['1.2@n2']);
  });

  it('a Job of a higher priority preempts a lower Service replica, as a replica would; its own attempts are never evicted', () => {
    const one = [node('n1', {}, 4, 8 * Gi)];
    const p = pass(job({ parallelism: 1, resources: { memory: 4 * Gi }, placement: { ...spread, priority: 100 } }), [replica('n1', 6 * Gi)], { nodes: one });
    expect(p.where).toEqual(['1.1@n1']);
    // (The replica's Service is not in this revision: diff prunes it too; the eviction is the scheduler's.)
    expect(p.plan.actions.filter((a) => a.type === 'remove' && a.cause === 'heal')).toMatchObject([{ container: { id: 'id-web-n1' }, reason: `preempted by job shop/work run ${RUN} #1 (priority 100 > 0)` }]);
    // A running attempt holds its room: a Service replica cannot evict it (it waits instead).
    const web = { key: 'shop/web', namespace: 'shop', name: 'web', spec: { resources: { memory: 6 * Gi }, placement: { ...spread, priority: 1000 } } } as unknown as DesiredService;
    const create: Action = { type: 'create', service: 'shop/web', replica: 2, desired: web, reason: 'replica 2 missing', cause: 'change' };
    const r = placeCreates({ revision: 'r', actions: [create] }, { revision: 'r', services: [web], volumes: [], networks: [], routes: [], nodes: [] }, { containers: [{ ...attempt({ completion: 1, node: 'n1' }), memory: 4 * Gi }], volumes: [], networks: [], images: {} }, one, new Set());
    expect(r.plan.actions).toEqual([]);
    expect(r.waiting).toHaveLength(1);
  });

  it('an attempt that fits on no node waits: left out of the plan, still pending, explained, never a failed attempt', () => {
    const p = pass(job({ placement: { ...spread, constraints: [constraint('node.labels.zone == c')] } }), []);
    expect(p.runs).toEqual([]);
    expect(p.waitingJobs.map((a) => a.completion)).toEqual([1, 2]);
    expect(p.pending.actions.filter((a) => a.type === 'run-job')).toHaveLength(2);
    expect(p.unschedulable.get('shop/work')).toBe('2 attempt(s) pending: 0/2 nodes available: 2 node.labels.zone == c not met');
    const st = statusOf(job(), [], p.unschedulable);
    expect(st).toMatchObject({ phase: 'Pending', failed: 0, message: '2 attempt(s) pending: 0/2 nodes available: 2 node.labels.zone == c not met' });
    // A run under way keeps its progress in the message.
    const running = statusOf(job(), [attempt({ completion: 1, node: 'n1' })], new Map([['shop/work', '1 attempt(s) pending: 0/2 nodes available: 2 insufficient memory']]));
    expect(running.message).toBe('running: 0/4 completions; 1 attempt(s) pending: 0/2 nodes available: 2 insufficient memory');
  });

  it('a created attempt is started on its own node, never placed again', () => {
    const p = pass(job({ parallelism: 1 }), [attempt({ completion: 1, node: 'n2', status: 'created' })]);
    expect(p.where).toEqual(['1.1@n2']);
    expect(p.runs[0]!.reason).toBe(`berth.t.shop.work.job-${RUN}.1.1 was created but never started`);
  });

  it('status shows the node of each attempt', () => {
    const st = statusOf(job(), [attempt({ completion: 1, node: 'n1', status: 'exited', finished: 5 }), attempt({ completion: 2, node: 'n2' })]);
    expect(st.attempts.map((a) => [a.completion, a.state, a.node])).toEqual([[1, 'succeeded', 'n1'], [2, 'running', 'n2']]);
  });

  it('an unknown node: its attempt is left alone and still counts as under way (no duplicate start)', () => {
    const p = pass(job({ completions: 1, parallelism: 1 }), [attempt({ completion: 1, node: 'n1' })], { nodes: [{ ...TWO[0]!, ready: false }, TWO[1]!], unreachable: ['n1'] });
    expect(kinds(p.plan.actions)).toEqual([]);
    expect(statusOf(job({ completions: 1, parallelism: 1 }), [attempt({ completion: 1, node: 'n1' })])).toMatchObject({ phase: 'Running', failed: 0 });
  });

  it('a lost node (NotReady past its grace): the attempt is lost, replaced on another node at once, not counted as failed; once back, the old one is stopped', () => {
    const j = job({ completions: 1, parallelism: 1 });
    const old = attempt({ completion: 1, node: 'n1' });
    const down = [{ ...TWO[0]!, ready: false }, TWO[1]!];
    const p = pass(j, [old], { nodes: down, lost: ['n1'] });
    expect(p.where).toEqual(['1.2@n2']);
    expect(p.runs[0]!.reason).toContain('attempt 1 was lost with node n1');
    const st = statusOf(j, [old], undefined, ['n1']);
    expect(st).toMatchObject({ failed: 0 });
    expect(st.attempts.map((a) => a.state)).toEqual(['lost']);
    // n1 answers again: attempt 1 still runs there, attempt 2 runs on n2. The older one is stopped, nothing new starts.
    const back = pass(j, [old, attempt({ completion: 1, attempt: 2, node: 'n2' })]);
    expect(kinds(back.plan.actions)).toEqual(['stop 1.1']);
    // Stopped, it exited 143 after attempt 2 was created: lost, not failed (backoffLimit 0 would otherwise fail the Job).
    const stopped = [attempt({ completion: 1, node: 'n1', status: 'exited', exit: 143, started: 0, finished: 60 }), attempt({ completion: 1, attempt: 2, node: 'n2', started: 30 })];
    const after = statusOf(job({ completions: 1, parallelism: 1, backoffLimit: 0 }), stopped);
    expect(after).toMatchObject({ phase: 'Running', failed: 0 });
    expect(after.attempts.map((a) => [a.attempt, a.state])).toEqual([[1, 'lost'], [2, 'running']]);
    // A genuine failure (before the retry was created) still counts.
    expect(statusOf(job({ completions: 1, parallelism: 1, backoffLimit: 0 }), [attempt({ completion: 1, node: 'n1', status: 'exited', exit: 1, finished: 20 }), attempt({ completion: 1, attempt: 2, node: 'n2', started: 30 })])).toMatchObject({ phase: 'Failed', failed: 1 });
  });

  it('a CronJob run whose attempt fits nowhere is recorded Pending and started by a later pass, once a node fits', () => {
    const zoneC = { ...spread, constraints: [constraint('node.labels.zone == c')] };
    const cj: DesiredCronJob = {
      key: 'shop/nightly', namespace: 'shop', name: 'nightly', labels: {},
      spec: { schedule: '0 3 * * *', timeZone: 'UTC', concurrencyPolicy: 'Forbid', suspend: false, successfulRunsHistory: 3, failedRunsHistory: 1, jobTemplate: { spec: { completions: 1, parallelism: 1, backoffLimit: 0, resources: {}, placement: zoneC } as JobSpec } },
      template: { image: { type: 'ref', ref: 'busybox:1' }, specHash: HASH, network: 'berth.t.shop', env: {} }, source: { file: 'cron.yaml', line: 1, col: 1 },
    };
    const desired: DesiredState = { revision: 'r', services: [], volumes: [], networks: [], routes: [], nodes: [{ name: 'n1' }] as unknown as DesiredNode[], cronJobs: [cj] };
    const now = Date.parse('2026-01-02T03:00:30Z');
    const since: Record<string, CronJobStatus> = { 'shop/nightly': { desired: 1, ready: 1, health: 'Healthy', replicas: [], schedule: '', since: '2026-01-01T00:00:00Z', active: [], runs: [] } };
    const planAt = (t: number, cronRecords: Record<string, CronJobStatus>, nodes: SchedNode[]) => planPass({
      desired, observed: { containers: [], volumes: [], networks: [], images: {} }, instance: 't', applied: new Map(), drift: 'correct', now: t, cronRecords,
      cluster: { nodes, unreachable: new Set(), lost: new Set() },
    });
    const first = planAt(now, since, TWO);
    expect(first.waitingJobs.map((a) => a.run)).toEqual(['20260102T0300Z']);
    expect(first.unschedulable.get('shop/nightly')).toMatch(/^1 attempt\(s\) pending: 0\/2 nodes available/);
    const report = CRONJOB_STATUS.report({ desired, containers: [], multiNode: true, now, previous: since as never, unschedulable: first.unschedulable })['shop/nightly']!;
    expect(report.runs).toMatchObject([{ run: '20260102T0300Z', phase: 'Pending', failed: 0 }]);
    expect(report.message).toMatch(/^run 20260102T0300Z under way; 1 attempt\(s\) pending/);
    // Minutes later, a node of zone c: the recorded run starts there (not skipped, not started twice).
    const later = planAt(now + 600_000, { 'shop/nightly': report }, [...TWO, node('n3', { zone: 'c' })]);
    expect(later.plan.actions.filter((a) => a.type === 'run-job').map((a) => `${(a as RunJobAction).run}@${(a as RunJobAction).node}`)).toEqual(['20260102T0300Z@n3']);
  });

  it('a CronJob run\'s attempt is placed the same way', () => {
    const j = job({ completions: 1, parallelism: 1, placement: { ...spread, constraints: [constraint('node.name == n2')] } });
    const a: RunJobAction = { type: 'run-job', job: 'shop/nightly', desired: { ...j, key: 'shop/nightly', name: 'nightly' }, completion: 1, attempt: 1, run: '20260101T0300Z', kind: 'CronJob', reason: 'cronjob shop/nightly run 20260101T0300Z', cause: 'change' };
    const desired: DesiredState = { revision: 'r', services: [] as DesiredService[], volumes: [], networks: [], routes: [], nodes: [] };
    const r = placeCreates({ revision: 'r', actions: [a] }, desired, { containers: [], volumes: [], networks: [], images: {} }, TWO, new Set());
    expect(r.plan.actions).toMatchObject([{ type: 'run-job', node: 'n2', reason: 'cronjob shop/nightly run 20260101T0300Z on node n2' }]);
    expect(r.waitingJobs).toEqual([]);
  });
});
