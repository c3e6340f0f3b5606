/**
 * Registry images across two nodes (the main engine and berth-e1): 3 replicas spread over both all run the one
 * digest the tag resolved to in that pass, each node pulls the image once (counted in the registry's own access
 * log), and a tag moved in the registry rolls out to the same new digest on both nodes.
 */
import { Buffer } from 'node:buffer';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../operator/model/keys.ts';
import { cleanupInstance, testDocker, uniqueInstance } from './helpers/docker.ts';
import { extraEngines } from './helpers/engines.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';
import { startTestRegistry, type TestRegistry } from './helpers/registry.ts';

const docker = testDocker();
const { e1 } = extraEngines();
const instance = uniqueInstance('images-nodes');
let registry: TestRegistry;
let remote: Remote;
let op: TestOperator;
let configDir: string;
const digests: Record<string, string> = {};

const manifests = (): Record<string, string> => ({
  'nodes.yaml': `apiVersion: berth/v1
kind: Node
metadata: { name: main }
spec: { endpoint: "unix:///var/run/docker.sock" }
---
apiVersion: berth/v1
kind: Node
metadata: { name: e1 }
spec: { endpoint: "${e1.endpoint}" }
`,
  'web.yaml': `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: regn }
spec:
  image: ${registry.host}/nodes/web:1
  command: [sleep, "3600"]
  replicas: 3
  update: { monitor: 0s }
`,
});

/** Digest label per node of the running replicas of regn/web. */
async function placement(): Promise<{ main: string[]; e1: string[] }> {
  const list = async (d: Docker) => (await d.listContainers({ filters: { label: [`${LABELS.instance}=${instance}`, `${LABELS.service}=web`], status: ['running'] } }))
    .map((c) => c.Labels[LABELS.imageDigest] ?? 'none').sort();
  return { main: await list(docker), e1: await list(e1.docker) };
}

/** Manifest GETs by digest that answered 200: one per pull by an engine. */
async function pullsOf(digest: string): Promise<number> {
  return (await registry.settledRequests()).filter((r) => r.method === 'GET' && r.path === `/v2/nodes/web/manifests/${digest}` && r.status === 200).length;
}

beforeAll(async () => {
  registry = await startTestRegistry();
  configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-images-nodes-'));
  await fs.writeFile(path.join(configDir, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } } }));
  digests.one = await registry.pushSized('nodes/web:1', 2);
  remote = await makeRemote(manifests());
  op = await startTestOperator(remote.url, instance, { 'registry-config': path.join(configDir, 'config.json') });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await cleanupInstance(e1.docker, instance);
  for (const d of [docker, e1.docker]) {
    for (const img of await d.listImages({ filters: { reference: [`${registry.host}/*/*`] } }).catch(() => [])) await d.getImage(img.Id).remove({ force: true }).catch(() => undefined);
  }
  await registry?.stop();
  await fs.rm(configDir, { recursive: true, force: true });
});

describe('registry images on two nodes', () => {
  it('runs one digest on every replica of both nodes, each node pulling it once', async () => {
    const pass = await op.waitPass((p) => p.converged && (p.status.services['regn/web']?.ready ?? 0) === 3, '3 replicas over 2 nodes', 120_000);
    expect(pass.status.services['regn/web']?.digest).toBe(digests.one);
    const where = await placement();
    expect(where.main.length + where.e1.length).toBe(3);
    expect(where.main.length).toBeGreaterThan(0);
    expect(where.e1.length).toBeGreaterThan(0);
    expect([...where.main, ...where.e1]).toEqual([digests.one, digests.one, digests.one]);
    expect(await pullsOf(digests.one!)).toBe(2); // one per node, whatever the replicas per node
  });

  it('rolls a moved tag out to the same new digest on both nodes', async () => {
    digests.two = await registry.pushSized('nodes/web:1', 2);
    op.trigger('test: tag moved');
    await op.waitPass((p) => p.converged && p.status.services['regn/web']?.digest === digests.two && (p.status.services['regn/web']?.ready ?? 0) === 3, 'the new digest on 3 replicas', 120_000);
    const where = await placement();
    expect([...where.main, ...where.e1]).toEqual([digests.two, digests.two, digests.two]);
    expect(await pullsOf(digests.two!)).toBe(2);
  });
});
