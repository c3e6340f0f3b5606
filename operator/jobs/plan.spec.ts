import { describe, expect, it } from 'vitest';
import { LABELS } from '../model/keys.ts';
import type { Action } from '../model/plan.ts';
import type { JobSpec } from '../model/manifest.ts';
import type { DesiredJob, ObservedContainer } from '../model/state.ts';
import { backoffDelay, planJobs, runOf, type JobPlanInput, type JobStatus } from './plan.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const HASH = 'aaaabbbbccccdddd';

function job(spec: Partial<JobSpec> = {}, specHash = HASH, name = 'migrate'): DesiredJob {
  return {
    key: `shop/${name}`, namespace: 'shop', name, labels: {},
    spec: { completions: 1, parallelism: 1, backoffLimit: 6, ...spec } as JobSpec,
    image: { type: 'ref', ref: 'busybox:1' }, specHash, network: 'berth.t.shop', env: {},
    source: { file: 'job.yaml', line: 1, col: 1 },
  };
}

interface C { completion: number; attempt?: number; status?: ObservedContainer['status']; exit?: number; started?: number; finished?: number; run?: string; name?: string }
function container(c: C): ObservedContainer {
  const run = c.run ?? HASH;
  const attempt = c.attempt ?? 1;
  return {
    id: `id-${run}-${c.completion}-${attempt}`, name: `berth.t.shop.migrate.job-${run.slice(0, 10)}.${c.completion}.${attempt}`,
    labels: { [LABELS.kind]: 'Job', [LABELS.namespace]: 'shop', [LABELS.job]: c.name ?? 'migrate', [LABELS.run]: run, [LABELS.completion]: String(c.completion), [LABELS.attempt]: String(attempt) },
    status: c.status ?? 'exited', exitCode: c.exit ?? 0, imageId: 'sha256:x', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0,
    createdAt: at(c.started ?? 0), ...(c.started !== undefined ? { startedAt: at(c.started) } : {}), ...(c.finished !== undefined ? { finishedAt: at(c.finished) } : {}),
  };
}

function plan(j: DesiredJob | DesiredJob[], cs: C[], nowS: number, extra: Partial<JobPlanInput> = {}) {
  const out = planJobs({ jobs: Array.isArray(j) ? j : [j], containers: cs.map(container), now: T0 + nowS * 1000, ...extra });
  return { ...out, status: out.statuses['shop/migrate']!, kinds: out.actions.map(brief) };
}
function brief(a: Action): string {
  if (a.type === 'run-job') return `run ${a.completion}.${a.attempt}`;
  if (a.type === 'stop-job' || a.type === 'remove') return `${a.type} ${a.container.labels[LABELS.run]?.slice(0, 4)}.${a.container.labels[LABELS.completion]}.${a.container.labels[LABELS.attempt]}`;
  return a.type;
}

describe('planJobs: a run to completion', () => {
  it('a new Job starts its first completion, Pending until a container exists', () => {
    const p = plan(job(), [], 0);
    expect(p.kinds).toEqual(['run 1.1']);
    expect(p.status).toMatchObject({ phase: 'Pending', run: HASH, desired: 1, ready: 0 });
    expect(p.actions[0]!.reason).toContain('completion 1/1');
  });

  it('at most parallelism containers at once, completions one after the other', () => {
    const j = job({ completions: 3, parallelism: 2 });
    expect(plan(j, [], 0).kinds).toEqual(['run 1.1', 'run 2.1']);
    expect(plan(j, [{ completion: 1, status: 'running', started: 1 }, { completion: 2, status: 'running', started: 1 }], 2).kinds).toEqual([]);
    const p = plan(j, [{ completion: 1, started: 1, finished: 3 }, { completion: 2, status: 'running', started: 1 }], 4);
    expect(p.kinds).toEqual(['run 3.1']);
    expect(p.status).toMatchObject({ phase: 'Running', ready: 1, desired: 3 });
  });

  it('all completions exited 0: Succeeded, and never run again (same spec hash, any later pass)', () => {
    const j = job({ completions: 2 });
    const cs = [{ completion: 1, started: 1, finished: 2 }, { completion: 2, started: 3, finished: 5 }];
    for (const now of [6, 3600, 86400 * 30]) {
      const p = plan(j, cs, now);
      expect(p.kinds).toEqual([]);
      expect(p.status).toMatchObject({ phase: 'Succeeded', ready: 2, health: 'Healthy', startedAt: at(1), finishedAt: at(5) });
    }
    expect(plan(j, cs, 6).status.attempts.map((a) => [a.completion, a.attempt, a.state, a.exitCode])).toEqual([[1, 1, 'succeeded', 0], [2, 1, 'succeeded', 0]]);
  });

  it('a created container that never started is started again (create is idempotent by name), not duplicated', () => {
    const p = plan(job({ completions: 2, parallelism: 1 }), [{ completion: 1, status: 'created' }], 1);
    expect(p.kinds).toEqual(['run 1.1']);
  });
});

