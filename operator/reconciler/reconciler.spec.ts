import { describe, expect, it, vi } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { parse, stringify } from 'yaml';
import { loadDesired } from '../manifests/index.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { MemorySource } from '../source/memory-source.ts';
import { createLogger, silentLogger } from '../util/log.ts';
import { Reconciler, type ReconcilerDeps } from './reconciler.ts';

const svc = (name: string, replicas: number, extra = '') =>
  `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  image: img:1\n  replicas: ${replicas}\n${extra}`;

function setup(over: Partial<ReconcilerDeps> = {}) {
  const source = new MemorySource();
  const runtime = new FakeRuntime();
  runtime.addImage('img:1', 'sha256:one');
  const make = (more: Partial<ReconcilerDeps> = {}) => new Reconciler({
    source, runtime, log: silentLogger, instance: 't',
    load: (s) => loadDesired(s, { instance: 't', path: '.' }),
    sourceInfo: { repo: source.description, branch: 'main', path: '.' },
    drift: 'correct', writeStatus: true, now: () => new Date('2026-01-01T00:00:00Z'), ...over, ...more,
  });
  return { source, runtime, rec: make(), make };
}

const mutations = (rt: FakeRuntime) => rt.calls.filter((c) => c.method !== 'ping').length;

describe('Reconciler', () => {
  it('stops waiting for its status commit when another pass is wanted; the commit goes on', async () => {
    const { source, rec } = setup();
    source.push({ 'a.yaml': svc('a', 1) });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let called!: () => void;
    const writing = new Promise<void>((resolve) => { called = resolve; });
    const write = source.writeStatus.bind(source);
    let written = false;
    source.writeStatus = async (files, message) => { called(); await gate; const c = await write(files, message); written = true; return c; };
    // The writer's own bound (100 ms) is a timer: faked, only hurryUp can end the wait.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const pass = rec.pass();
      await writing;
      rec.hurryUp();
      const r = await pass;
      expect(r.converged).toBe(true);
      expect(written).toBe(false);
    } finally {
      vi.useRealTimers();
    }
    release();
    await rec.flushStatus();
    expect(written).toBe(true);
  });

  it('converges, then an idle pass changes nothing and commits no status', async () => {
    const { source, runtime, rec } = setup();
    source.push({ 'a.yaml': svc('a', 2) });
    const first = await rec.pass();
    expect(first.converged).toBe(true);
    expect(first.status.services['default/a']).toMatchObject({ desired: 2, running: 2 });
    const calls = mutations(runtime);
    const commits = source.statusCommits;
    const idle = await rec.pass();
    expect(idle.plan?.actions).toEqual([]);
    expect(mutations(runtime)).toBe(calls);
    expect(source.statusCommits).toBe(commits);
  });

  it('rejects a bad revision without touching anything, keeps correcting drift of the last good one, and recovers', async () => {
    const { source, runtime, rec } = setup();
    const good = source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const bad = source.push({ 'a.yaml': svc('a', 'x' as unknown as number) });
    const calls = mutations(runtime);
    const r = await rec.pass();
    expect(r.error?.code).toBe('E_SCHEMA');
    expect(mutations(runtime)).toBe(calls);
    expect(r.status.revision).toEqual({ applied: good, latest: bad });
    expect(r.status.conditions.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'ValidationFailed' });
    expect(r.status.lastError?.message).toContain('a.yaml:6:13: spec.replicas: must be integer');

    const [victim] = (await runtime.observe('t', [])).containers;
    runtime.removeByHand(victim!.id);
    const healed = await rec.pass();
    expect(healed.applied?.outcomes.map((o) => [o.action.type, o.action.cause])).toEqual([['create', 'drift']]);
    expect(healed.error?.code).toBe('E_SCHEMA');

    const fixed = source.push({ 'a.yaml': svc('a', 3) });
    const ok = await rec.pass();
    expect(ok.converged).toBe(true);
    expect(ok.status.revision.applied).toBe(fixed);
  });

  it('never prunes for an empty revision', async () => {
    const { source, runtime, rec } = setup();
    source.push({ 'a.yaml': svc('a', 2) });
    await rec.pass();
    source.push({ 'README.md': 'empty' });
    const r = await rec.pass();
    expect(r.error?.code).toBe('E_EMPTY_REVISION');
    expect((await runtime.observe('t', [])).containers).toHaveLength(2);
  });

  it('after a restart on a bad head, enforces the last applied revision found on the status branch', async () => {
    const { source, runtime, rec, make } = setup();
    const good = source.push({ 'a.yaml': svc('a', 2) });
    await rec.pass();
    source.push({ 'a.yaml': 'not: [valid' });
    const fresh = make();
    const [victim] = (await runtime.observe('t', [])).containers;
    runtime.removeByHand(victim!.id);
    const r = await fresh.pass();
    expect(r.error?.code).toBe('E_YAML');
    expect(r.status.revision.applied).toBe(good);
    expect((await runtime.observe('t', [])).containers.filter((c) => c.status === 'running')).toHaveLength(2);
  });

  it('a rolled-back update stays rolled back across a restart (held in the status), until the spec changes', async () => {
    const { source, runtime, rec, make } = setup();
    const v1 = source.push({ 'a.yaml': svc('a', 1, '  env: { V: "1" }\n') });
    await rec.pass();
    const files2 = { 'a.yaml': svc('a', 1, '  env: { V: "2" }\n') };
    const v2 = source.push(files2);
    const failed = (await loadDesired(memorySnapshot(files2, v2), { instance: 't', path: '.' })).services[0]!.specHash;
    const doc = parse(source.status.get('t/status.yaml')!);
    doc.held = { 'default/a': { action: 'rollback', failedSpecHash: failed, reason: 'default/a #1 failed: readiness: HTTP 500', revision: v2, previousRevision: v1 } };
    source.status.set('t/status.yaml', stringify(doc));
    const before = (await runtime.observe('t', [])).containers.map((c) => c.id);
    const r = await make().pass();
    expect(r.plan?.actions).toEqual([]);
    expect((await runtime.observe('t', [])).containers.map((c) => c.id)).toEqual(before);
    expect(r.status.services['default/a']?.message).toBe(`update rolled back at ${v2.slice(0, 7)}: default/a #1 failed: readiness: HTTP 500`);
    expect(r.status.held['default/a']?.previousRevision).toBe(v1);
    source.push({ 'a.yaml': svc('a', 1, '  env: { V: "3" }\n') });
    const next = await make().pass();
    expect(next.applied?.outcomes.map((o) => o.action.type)).toEqual(['replace']);
  });

  it('with drift detect, reports drift and leaves it', async () => {
    const { source, runtime, rec } = setup({ drift: 'detect' });
    source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const [c] = (await runtime.observe('t', [])).containers;
    runtime.kill(c!.id, 137);
    const calls = mutations(runtime);
    const r = await rec.pass();
    expect(mutations(runtime)).toBe(calls);
    expect(r.status.drift).toEqual([`start ${c!.name}: drift: ${c!.name} exited with code 137`]);
    expect(r.status.conditions.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'DriftDetected' });
  });

  it('reports a transient engine failure as ReconcileFailed, not Stalled', async () => {
    const { source, runtime, rec } = setup();
    source.push({ 'a.yaml': svc('a', 1) });
    runtime.failNext('observe', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }));
    const r = await rec.pass();
    expect(r.error).toMatchObject({ code: 'E_DOCKER', terminal: false });
    expect(r.status.conditions.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ReconcileFailed' });
    expect(r.status.conditions.find((x) => x.type === 'Stalled')?.status).toBe('False');
    expect((await rec.pass()).converged).toBe(true);
  });

  it('puts a namespace on its network once, and replaces a replica disconnected from it by hand', async () => {
    const { source, runtime, rec } = setup();
    source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const state = await runtime.observe('t', []);
    expect(state.networks.map((n) => n.name)).toEqual(['berth.t.default']);
    const [c] = state.containers;
    expect(c?.networks).toEqual(['berth.t.default']);
    runtime.disconnect(c!.id, 'berth.t.default');
    const r = await rec.pass();
    expect(r.applied?.outcomes.map((o) => [o.action.type, o.action.cause, o.error?.code])).toEqual([['replace', 'drift', undefined]]);
    const after = (await runtime.observe('t', [])).containers;
    expect(after.map((x) => [x.status, x.networks])).toEqual([['running', ['berth.t.default']]]);
    expect(runtime.calls.filter((x) => x.method === 'createNetwork')).toHaveLength(1);
  });

  it('keeps healing from the last good revision while git refuses, reports E_GIT, and picks the head up when git is back', async () => {
    const { source, runtime, rec } = setup();
    source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const head = source.head.bind(source);
    source.head = async () => { throw new BerthError('E_GIT', 'connect ECONNREFUSED 127.0.0.1:9'); };
    const [c] = (await runtime.observe('t', [])).containers;
    runtime.kill(c!.id, 137);
    const r = await rec.pass();
    expect(r.error).toMatchObject({ code: 'E_GIT', terminal: false });
    expect(r.applied?.outcomes.map((o) => [o.action.type, o.action.cause])).toEqual([['start', 'drift']]);
    expect(r.status.conditions.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ReconcileFailed' });
    source.head = head;
    const next = source.push({ 'a.yaml': svc('a', 2) });
    const ok = await rec.pass();
    expect(ok.converged).toBe(true);
    expect(ok.status.revision.applied).toBe(next);
  });

  it('keeps healing while a fetch hangs (a pass waits at most its budget), and a late fetch asks for another pass', async () => {
    let late = 0;
    const { source, runtime, rec } = setup({ gitBudgetMs: 20, onLateFetch: () => { late++; } });
    source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const head = source.head.bind(source);
    let release: () => void = () => undefined;
    source.head = () => new Promise((resolve) => { release = () => resolve(head()); });
    const [c] = (await runtime.observe('t', [])).containers;
    runtime.kill(c!.id, 137);
    const r = await rec.pass();
    expect(r.applied?.outcomes.map((o) => o.action.type)).toEqual(['start']);
    expect(late).toBe(0);
    source.head = head;
    source.push({ 'a.yaml': svc('a', 2) });
    release();
    await vi.waitFor(() => expect(late).toBe(1));
    expect((await rec.pass()).status.services['default/a']).toMatchObject({ desired: 2, running: 2 });
  });

  it('asks for another pass when the head came in time but reading the new revision outlived the budget', async () => {
    let late = 0;
    const { source, rec } = setup({ gitBudgetMs: 20, onLateFetch: () => { late++; } });
    source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const snapshot = source.snapshot.bind(source);
    let release: () => void = () => undefined;
    source.snapshot = (rev) => new Promise((resolve) => { release = () => resolve(snapshot(rev)); });
    source.push({ 'a.yaml': svc('a', 2) });
    const r = await rec.pass(); // the head is new at once; its files are not read yet
    expect(r.status.services['default/a']).toMatchObject({ desired: 1 });
    source.snapshot = snapshot;
    release();
    await vi.waitFor(() => expect(late).toBe(1));
    expect((await rec.pass()).status.services['default/a']).toMatchObject({ desired: 2, running: 2 });
  });

  it('keeps healing while the newest revision cannot be read, without rejecting it', async () => {
    const { source, runtime, rec } = setup();
    source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const snapshot = source.snapshot.bind(source);
    source.snapshot = async () => { throw new BerthError('E_GIT', 'object missing'); };
    const newer = source.push({ 'a.yaml': svc('a', 2) });
    runtime.kill((await runtime.observe('t', [])).containers[0]!.id, 137);
    const r = await rec.pass();
    expect(r.error?.code).toBe('E_GIT');
    expect(r.applied?.outcomes.map((o) => o.action.type)).toEqual(['start']);
    source.snapshot = snapshot;
    const ok = await rec.pass();
    expect(ok.status.revision.applied).toBe(newer);
  });

  it('rejects a revision whose validation throws an untyped error as E_INTERNAL, never retried as an outage', async () => {
    const { source, runtime, make } = setup();
    source.push({ 'a.yaml': svc('a', 1) });
    let calls = 0;
    const rec = make({ load: async (snap) => { calls++; if (calls > 1) throw new RangeError('Maximum call stack size exceeded'); return loadDesired(snap, { instance: 't', path: '.' }); } });
    await rec.pass();
    source.push({ 'a.yaml': svc('a', 3) });
    const r = await rec.pass();
    expect(r.error).toMatchObject({ code: 'E_INTERNAL', terminal: true });
    expect(r.status.conditions.find((x) => x.type === 'Stalled')?.status).toBe('True');
    await rec.pass();
    expect(calls).toBe(2);
    expect((await runtime.observe('t', [])).containers).toHaveLength(1);
  });

  it('reports a defect (an untyped exception inside a pass) as E_INTERNAL, stalled, with its stack in the log, never as an engine outage', async () => {
    const lines: string[] = [];
    const { source, runtime, rec } = setup({ log: createLogger({ write: (l) => lines.push(l) }) });
    source.push({ 'a.yaml': svc('a', 1) });
    runtime.failNext('observe', new TypeError("Cannot read properties of undefined (reading 'labels')"));
    const r = await rec.pass();
    expect(r.error).toMatchObject({ code: 'E_INTERNAL', terminal: true });
    expect(r.status.conditions.find((x) => x.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'InternalError' });
    expect(lines.join('\n')).toMatch(/pass failed .*code=E_INTERNAL.*stack=.*TypeError/);
  });

  it('says a replica waiting out its restart backoff is backing off (with the time of its next restart), not drift left uncorrected', async () => {
    // The fake engine's clock starts in 2024 and ticks a second per event; the reconciler's follows the last exit.
    let now = Date.parse('2024-01-01T00:00:00Z');
    const { source, runtime, rec } = setup({ now: () => new Date(now) });
    source.push({ 'a.yaml': svc('a', 1) });
    await rec.pass();
    const [c] = (await runtime.observe('t', [])).containers;
    const exitNow = async () => { runtime.kill(c!.id, 3); now = Date.parse((await runtime.observe('t', [])).containers[0]!.finishedAt!); };
    await exitNow();
    await rec.pass();
    await exitNow();
    const r = await rec.pass();
    const ready = r.status.conditions.find((x) => x.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'BackingOff' });
    expect(ready?.message).toMatch(/^default\/a #1 exited with code 3; restart 2 at 2024-01-01T00:00:\d\d\.000Z$/);
    expect(r.status.drift).toEqual([]);
  });
});
