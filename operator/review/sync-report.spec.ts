/**
 * Unit tests of the after-merge reporter over a recording GitHubClient: `berth/sync` pending on the
 * reconciler's `applying` event, success or failure when a pass converges or rejects the revision, the comment on the
 * merged pull request, and no report at all for the head found at start-up. The real-server version is
 * test/review-github.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { diff } from '../diff/diff.ts';
import { loadDesired } from '../manifests/index.ts';
import { BerthError, ValidationError } from '../model/errors.ts';
import type { Plan } from '../model/plan.ts';
import type { PassResult } from '../reconciler/reconciler.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import type { ServiceStatus, StatusDoc } from '../status/report.ts';
import { createLogger, type Logger } from '../util/log.ts';
import type { GitHubClient, MergedPull, OpenPull, StatusContext, StatusState, UpsertResult } from './github.ts';
import { SyncReporter, syncComment } from './sync-report.ts';

const INSTANCE = 't';
const REV1 = '1'.repeat(40);
const REV2 = '2'.repeat(40);
const REV3 = '3'.repeat(40);

type Call =
  | { method: 'setStatus'; sha: string; context: StatusContext; state: StatusState; description: string }
  | { method: 'pullForCommit'; sha: string }
  | { method: 'commentOnPull'; pr: number; body: string };

/** A GitHubClient recording the after-merge calls; `merged` answers pullForCommit; failNext makes one call throw. */
class RecordingGitHub implements GitHubClient {
  readonly calls: Call[] = [];
  readonly merged = new Map<string, MergedPull>();
  private readonly failures = new Map<Call['method'], BerthError>();

  failNext(method: Call['method'], err: BerthError): void {
    this.failures.set(method, err);
  }

  async listOpenPulls(): Promise<OpenPull[]> {
    throw new Error('not used by SyncReporter');
  }

  async upsertPlanComment(): Promise<UpsertResult> {
    throw new Error('not used by SyncReporter');
  }

  async setStatus(sha: string, context: StatusContext, state: StatusState, description: string): Promise<void> {
    this.enter({ method: 'setStatus', sha, context, state, description });
  }

  async pullForCommit(sha: string): Promise<MergedPull | null> {
    this.enter({ method: 'pullForCommit', sha });
    return this.merged.get(sha) ?? null;
  }

  async commentOnPull(pr: number, body: string): Promise<{ id: number; url: string }> {
    this.enter({ method: 'commentOnPull', pr, body });
    return { id: 1, url: `https://github.test/pull/${pr}#issuecomment-1` };
  }

  private enter(call: Call): void {
    this.calls.push(call);
    const err = this.failures.get(call.method);
    if (!err) return;
    this.failures.delete(call.method);
    throw err;
  }
}

/** A real plan: `replicas` replicas of one service to create on an empty engine. */
async function planOf(revision: string, replicas: number): Promise<Plan> {
  const files = { 'web.yaml': `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec:\n  image: img:1\n  replicas: ${replicas}\n` };
  const desired = await loadDesired(memorySnapshot(files, revision), { instance: INSTANCE, path: '.' });
  return diff(desired, { containers: [], volumes: [], networks: [], images: { 'img:1': 'sha256:one' } }, { instance: INSTANCE });
}

function service(ready: number, desired: number, health: ServiceStatus['health'], message?: string): ServiceStatus {
  return { desired, running: ready, ready, health, image: 'img:1', specHash: 'hash', replicas: [], ...(message ? { message } : {}) };
}

function statusDoc(applied: string | null, latest: string | null, services: Record<string, ServiceStatus> = {}): StatusDoc {
  return {
    apiVersion: 'berth/v1', kind: 'Status', instance: INSTANCE, source: { repo: 'memory://test', branch: 'main', path: '.' },
    revision: { applied, latest }, conditions: [], services, drift: [], held: {}, lastError: null,
  };
}

/** The result of a pass at `revision`; only the fields SyncReporter reads carry meaning. */
function pass(revision: string | null, o: { converged: boolean; error?: BerthError; status?: StatusDoc }): PassResult {
  return {
    revision, plan: null, applied: null, pending: null, error: o.error ?? null, fetchError: null,
    status: o.status ?? statusDoc(revision, revision), converged: o.converged, desired: null, observed: null,
  };
}