describe('planJobs: failures, backoff, backoffLimit', () => {
  it('backoff is 10 s doubling per failure, capped at 6 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n) / 1000)).toEqual([10, 20, 40, 80, 160, 320, 360, 360]);
    expect(backoffDelay(3, 100)).toBe(400);
  });

  it('a failed attempt is retried as a new attempt after its backoff from finishedAt, with nextAttemptAt and a wake time', () => {
    const j = job({ backoffLimit: 2 });
    const early = plan(j, [{ completion: 1, exit: 3, started: 0, finished: 1 }], 5);
    expect(early.kinds).toEqual([]);
    expect(early.status).toMatchObject({ phase: 'Running', failed: 1, nextAttemptAt: at(11) });
    expect(early.wakeAt).toBe(T0 + 11_000);
    const due = plan(j, [{ completion: 1, exit: 3, started: 0, finished: 1 }], 11);
    expect(due.kinds).toEqual(['run 1.2']);
    expect(due.actions[0]!.reason).toContain('exited with code 3');
    // The second failure waits 20 s.
    const second = plan(j, [{ completion: 1, exit: 3, started: 0, finished: 1 }, { completion: 1, attempt: 2, exit: 3, started: 11, finished: 12 }], 20);
    expect(second.kinds).toEqual([]);
    expect(second.status.nextAttemptAt).toBe(at(32));
  });

  it('more failed attempts than backoffLimit: Failed BackoffLimitExceeded, no further container', () => {
    const j = job({ backoffLimit: 1 });
    const cs = [{ completion: 1, exit: 3, started: 0, finished: 1 }, { completion: 1, attempt: 2, exit: 3, started: 11, finished: 12 }];
    for (const now of [13, 1000]) {
      const p = plan(j, cs, now);
      expect(p.kinds).toEqual([]);
      expect(p.status).toMatchObject({ phase: 'Failed', reason: 'BackoffLimitExceeded', failed: 2, health: 'Degraded', finishedAt: at(12) });
    }
    expect(plan(job({ backoffLimit: 0 }), [cs[0]!], 2).status).toMatchObject({ phase: 'Failed', reason: 'BackoffLimitExceeded' });
  });

  it('failing past the limit stops the other running completions', () => {
    const j = job({ completions: 2, parallelism: 2, backoffLimit: 0 });
    const p = plan(j, [{ completion: 1, exit: 1, started: 0, finished: 1 }, { completion: 2, status: 'running', started: 0 }], 2);
    expect(p.kinds).toEqual([`stop-job aaaa.2.1`]);
    expect(p.status.phase).toBe('Failed');
  });
});

describe('planJobs: activeDeadline', () => {
  it('running past activeDeadline from the first start: running containers stopped, Failed DeadlineExceeded, stable afterwards', () => {
    const j = job({ activeDeadlineMs: 30_000 });
    const before = plan(j, [{ completion: 1, status: 'running', started: 10 }], 20);
    expect(before.kinds).toEqual([]);
    expect(before.wakeAt).toBe(T0 + 40_000);
    const after = plan(j, [{ completion: 1, status: 'running', started: 10 }], 40);
    expect(after.kinds).toEqual(['stop-job aaaa.1.1']);
    expect(after.status).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded', finishedAt: at(40) });
    // Stopped (exit 143): still DeadlineExceeded, never retried, even with backoffLimit 0.
    const stopped = plan(job({ activeDeadlineMs: 30_000, backoffLimit: 0 }), [{ completion: 1, exit: 143, started: 10, finished: 41 }], 50);
    expect(stopped.kinds).toEqual([]);
    expect(stopped.status).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded' });
  });

  it('no retry once the deadline passed while waiting out a backoff', () => {
    const p = plan(job({ activeDeadlineMs: 5000 }), [{ completion: 1, exit: 1, started: 0, finished: 1 }], 12);
    expect(p.kinds).toEqual([]);
    expect(p.status.reason).toBe('DeadlineExceeded');
  });
});

