/**
 * Logs and events on the real engine, through the CLI as a user runs it: every line a replica printed is stored with
 * its service, replica, container, node and stream, before and after a rolling update (both replicas' lines, in
 * order, each labelled); grep / search / since / tail / stream filters; -f follows new lines; a filter that does not
 * parse is one line and exit 1; a `berth run` SIGKILLed mid-stream and started again loses and duplicates no line;
 * events record the rollout. Lines are sequence numbers printed by the test's own containers.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth, spawnBerth } from './helpers/cli.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { service, startTestOperator, stopProxyProcess, type TestOperator } from './helpers/operator.ts';
import { recordProxy } from './helpers/proxy-processes.ts';
import { LogStore, storePath, type StoredLine } from '../operator/logs/store.ts';

const docker = testDocker();
const instance = uniqueInstance('logs');
let remote: Remote;
let op: TestOperator | undefined;

/** Prints `<tag> <n>` for n = 1.. every 20 ms (stderr every 10th), up to `count`, then idles. */
const printer = (tag: string, count: number): string[] => ['sh', '-c', `i=0; while [ $i -lt ${count} ]; do i=$((i+1)); if [ $((i % 10)) -eq 0 ]; then echo "${tag} $i err" >&2; else echo "${tag} $i"; fi; sleep 0.02; done; exec sleep 3600`];

