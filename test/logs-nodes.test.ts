/**
 * Logs of a replica on another node (berth-e1, a Node reached through a loopback relay this test closes): its lines
 * are stored with node e1; while the node is cut off the container goes on printing; once the relay is back, the
 * collector follows it again from its cursor: every sequence number once, in order, none lost, none twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth } from './helpers/cli.ts';
import { cleanupInstance, TEST_IMAGE, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { extraEngines } from './helpers/engines.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { createRelay } from './helpers/net.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { StoredLine } from '../operator/logs/store.ts';

const docker = testDocker();
const { e1 } = extraEngines();
const instance = uniqueInstance('logs-nodes');
const relay = createRelay('/run/berth-engines/e1/docker.sock');
let remote: Remote;
let op: TestOperator | undefined;
const COUNT = 300;

const files = () => ({
  'nodes.yaml': `apiVersion: berth/v1
kind: Node
metadata: { name: main }
spec: { endpoint: "unix:///var/run/docker.sock", labels: { zone: a } }
---
apiVersion: berth/v1
kind: Node
metadata: { name: e1 }
spec: { endpoint: "tcp://127.0.0.1:${relay.port()}", labels: { zone: b } }
`,
  // 300 numbered lines over about 6 s, on e1.
  'seq.yaml': `apiVersion: berth/v1
kind: Service
metadata: { name: seq, namespace: test }
spec:
  image: ${TEST_IMAGE}
  command: [sh, -c, "i=0; while [ $i -lt ${COUNT} ]; do i=$((i+1)); echo \\"n $i\\"; sleep 0.02; done; exec sleep 3600"]
  placement: { constraints: ["node.labels.zone == b"] }
`,
});

beforeAll(async () => {
  await relay.open();
  remote = await makeRemote(files());
  // A long grace: the node is only cut off for a moment, its replica must not be recreated elsewhere.
  op = await startTestOperator(remote.url, instance, { 'node-grace': '60s' });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await relay.close();
  await remote?.close();
  await Promise.all([docker, e1.docker].map((d) => cleanupInstance(d, instance)));
}, 60_000);

async function lines(): Promise<StoredLine[]> {
  const r = await berth(['logs', 'test/seq', '--output', 'json', '--server', op!.url, '--state-dir', op!.stateDir]);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredLine);
}

describe('logs of a node that is cut off and comes back', () => {
  it('stores every line of its replica once, in order, labelled with the node', async () => {
    await waitFor(async () => (await lines()).length >= 20, { what: 'the first lines from e1', timeoutMs: 60_000, intervalMs: 250 });
    await relay.close();
    await new Promise((r) => setTimeout(r, 2000)); // e1's container prints on, unread
    const during = (await lines()).length;
    await relay.open();
    const timer = setInterval(() => op!.trigger('test'), 500);
    try {
      await waitFor(async () => (await lines()).length >= COUNT, { what: `${COUNT} lines (got ${(await lines()).length})`, timeoutMs: 60_000, intervalMs: 500 });
    } finally {
      clearInterval(timer);
    }
    const got = await lines();
    expect(got.map((l) => Number(l.text.split(' ')[1]))).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    expect(new Set(got.map((l) => l.node))).toEqual(new Set(['e1']));
    expect(during).toBeLessThan(COUNT);
  }, 150_000);
});