describe('planJobs: ttlAfterFinished and the status record', () => {
  const cs = [{ completion: 1, started: 0, finished: 2 }];
  const succeeded = (): JobStatus => plan(job(), cs, 3).status;

  it('removes the finished run after its TTL, once a status record of it exists', () => {
    const j = job({ ttlAfterFinishedMs: 60_000 });
    const waiting = plan(j, cs, 30);
    expect(waiting.kinds).toEqual([]);
    expect(waiting.wakeAt).toBe(T0 + 62_000);
    // No record yet (e.g. the run finished this pass): kept one more pass.
    expect(plan(j, cs, 62).kinds).toEqual([]);
    const due = plan(j, cs, 62, { previous: { 'shop/migrate': succeeded() } });
    expect(due.kinds).toEqual(['remove aaaa.1.1']);
    expect(due.actions[0]).toMatchObject({ prune: true, job: 'shop/migrate' });
  });

  it('containers gone after the TTL: the previous record stands (removed), nothing reruns; a changed spec is a new run', () => {
    const p = plan(job({ ttlAfterFinishedMs: 60_000 }), [], 100, { previous: { 'shop/migrate': succeeded() } });
    expect(p.kinds).toEqual([]);
    expect(p.status).toMatchObject({ phase: 'Succeeded', removed: true, run: HASH });
    const changed = plan(job({}, 'eeeeffff00001111'), [], 100, { previous: { 'shop/migrate': succeeded() } });
    expect(changed.kinds).toEqual(['run 1.1']);
  });
});

describe('planJobs: spec changes and Jobs leaving git', () => {
  it('a changed spec is a new run: the old running run is stopped and removed, a finished one kept (until a TTL)', () => {
    const next = job({}, 'eeeeffff00001111');
    expect(runOf(next)).toBe('eeeeffff00001111');
    const running = plan(next, [{ completion: 1, status: 'running', started: 0 }], 5);
    expect(running.kinds).toEqual(['remove aaaa.1.1', 'run 1.1']);
    const finished = plan(next, [{ completion: 1, started: 0, finished: 1 }], 5);
    expect(finished.kinds).toEqual(['run 1.1']);
    const ttl = plan(job({ ttlAfterFinishedMs: 10_000 }, 'eeeeffff00001111'), [{ completion: 1, started: 0, finished: 1 }], 20);
    expect(ttl.kinds).toEqual(['remove aaaa.1.1', 'run 1.1']);
  });

  it('a Job no longer in the revision has its containers removed (prune), whatever their state', () => {
    const p = plan([], [{ completion: 1, started: 0, finished: 1 }, { completion: 2, status: 'running', started: 0, name: 'migrate' }], 5);
    expect(p.kinds).toEqual(['remove aaaa.1.1', 'remove aaaa.2.1']);
    expect(p.actions.every((a) => a.type === 'remove' && a.prune && a.job === 'shop/migrate')).toBe(true);
  });

  it('a container on an unreachable node gets no action', () => {
    const c = { ...container({ completion: 1, status: 'running', started: 0 }), node: 'n2' };
    const out = planJobs({ jobs: [], containers: [c], now: T0, unreachable: new Set(['n2']) });
    expect(out.actions).toEqual([]);
  });
});

describe('Jobs in the plan (diff) and its text', () => {
  it('diff plans the run with the namespace network, and `berth plan` shows "run-job job ns/name" with the reason', async () => {
    const { diff } = await import('../diff/diff.ts');
    const { renderText, renderJson } = await import('../diff/render.ts');
    const desired = { revision: 'rev1abcdef', services: [], volumes: [], networks: [], routes: [], nodes: [], jobs: [job({ backoffLimit: 1 })] };
    const plan = diff(desired, { containers: [], volumes: [], networks: [], images: {} }, { instance: 't', now: T0 });
    expect(plan.actions.map((a) => a.type)).toEqual(['create-network', 'run-job']);
    const text = renderText(plan);
    expect(text).toContain('run-job        job shop/migrate completion 1 attempt 1');
    expect(text).toContain('run aaaabbbbccccdddd of job shop/migrate: completion 1/1');
    expect(JSON.parse(renderJson(plan)).actions[1]).toMatchObject({ type: 'run-job', job: 'shop/migrate', completion: 1, attempt: 1, image: 'busybox:1' });
    // A retry waiting out its backoff: no action, the wake time on the plan.
    const failed = diff(desired, { containers: [container({ completion: 1, exit: 3, started: 0, finished: 1 })], volumes: [], networks: [{ name: 'berth.t.shop', id: 'n', labels: {} }], images: {} }, { instance: 't', now: T0 + 2000 });
    expect(failed.actions).toEqual([]);
    expect(failed.wakeAt).toBe(T0 + 11_000);
  });
});

describe('planJobs: a finished run with a container never started', () => {
  it('removes it instead of stopping it', () => {
    const p = plan(job({ completions: 2, parallelism: 2, backoffLimit: 0 }), [{ completion: 1, exit: 1, started: 0, finished: 1 }, { completion: 2, status: 'created' }], 2);
    expect(p.kinds).toEqual(['remove aaaa.2.1']);
  });
});