beforeAll(async () => {
  remote = await makeRemote({ 'web.yaml': service('web', { command: printer('v1', 100) }) });
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

const client = () => ['--server', op!.url, '--state-dir', op!.stateDir];

async function logLines(target: string, ...flags: string[]): Promise<StoredLine[]> {
  const r = await berth(['logs', target, '--output', 'json', ...flags, ...client()]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredLine);
}

describe('berth logs', () => {
  it('keeps every line of a replica across a rolling update, labelled and in order; filters; events of the rollout', async () => {
    await waitFor(async () => (await logLines('test/web')).length === 100, { what: 'the 100 lines of v1 stored', timeoutMs: 30_000, intervalMs: 500 });
    const rev = await remote.commit({ 'web.yaml': service('web', { command: printer('v2', 50) }) }, 'v2');
    op!.trigger('push');
    await op!.waitPass((p) => p.desired?.revision === rev && p.converged, 'v2 rolled out', 60_000);
    await waitFor(async () => (await logLines('test/web')).filter((l) => l.text.startsWith('v2 ')).length === 50, { what: 'the 50 lines of v2 stored', timeoutMs: 30_000, intervalMs: 500 });

    const all = await logLines('test/web');
    const v1 = all.filter((l) => l.text.startsWith('v1 '));
    const v2 = all.filter((l) => l.text.startsWith('v2 '));
    // Every line once; the old replica's lines stay after it was replaced. In the order printed within a stream (the
    // engine reads stdout and stderr through two pipes: between them, its timestamps may swap neighbours).
    const nums = (ls: StoredLine[]) => ls.map((l) => Number(l.text.split(' ')[1]));
    expect(nums(v1).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(nums(v2).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const out1 = nums(v1.filter((l) => l.stream === 'stdout'));
    expect(out1).toEqual([...out1].sort((a, b) => a - b));
    expect(new Set(v1.map((l) => l.container)).size).toBe(1);
    expect(v1[0]!.container).not.toBe(v2[0]!.container);
    expect(v1[0]).toMatchObject({ namespace: 'test', service: 'web', kind: 'Service', replica: '1', node: 'local', stream: 'stdout' });
    expect(v1.find((l) => l.text === 'v1 10 err')).toMatchObject({ stream: 'stderr' });
    expect(all.map((l) => l.ts)).toEqual([...all.map((l) => l.ts)].sort((a, b) => a - b));
    expect((await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } })).map((c) => c.Id)).not.toContain(v1[0]!.container);

    // Filters, done by the server.
    expect((await logLines('test/web', '--tail', '3')).map((l) => l.text)).toEqual(all.slice(-3).map((l) => l.text));
    expect((await logLines('test/web', '--grep', '^v2 4[0-9]$')).map((l) => l.text)).toEqual(['v2 41', 'v2 42', 'v2 43', 'v2 44', 'v2 45', 'v2 46', 'v2 47', 'v2 48', 'v2 49']);
    expect((await logLines('test/web', '--search', 'V1 ERR')).length).toBe(10);
    expect((await logLines('test/web', '--stream', 'stderr')).length).toBe(15);
    expect((await logLines('test/web', '--since', v2[0]!.time)).every((l) => l.ts >= v2[0]!.ts)).toBe(true);
    expect((await logLines(`test/web/${v2[0]!.replica}`, '--grep', '^v2 ')).length).toBe(50);
    const text = await berth(['logs', 'test/web', '--tail', '1', ...client()]);
    expect(text.stdout).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z web\/1 +(out|err)\| v2 (49|50 err)\n$/);

    const bad = await berth(['logs', 'test/web', '--grep', 'a(', ...client()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('answered 400: grep: a( is not an RE2 regular expression');
    const badTime = await berth(['logs', 'test/web', '--since', 'yesterday', ...client()]);
    expect(badTime.code).toBe(1);
    expect(badTime.stderr).toContain('since: "yesterday" is neither a duration');

    const ev = await berth(['events', '--service', 'test/web', '--since', '10m', '--output', 'json', ...client()]);
    expect(ev.code, ev.stderr).toBe(0);
    const events = ev.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; message: string });
    expect(events.filter((e) => e.type === 'applied').map((e) => e.message.split(' ')[0])).toEqual(expect.arrayContaining(['create', 'replace']));
  }, 180_000);

  it('-f follows new lines as they are printed', async () => {
    const rev = await remote.commit({ 'web.yaml': service('web', { command: printer('v3', 400) }) }, 'v3');
    op!.trigger('push');
    const child = spawnBerth(['logs', 'test/web', '-f', '--grep', '^v3 ', '--output', 'json', ...client()]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += String(d); });
    try {
      await op!.waitPass((p) => p.desired?.revision === rev, 'v3 in force', 60_000);
      await waitFor(() => out.split('\n').filter(Boolean).length >= 20, { what: `20 followed lines (got: ${out.slice(-200)})`, timeoutMs: 30_000 });
      const seen = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredLine).slice(0, 20);
      const number = (l: StoredLine) => Number(l.text.split(' ')[1]);
      // In order within each stream; across stdout and stderr the engine's timestamps may swap neighbours.
      expect(seen.map(number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      for (const stream of ['stdout', 'stderr']) {
        const own = seen.filter((l) => l.stream === stream).map(number);
        expect(own).toEqual([...own].sort((a, b) => a - b));
      }
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});

describe('berth run SIGKILLed mid-stream', () => {
  it('loses and duplicates no line once started again on the same state', async () => {
    const inst = uniqueInstance('logkill');
    const repo = await makeRemote({ 'seq.yaml': service('seq', { command: ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo "n $i"; [ $((i % 100)) -eq 0 ] && sleep 0.2; done; exec sleep 3600'] }) });
    const stateDir = await fs.mkdtemp('/tmp/berth-logkill-');
    recordProxy(stateDir, inst);
    let second: TestOperator | undefined;
    try {
      const child = spawnBerth(['run', '--repo', repo.url, '--instance', inst, '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--interval', '1h', '--proxy-workers', '1', '--log-level', 'debug']);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => { stderr += String(d); });
      // Killed while the container prints (its 3000 lines take about 6 s).
      await waitFor(() => /applied type=create/.test(stderr), { what: `the replica created (stderr: ${stderr.slice(-400)})`, timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 2500));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // The killed operator had stored part of the output: the one started again resumes from its cursor.
      const before = LogStore.open(storePath(stateDir, inst), { retentionMs: 86_400_000, maxBytes: 1 << 30 });
      const storedBefore = before.stats().lines;
      before.close();
      expect(storedBefore).toBeGreaterThan(0);
      expect(storedBefore).toBeLessThan(3000);
      second = await startTestOperator(repo.url, inst, {}, { stateDir });
      const url = second.url;
      const lines = async (): Promise<StoredLine[]> => {
        const r = await berth(['logs', 'test/seq', '--output', 'json', '--server', url, '--state-dir', stateDir]);
        return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredLine);
      };
      await waitFor(async () => (await lines()).length >= 3000, { what: '3000 lines stored', timeoutMs: 60_000, intervalMs: 500 });
      const got = (await lines()).map((l) => Number(l.text.split(' ')[1]));
      expect(got).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    } finally {
      await second?.stop();
      await stopProxyProcess(stateDir, inst);
      await fs.rm(stateDir, { recursive: true, force: true });
      await repo.close();
      await cleanupInstance(docker, inst);
    }
  }, 180_000);
});

describe('a log store that cannot be opened', () => {
  it('leaves the operator converging and healing, with the problem in status and berth status', async () => {
    const inst = uniqueInstance('logbad');
    const repo = await makeRemote({ 'web.yaml': service('web', { command: ['sleep', '3600'] }) });
    const stateDir = await fs.mkdtemp('/tmp/berth-logbad-');
    // A directory where the database file should be: SQLite cannot open it.
    await fs.mkdir(storePath(stateDir, inst));
    let bad: TestOperator | undefined;
    try {
      bad = await startTestOperator(repo.url, inst, {}, { stateDir });
      const p = bad.passes.find((r) => r.converged) ?? await bad.waitPass((r) => r.converged, 'converged without a log store', 60_000);
      expect(p.status.logs).toMatchObject({ store: 'failing', file: storePath(stateDir, inst) });
      expect(p.status.logs!.error).toContain('cannot open the log store');
      const st = await berth(['status', '--server', bad.url, '--state-dir', stateDir]);
      expect(st.stdout).toContain('log store failing');
      const q = await berth(['logs', 'test/web', '--server', bad.url, '--state-dir', stateDir]);
      expect(q.code).toBe(1);
      expect(q.stderr).toContain('answered 503: the log store is not open');
      // Healing goes on: a replica removed by hand comes back.
      const [c] = await docker.listContainers({ filters: { label: [`berth.instance=${inst}`, 'berth.service=web'] } });
      await docker.getContainer(c!.Id).remove({ force: true });
      await waitFor(async () => (await docker.listContainers({ filters: { label: [`berth.instance=${inst}`, 'berth.service=web'] } })).length === 1, { what: 'the replica back', timeoutMs: 60_000 });
    } finally {
      await bad?.stop();
      await repo.close();
      await fs.rm(stateDir, { recursive: true, force: true });
      await cleanupInstance(docker, inst);
    }
  }, 120_000);
});
