/**
 * Jobs across nodes on real engines (the main one and berth-e1, as Nodes): the scheduler places each attempt like a
 * Service replica. A Job of 4 completions, 2 at a time, runs on both engines and succeeds, its status naming each
 * attempt's node; a Job constrained to one zone runs only there; one that fits on no node (its zone's node cordoned)
 * waits, explained, without a failed attempt and without a container anywhere, and runs once the node is uncordoned.
 * Node e1 is berth-e1 reached through a loopback relay this test closes: while e1 is silent its attempt is left alone
 * (no second start); past --node-grace it is lost and the completion runs again on main, not counted as failed; once
 * e1 answers, the lost attempt still running there is stopped.
 */
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, TEST_IMAGE, testDocker, uniqueInstance } from './helpers/docker.ts';
import { extraEngines } from './helpers/engines.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { createRelay } from './helpers/net.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { JobStatus } from '../operator/jobs/plan.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const { e1 } = extraEngines();
const instance = uniqueInstance('jobs-nodes');
let remote: Remote;
let op: TestOperator | undefined;
/** Node e1 is berth-e1 reached through this relay: closing it makes the node silent. */
const relay = createRelay('/run/berth-engines/e1/docker.sock');

const nodes = (e1Cordoned = false, mainCordoned = false) => `apiVersion: berth/v1
kind: Node
metadata: { name: main }
spec: { endpoint: "unix:///var/run/docker.sock", labels: { zone: a }, unschedulable: ${mainCordoned} }
---
apiVersion: berth/v1
kind: Node
metadata: { name: e1 }
spec: { endpoint: "tcp://127.0.0.1:${relay.port()}", labels: { zone: b }, unschedulable: ${e1Cordoned} }
`;

const job = (name: string, spec: string): string => `apiVersion: berth/v1\nkind: Job\nmetadata: { name: ${name}, namespace: test }\nspec:\n  image: ${TEST_IMAGE}\n${spec}`;
// Each attempt runs 2 s, so the two of a pass overlap and spread over both nodes.
const SPREAD = job('spread', '  command: [sh, -c, "sleep 2"]\n  completions: 4\n  parallelism: 2\n');
const PINNED = job('pinned', '  command: [sh, -c, "echo ok"]\n  completions: 2\n  parallelism: 2\n  placement: { constraints: ["node.labels.zone == b"] }\n');
const LONG = job('long', '  command: [sleep, "3600"]\n  backoffLimit: 0\n');
const WAITS = job('waits', '  command: [sh, -c, "echo later"]\n  placement: { constraints: ["node.labels.zone == b"] }\n');

beforeAll(async () => {
  await relay.open();
  remote = await makeRemote({ 'nodes.yaml': nodes(), 'spread.yaml': SPREAD });
  op = await startTestOperator(remote.url, instance, { 'node-grace': '2s' });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await relay.close();
  await remote?.close();
  await Promise.all([docker, e1.docker].map((d) => cleanupInstance(d, instance)));
}, 60_000);

/** Containers of Job `name` of this instance on one engine (any state). */
async function containersOn(engine: Dockerode, name: string): Promise<Dockerode.ContainerInfo[]> {
  return engine.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.kind=Job', `berth.job=${name}`] } });
}

const statusOf = (p: PassResult, key: string): JobStatus | undefined => (p.status as { jobs?: Record<string, JobStatus> }).jobs?.[key];

async function waitJob(key: string, pred: (s: JobStatus) => boolean, what: string, timeoutMs = 60_000): Promise<PassResult> {
  // Passes come from container events; the timer only makes them prompt.
  const timer = setInterval(() => op!.trigger('test'), 500);
  try {
    return await op!.waitPass((p) => { const s = statusOf(p, key); return s !== undefined && pred(s); }, what, timeoutMs);
  } finally {
    clearInterval(timer);
  }
}