/** A logger keeping each entry as its JSON fields. */
function recordingLogger(): { log: Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  return { log: createLogger({ level: 'debug', json: true, write: (line) => entries.push(JSON.parse(line) as Record<string, unknown>) }), entries };
}

function setup() {
  const github = new RecordingGitHub();
  const { log, entries } = recordingLogger();
  let clock = 1_000_000;
  const reporter = new SyncReporter({ github, instance: INSTANCE, log, now: () => clock });
  return { github, reporter, entries, advance: (ms: number) => { clock += ms; } };
}

/** Takes REV1 as the head already applied before start-up. */
async function started(s: ReturnType<typeof setup>): Promise<void> {
  s.reporter.onPass(pass(REV1, { converged: true }));
  await s.reporter.idle();
}

describe('SyncReporter', () => {
  it('sets pending while applying, then success with the duration, then comments on the merged pull request once', async () => {
    const s = setup();
    const { github, reporter } = s;
    github.merged.set(REV2, { number: 7, title: 'scale web', baseRef: 'main', mergedAt: '2026-11-25T11:00:00Z' });
    await started(s);
    expect(github.calls).toEqual([]);

    const plan = await planOf(REV2, 2);
    reporter.onEvent({ kind: 'applying', revision: REV2, plan });
    await reporter.idle();
    expect(github.calls).toEqual([{ method: 'setStatus', sha: REV2, context: 'berth/sync', state: 'pending', description: 'applying: 2 to create, 1 network to create' }]);

    s.advance(2_500);
    const status = statusDoc(REV2, REV2, { 'default/web': service(2, 2, 'Healthy'), 'default/api': service(0, 1, 'Degraded', 'probe | failed') });
    reporter.onPass(pass(REV2, { converged: true, status }));
    await reporter.idle();
    const line = 'applied in 2.5 s: 2 to create, 1 network to create';
    expect(github.calls.slice(1)).toEqual([
      { method: 'setStatus', sha: REV2, context: 'berth/sync', state: 'success', description: line },
      { method: 'pullForCommit', sha: REV2 },
      { method: 'commentOnPull', pr: 7, body: syncComment(INSTANCE, REV2, 'success', line, status) },
    ]);
    const body = (github.calls[3] as { body: string }).body;
    expect(body).toContain('| service | ready | health |');
    expect(body).toContain('| `default/web` | 2/2 | Healthy |');
    expect(body.indexOf('default/api')).toBeLessThan(body.indexOf('default/web'));
    expect(body).toContain(`revision \`${REV2.slice(0, 7)}\``);

    // Later passes of the same revision, and a repeated applying event (a heal), report nothing more.
    reporter.onPass(pass(REV2, { converged: true, status }));
    reporter.onEvent({ kind: 'applying', revision: REV2, plan });
    reporter.onPass(pass(REV2, { converged: false, status }));
    await reporter.idle();
    expect(github.calls).toHaveLength(4);
  });

  it('sets failure "rejected: ..." when a new head is rejected, once, and comments on its pull request', async () => {
    const s = setup();
    const { github, reporter } = s;
    github.merged.set(REV2, { number: 8, title: 'bad', baseRef: 'main', mergedAt: '2026-11-25T11:00:00Z' });
    await started(s);
    const error = new ValidationError([{ file: 'web.yaml', line: 6, col: 13, field: 'spec.replicas', code: 'E_SCHEMA', message: 'must be integer' }]);
    const rejected = pass(REV2, { converged: true, error, status: statusDoc(REV1, REV2) });
    reporter.onPass(rejected);
    reporter.onPass(rejected);
    await reporter.idle();
    const line = 'rejected: 1 error(s) in manifests: web.yaml:6:13: spec.replicas: must be integer';
    expect(github.calls).toEqual([
      { method: 'setStatus', sha: REV2, context: 'berth/sync', state: 'failure', description: line },
      { method: 'pullForCommit', sha: REV2 },
      { method: 'commentOnPull', pr: 8, body: syncComment(INSTANCE, REV2, 'failure', line, rejected.status) },
    ]);
  });

  it('takes the head found by the first pass after start-up as already reported', async () => {
    const s = setup();
    s.reporter.onPass(pass(REV1, { converged: true }));
    s.reporter.onPass(pass(REV1, { converged: true }));
    await s.reporter.idle();
    expect(s.github.calls).toEqual([]);
  });

  it('reports a revision applied in the first pass after start-up', async () => {
    const s = setup();
    s.reporter.onEvent({ kind: 'applying', revision: REV1, plan: await planOf(REV1, 1) });
    s.advance(1_000);
    s.reporter.onPass(pass(REV1, { converged: true }));
    await s.reporter.idle();
    expect(s.github.calls.map((c) => c.method === 'setStatus' ? `${c.state}: ${c.description}` : c.method)).toEqual([
      'pending: applying: 1 to create, 1 network to create',
      'success: applied in 1.0 s: 1 to create, 1 network to create',
      'pullForCommit',
    ]);
  });

  it('keeps the baseline for the first pass that saw a revision (git unreachable at start-up)', async () => {
    const s = setup();
    s.reporter.onPass(pass(null, { converged: false, error: new BerthError('E_GIT', 'fetch failed: ECONNREFUSED', { terminal: false }) }));
    s.reporter.onPass(pass(REV1, { converged: true }));
    await s.reporter.idle();
    expect(s.github.calls).toEqual([]);
  });

  it('waits while a pass is not converged or failed transiently, then reports the converged one', async () => {
    const s = setup();
    const { github, reporter } = s;
    await started(s);
    reporter.onEvent({ kind: 'applying', revision: REV2, plan: await planOf(REV2, 3) });
    s.advance(1_000);
    reporter.onPass(pass(REV2, { converged: false }));
    s.advance(1_000);
    reporter.onPass(pass(REV2, { converged: false, error: new BerthError('E_DOCKER', 'engine unreachable', { terminal: false }) }));
    await reporter.idle();
    expect(github.calls.map((c) => c.method === 'setStatus' ? c.state : c.method)).toEqual(['pending']);

    s.advance(1_500);
    reporter.onPass(pass(REV2, { converged: true }));
    await reporter.idle();
    expect(github.calls.slice(1)).toEqual([
      { method: 'setStatus', sha: REV2, context: 'berth/sync', state: 'success', description: 'applied in 3.5 s: 3 to create, 1 network to create' },
      { method: 'pullForCommit', sha: REV2 },
    ]);
  });

  it('says "no changes to apply" for a new head that converged with nothing applied', async () => {
    const s = setup();
    await started(s);
    s.reporter.onPass(pass(REV2, { converged: true }));
    await s.reporter.idle();
    expect(s.github.calls[0]).toMatchObject({ method: 'setStatus', sha: REV2, state: 'success', description: 'no changes to apply' });
  });

  it('logs a GitHub failure inside the queue, never throws, and keeps reporting later revisions', async () => {
    const s = setup();
    const { github, reporter, entries } = s;
    github.merged.set(REV3, { number: 9, title: 'next', baseRef: 'main', mergedAt: '2026-11-25T12:00:00Z' });
    await started(s);
    const err = new BerthError('E_GIT', 'GitHub: set status berth/sync=pending on 222222222222: HTTP 502: Bad Gateway', { terminal: false });
    github.failNext('setStatus', err);
    expect(() => reporter.onEvent({ kind: 'applying', revision: REV2, plan: { revision: REV2, actions: [] } })).not.toThrow();
    await expect(reporter.idle()).resolves.toBeUndefined();
    expect(entries.filter((e) => e.level === 'warn').map((e) => e.error)).toEqual([err.message]);

    github.failNext('pullForCommit', new BerthError('E_GIT', 'GitHub: find the pull request: no response', { terminal: false }));
    expect(() => reporter.onPass(pass(REV2, { converged: true }))).not.toThrow();
    await expect(reporter.idle()).resolves.toBeUndefined();
    expect(entries.filter((e) => e.level === 'warn')).toHaveLength(2);

    reporter.onPass(pass(REV3, { converged: true }));
    await reporter.idle();
    expect(github.calls.at(-1)).toMatchObject({ method: 'commentOnPull', pr: 9 });
  });
});
