/**
 * A mixed cluster: the main Docker engine and Podman (scripts/podman.sh) as two `kind: Node`s. Replicas spread over
 * both; an image that only Docker has is streamed to Podman (`save | load`), one that only Podman has (loaded there,
 * so named `localhost/...`) is streamed to Docker and found by its own name; a Podman replica removed by hand is
 * replaced through Podman's events; each node's engine shows in the status with Podman's limits. Runs in the podman
 * project of vitest.config.ts (it needs the Podman service).
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../operator/model/keys.ts';
import type { NodeStatus } from '../operator/model/cluster.ts';
import { cleanupInstance, PODMAN_SOCKET, TEST_IMAGE, uniqueInstance, waitFor } from './helpers/docker.ts';
import { loadImage } from './helpers/engines.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = new Dockerode({ socketPath: '/var/run/docker.sock' });
const podman = new Dockerode({ socketPath: PODMAN_SOCKET });
const instance = uniqueInstance('podman-nodes');
const dockerOnly = `berth-test/${instance}:docker-only`;
const podmanOnly = `berth-test/${instance}:podman-only`;
let remote: Remote;
let op: TestOperator;
let relay: OldEngine;

/**
 * Podman behind a relay that answers /version with API 1.40, as an engine too old for berth would: every other
 * request reaches Podman unchanged. Counts the creates that reach it.
 */
interface OldEngine { socket: string; creates: number; close(): Promise<void> }
async function oldEngine(): Promise<OldEngine> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-old-engine-'));
  const socket = path.join(dir, 'engine.sock');
  const state = { creates: 0 };
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && /\/containers\/create/.test(req.url ?? '')) state.creates += 1;
    const upstream = http.request({ socketPath: PODMAN_SOCKET, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      if (!/^(\/v[\d.]+)?\/version$/.test(req.url ?? '')) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = JSON.stringify({ ...JSON.parse(Buffer.concat(chunks).toString('utf8')), ApiVersion: '1.40' });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    get creates() { return state.creates; },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

const service = (name: string, image: string) => `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: mixed }
spec:
  image: ${image}
  command: [sh, -c, "mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www"]
  replicas: 2
  ports: [{ name: http, port: 8080 }]
  health:
    readiness: { http: { path: /, port: 8080 }, interval: 300ms, timeout: 250ms, failureThreshold: 1 }
  update: { monitor: 0s }
`;

/** Builds `tag` FROM the test image on `engine`, with a label making it a distinct image. */
async function buildOn(engine: Dockerode, tag: string): Promise<void> {
  const { pack } = await import('tar-stream');
  const context = pack();
  context.entry({ name: 'Dockerfile' }, `FROM ${TEST_IMAGE}\nLABEL berth-test.image="${tag}"\n`);
  context.finalize();
  const stream = await engine.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, labels: { [LABELS.instance]: instance } });
  await new Promise<void>((resolve, reject) => engine.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
}

async function running(engine: Dockerode, svc: string): Promise<Dockerode.ContainerInfo[]> {
  return engine.listContainers({ filters: { label: [`${LABELS.instance}=${instance}`, `${LABELS.service}=${svc}`], status: ['running'] } });
}

/** The nodes of berth's status (GET /v1/status). */
async function nodeStatuses(): Promise<NodeStatus[]> {
  return (await (await fetch(`${op.url}/v1/status`, { headers: op.auth })).json() as { nodes: NodeStatus[] }).nodes;
}

const present = (engine: Dockerode, ref: string) => engine.getImage(ref).inspect().then(() => true, () => false);

beforeAll(async () => {
  await loadImage(podman, TEST_IMAGE);
  await buildOn(docker, dockerOnly);
  // built on Docker, moved to Podman as a user would (docker save | podman load), then gone from Docker
  await buildOn(docker, podmanOnly);
  await loadImage(podman, podmanOnly, docker);
  await docker.getImage(podmanOnly).remove();
  relay = await oldEngine();
  remote = await makeRemote({
    'nodes.yaml': `apiVersion: berth/v1
kind: Node
metadata: { name: docker }
spec: { endpoint: "unix:///var/run/docker.sock" }
---
apiVersion: berth/v1
kind: Node
metadata: { name: podman }
spec: { endpoint: "unix://${PODMAN_SOCKET}" }
---
apiVersion: berth/v1
kind: Node
metadata: { name: old }
spec: { endpoint: "unix://${relay.socket}" }
`,
    'a.yaml': service('a', dockerOnly),
    'b.yaml': service('b', podmanOnly),
  });
  op = await startTestOperator(remote.url, instance, { docker: 'unix:///var/run/docker.sock' });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await relay?.close();
  await cleanupInstance(docker, instance);
  await cleanupInstance(podman, instance);
  for (const [engine, ref] of [[docker, dockerOnly], [docker, podmanOnly], [podman, dockerOnly], [podman, podmanOnly]] as const) {
    await engine.getImage(ref).remove({ force: true }).catch(() => undefined);
  }
});

describe('a Podman node beside a Docker node', () => {
  it('spreads replicas over both engines, streaming each image to the engine that lacks it', async () => {
    await op.reached((p) => p.converged && p.status.services['mixed/a']?.ready === 2 && p.status.services['mixed/b']?.ready === 2, 'both services ready', 90_000);
    for (const svc of ['a', 'b']) {
      expect((await running(docker, svc)).length, `${svc} on docker`).toBe(1);
      expect((await running(podman, svc)).length, `${svc} on podman`).toBe(1);
    }
    expect(await present(podman, dockerOnly)).toBe(true);
    // loaded from Podman's save as localhost/berth-test/...: tagged with the name the Service asks for
    expect(await present(docker, podmanOnly)).toBe(true);
    const [onDocker] = await running(docker, 'b');
    expect(onDocker!.Image).toBe(podmanOnly);
  });

  it('shows each engine in the node status, with what Podman does differently', async () => {
    const nodes = await nodeStatuses();
    const byName = new Map(nodes.map((n) => [n.name, n]));
    expect(byName.get('docker')).toMatchObject({ state: 'Ready', engine: expect.stringMatching(/^Docker \d+\./) });
    expect(byName.get('docker')?.limits).toBeUndefined();
    expect(byName.get('podman')).toMatchObject({ state: 'Ready', engine: expect.stringMatching(/^Podman 4\./) });
    expect(byName.get('podman')?.limits?.join('\n')).toMatch(/no in-place update/);
  });

  it('an engine too old for berth is NotReady naming what it lacks; nothing was created on it, the others serve', async () => {
    const nodes = await nodeStatuses();
    expect(nodes.find((n) => n.name === 'old')).toMatchObject({
      state: 'NotReady', engine: expect.stringMatching(/^Podman 4\./),
      error: expect.stringMatching(/^Podman 4\.\S+ lacks what berth needs: Docker API 1\.41 or newer \(the engine speaks 1\.40\)$/),
    });
    expect(relay.creates).toBe(0);
    expect(nodes.filter((n) => n.state === 'Ready').map((n) => n.name).sort()).toEqual(['docker', 'podman']);
  });

  it('replaces a replica removed by hand on Podman (its events reach berth)', async () => {
    const [victim] = await running(podman, 'a');
    await podman.getContainer(victim!.Id).remove({ force: true });
    const replaced = await waitFor(async () => {
      const now = await running(podman, 'a');
      return now.length === 1 && now[0]!.Id !== victim!.Id ? now[0] : undefined;
    }, { what: 'a new replica of a on podman', timeoutMs: 30_000 });
    expect(replaced.Labels[LABELS.service]).toBe('a');
  });
});