describe('Jobs across nodes', () => {
  it('places the attempts of a Job on both nodes (4 completions, 2 at a time) and succeeds; status names the nodes', async () => {
    const done = await waitJob('test/spread', (s) => s.phase === 'Succeeded', 'job spread succeeded', 90_000);
    const st = statusOf(done, 'test/spread')!;
    expect(st).toMatchObject({ desired: 4, ready: 4, failed: 0, health: 'Healthy' });
    expect(st.attempts.map((a) => [a.completion, a.attempt, a.state])).toEqual([1, 2, 3, 4].map((c) => [c, 1, 'succeeded']));
    expect(new Set(st.attempts.map((a) => a.node))).toEqual(new Set(['main', 'e1']));
    const [onMain, onE1] = await Promise.all([containersOn(docker, 'spread'), containersOn(e1.docker, 'spread')]);
    expect(onMain.length).toBeGreaterThanOrEqual(1);
    expect(onE1.length).toBeGreaterThanOrEqual(1);
    expect(onMain.length + onE1.length).toBe(4);
    // Each attempt's node in status is the engine its container is on.
    const byName = new Map([...onMain.map((c) => [c.Names[0]!.slice(1), 'main'] as const), ...onE1.map((c) => [c.Names[0]!.slice(1), 'e1'] as const)]);
    for (const a of st.attempts) expect(byName.get(a.container)).toBe(a.node);
  }, 120_000);

  it('honours a placement constraint: every attempt on the node of zone b', async () => {
    await remote.commit({ 'pinned.yaml': PINNED }, 'a job pinned to zone b');
    const done = await waitJob('test/pinned', (s) => s.phase === 'Succeeded', 'job pinned succeeded', 60_000);
    expect(statusOf(done, 'test/pinned')!.attempts.map((a) => a.node)).toEqual(['e1', 'e1']);
    expect(await containersOn(e1.docker, 'pinned')).toHaveLength(2);
    expect(await containersOn(docker, 'pinned')).toHaveLength(0);
  }, 90_000);

  it('an attempt that fits on no node waits with the reason, is not a failure and creates nothing; it runs once a node fits', async () => {
    await remote.commit({ 'nodes.yaml': nodes(true), 'waits.yaml': WAITS }, 'e1 cordoned; a job only e1 could take');
    const p = await waitJob('test/waits', (s) => s.message?.includes('attempt(s) pending') === true, 'job waits waiting for a node', 30_000);
    expect(statusOf(p, 'test/waits')).toMatchObject({ phase: 'Pending', failed: 0, attempts: [], message: '1 attempt(s) pending: 0/2 nodes available: 1 node unschedulable, 1 node.labels.zone == b not met' });
    expect(p.converged).toBe(false);
    expect(p.plan?.actions.some((a) => a.type === 'run-job' && a.job === 'test/waits')).toBe(false);
    expect(p.pending?.actions.some((a) => a.type === 'run-job' && a.job === 'test/waits')).toBe(true);
    for (let i = 0; i < 2; i++) await (op!.trigger('again'), op!.waitPass(() => true, `pass ${i}`));
    expect([...await containersOn(docker, 'waits'), ...await containersOn(e1.docker, 'waits')]).toHaveLength(0);

    await remote.commit({ 'nodes.yaml': nodes(false) }, 'e1 uncordoned');
    const done = await waitJob('test/waits', (s) => s.phase === 'Succeeded', 'job waits succeeded on e1', 60_000);
    expect(statusOf(done, 'test/waits')).toMatchObject({ failed: 0, ready: 1, attempts: [{ completion: 1, attempt: 1, state: 'succeeded', node: 'e1' }] });
    expect(await containersOn(e1.docker, 'waits')).toHaveLength(1);
  }, 120_000);

  it('a silent node: its attempt is left alone; past the grace it is lost and runs again elsewhere, not failed; back, the old one is stopped', async () => {
    // main cordoned: attempt 1 can only go to e1.
    await remote.commit({ 'nodes.yaml': nodes(false, true), 'long.yaml': LONG, 'waits.yaml': null }, 'a long job on e1');
    await waitJob('test/long', (s) => s.attempts[0]?.state === 'running' && s.attempts[0].node === 'e1', 'long attempt 1 running on e1');
    await remote.commit({ 'nodes.yaml': nodes() }, 'main uncordoned');
    await waitJob('test/long', () => true, 'uncordoned');
    await relay.close();
    const lost = await waitJob('test/long', (s) => s.attempts.some((a) => a.attempt === 2 && a.state === 'running'), 'long attempt 2 running on main', 60_000);
    expect(lost.status.nodes?.find((n) => n.name === 'e1')?.state).toBe('NotReady');
    // Before the grace passed no pass started a second attempt while e1 was only Unknown.
    const unknown = op!.passes.filter((p) => p.status.nodes?.find((n) => n.name === 'e1')?.state === 'Unknown');
    expect(unknown.length).toBeGreaterThan(0);
    for (const p of unknown) expect(statusOf(p, 'test/long')!.attempts.map((a) => a.attempt)).toEqual([1]);
    expect(statusOf(lost, 'test/long')).toMatchObject({ phase: 'Running', failed: 0 });
    expect(statusOf(lost, 'test/long')!.attempts.map((a) => [a.attempt, a.state, a.node])).toEqual([[1, 'lost', 'e1'], [2, 'running', 'main']]);
    expect((await containersOn(e1.docker, 'long')).map((c) => c.State)).toEqual(['running']); // left alone on the silent engine

    await relay.open(); // same port: e1 answers again
    const back = await waitJob('test/long', (s) => s.attempts[0]?.state === 'lost' && s.attempts[0].exitCode !== undefined, 'lost attempt 1 stopped on e1', 60_000);
    expect(statusOf(back, 'test/long')).toMatchObject({ phase: 'Running', failed: 0 });
    expect((await containersOn(e1.docker, 'long')).map((c) => c.State)).toEqual(['exited']);
    expect((await containersOn(docker, 'long')).map((c) => c.State)).toEqual(['running']);
    await remote.commit({ 'long.yaml': null }, 'long job removed');
  }, 150_000);
});
