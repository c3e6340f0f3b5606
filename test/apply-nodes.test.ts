/** `berth apply` with Node manifests connects the revision's nodes and schedules across them, as `berth plan` and `berth run` do. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance } from './helpers/docker.ts';
import { extraEngines } from './helpers/engines.ts';
import { berth } from './helpers/cli.ts';

const docker = testDocker();
const { e1 } = extraEngines();
const instance = uniqueInstance('apply-nodes');
let remote: Remote;
let stateDir: string;

const nodes = `apiVersion: berth/v1
kind: Node
metadata: { name: main }
spec: { endpoint: "unix:///var/run/docker.sock", labels: { zone: a } }
---
apiVersion: berth/v1
kind: Node
metadata: { name: e1 }
spec: { endpoint: "${e1.endpoint}", labels: { zone: b } }
`;

const pinned = `apiVersion: berth/v1
kind: Service
metadata: { name: pinned, namespace: an }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  replicas: 2
  placement: { constraints: ["node.labels.zone == b"] }
`;

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-apply-nodes-'));
  remote = await makeRemote({ 'nodes.yaml': nodes, 'pinned.yaml': pinned });
});

afterAll(async () => {
  await remote?.close();
  await cleanupInstance(docker, instance);
  await cleanupInstance(e1.docker, instance);
  await fs.rm(stateDir, { recursive: true, force: true });
});

describe('berth apply across nodes', () => {
  it('places replicas on the node their constraint names', async () => {
    const r = await berth(['apply', '--repo', remote.url, '--instance', instance, '--state-dir', stateDir]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const filters = { label: [`berth.instance=${instance}`, 'berth.service=pinned'], status: ['running'] };
    expect(await e1.docker.listContainers({ filters })).toHaveLength(2);
    expect(await docker.listContainers({ filters })).toHaveLength(0);
  });
});
