/**
 * Node memory pressure on the real engine: one declared Node with a small memory capacity; when its
 * containers use more than --memory-high-mark of it, berth stops the lowest-priority replica (the one hogging memory),
 * keeps the high-priority one, says so in the status, and places nothing new on the node during the cool-down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, TEST_ENDPOINT, uniqueInstance, waitFor } from './helpers/docker.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('pressure');
let remote: Remote;
let op: TestOperator;

const node = `apiVersion: berth/v1
kind: Node
metadata: { name: small }
spec: { endpoint: "${TEST_ENDPOINT}", capacity: { memory: 64Mi } }
`;
const svc = (name: string, priority: number, command: string) => `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: test }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, '${command}']
  placement: { priority: ${priority} }
`;

beforeAll(async () => {
  remote = await makeRemote({
    'node.yaml': node,
    'keep.yaml': svc('keep', 100, 'exec sleep 3600'),
    // holds ~40 MB in a shell variable (the loop keeps the shell alive: ash execs a last plain command): over half of 64 MiB
    'hog.yaml': svc('hog', 0, 'x=$(yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | head -c 40000000); while :; do sleep 3600; done'),
  });
  op = await startTestOperator(remote.url, instance, { 'memory-high-mark': '50%' });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
}, 60_000);

describe('memory pressure', () => {
  it('stops the lowest-priority replica of a node over its high mark and keeps the others', async () => {
    await waitFor(async () => (await runningOf(docker, instance, 'hog')).length === 1 && (await runningOf(docker, instance, 'keep')).length === 1, { what: 'both running', timeoutMs: 60_000 });
    const keepId = (await runningOf(docker, instance, 'keep'))[0]!.Id;
    const r = await waitFor(async () => {
      op.trigger('test: look at memory');
      const last = op.passes.at(-1);
      return last?.status.nodes?.find((n) => n.name === 'small')?.memoryPressure && (await runningOf(docker, instance, 'hog')).length === 0 ? last : undefined;
    }, { what: 'hog evicted under memory pressure', timeoutMs: 60_000, intervalMs: 500 });
    expect(r.status.nodes?.find((n) => n.name === 'small')?.memoryPressure).toMatch(/^memory pressure: \d+ MiB of 64 MiB used, high mark 50 %$/);
    expect((await runningOf(docker, instance, 'keep')).map((c) => c.Id)).toEqual([keepId]);
    const after = await op.waitPass((p) => /pending/.test(p.status.services['test/hog']?.message ?? ''), 'hog pending during the cool-down', 30_000);
    expect(after.status.services['test/hog']!.message).toMatch(/1 replica\(s\) pending: 0\/1 nodes available: 1 node unschedulable/);
  }, 120_000);
});
