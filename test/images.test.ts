/**
 * Images from a registry, end to end: a real docker-registry (TLS with a test CA the engines trust through certs.d,
 * htpasswd auth), a real git server and berth run on the real engine. Pull on first converge with credentials from a
 * Docker config.json, replicas pinned to the digest, a re-pushed tag detected and rolled out with its reason, a
 * missing tag and refused credentials stalling the service while the running replicas stay, and the password in no
 * log line, status, status branch or error.
 */
import { Buffer } from 'node:buffer';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../operator/model/keys.ts';
import { cleanupInstance, testDocker, TEST_ENGINE, uniqueInstance, waitFor } from './helpers/docker.ts';
import { berth } from './helpers/cli.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, statusFromBranch, type TestOperator } from './helpers/operator.ts';
import { startTestRegistry, type TestRegistry } from './helpers/registry.ts';

const docker = testDocker();
const instance = uniqueInstance('images');
const instance2 = uniqueInstance('images-auth');
let registry: TestRegistry;
let remote: Remote;
let op: TestOperator;
let configDir: string;
let configFile: string;
const digests: Record<string, string> = {};

const api = (tag: string, replicas = 2): string => `apiVersion: berth/v1
kind: Service
metadata: { name: api, namespace: reg }
spec:
  image: ${registry.host}/shop/api:${tag}
  command: [sleep, "3600"]
  replicas: ${replicas}
  update: { monitor: 0s }
`;

async function writeConfig(password: string): Promise<void> {
  const auth = Buffer.from(`${registry.username}:${password}`).toString('base64');
  // a rename, so the operator never reads half a file
  await fs.writeFile(`${configFile}.tmp`, JSON.stringify({ auths: { [registry.host]: { auth } } }));
  await fs.rename(`${configFile}.tmp`, configFile);
}

/** The digests (berth.image.digest) of the running replicas of reg/api. */
async function runningDigests(): Promise<string[]> {
  return (await runningOf(docker, instance, 'api')).map((c) => c.Labels[LABELS.imageDigest] ?? `none (${c.Image})`).sort();
}

beforeAll(async () => {
  registry = await startTestRegistry();
  configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-images-'));
  configFile = path.join(configDir, 'config.json');
  await writeConfig(registry.password);
  digests.one = await registry.pushSized('shop/api:1', 1);
  digests.two = await registry.pushSized('shop/api:2', 1);
  remote = await makeRemote({ 'api.yaml': api('1') });
  op = await startTestOperator(remote.url, instance, { 'registry-config': configFile });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  // the images this test pulled: only references to this registry (its port is this run's own)
  for (const img of await docker.listImages({ filters: { reference: [`${registry.host}/*/*`] } }).catch(() => [])) {
    await docker.getImage(img.Id).remove({ force: true }).catch(() => undefined);
  }
  await registry?.stop();
  await fs.rm(configDir, { recursive: true, force: true });
});

describe('images from a registry', () => {
  it('pulls on the first converge with the config.json credentials and pins every replica to the tag\'s digest', async () => {
    const pass = await op.waitPass((p) => p.converged, 'first converge with the pulled image', 90_000);
    expect(await runningDigests()).toEqual([digests.one, digests.one]);
    const running = await runningOf(docker, instance, 'api');
    expect(running.map((c) => c.Image)).toEqual([`${registry.host}/shop/api@${digests.one}`, `${registry.host}/shop/api@${digests.one}`]);
    const status = pass.status.services['reg/api'];
    expect(status).toMatchObject({ image: `${registry.host}/shop/api:1`, digest: digests.one, ready: 2 });
    expect(status?.pulled).toMatchObject({ image: `${registry.host}/shop/api@${digests.one}`, nodes: [{ action: 'pulled', layers: expect.any(Number) }] });
    // the 1 MB layer, at least (Podman's pull progress carries no byte counts)
    if (TEST_ENGINE === 'docker') expect(status?.pulled?.nodes[0]?.bytes).toBeGreaterThan(1_000_000);
    const requests = await registry.settledRequests();
    // the engine pulled once (one manifest GET by digest, with the credentials: 200), berth resolved by HEAD
    expect(requests.filter((r) => r.method === 'GET' && r.path === `/v2/shop/api/manifests/${digests.one}` && r.status === 200)).toHaveLength(1);
    expect(requests.some((r) => r.method === 'HEAD' && r.path === '/v2/shop/api/manifests/1' && r.status === 200)).toBe(true);
    expect(op.recentLog().some((l) => l.includes('image pulled') && l.includes(digests.one!))).toBe(true);
  });

  it('detects a tag re-pushed in the registry on the next poll and rolls it out, naming both digests', async () => {
    digests.moved = await registry.pushSized('shop/api:1', 1);
    op.trigger('test: tag moved');
    await op.waitPass((p) => p.converged && p.status.services['reg/api']?.digest === digests.moved, 'rollout of the moved tag', 90_000);
    expect(await runningDigests()).toEqual([digests.moved, digests.moved]);
    const reason = op.recentLog().find((l) => l.includes('spec changed') && l.includes('now sha256:'));
    expect(reason).toContain(`image ${registry.host}/shop/api:1 now ${digests.moved!.slice(0, 19)}`);
    expect(reason).toContain(`was ${digests.one!.slice(0, 19)}`);
  });

  it('stalls on a tag the registry does not have, with its answer, and leaves the running replicas alone', async () => {
    await remote.commit({ 'api.yaml': api('9') }, 'a tag that does not exist');
    op.trigger('test: missing tag');
    const pass = await op.waitPass((p) => /MANIFEST_UNKNOWN/.test(p.status.services['reg/api']?.message ?? ''), 'ErrImagePull for the missing tag', 60_000);
    expect(pass.status.services['reg/api']?.message).toMatch(/^(ErrImagePull|ImagePullBackOff): registry 10\.98\.0\.1:\d+ answered 404 MANIFEST_UNKNOWN/);
    expect(await runningDigests()).toEqual([digests.moved, digests.moved]);
  });

  it('reports refused credentials without the password, runs nothing, and goes on once they are right', async () => {
    // its own operator and config file, wrong from the start (the file is re-read at most once a second: changing the
    // first operator's under it would race its next pass)
    const wrongFile = path.join(configDir, 'wrong.json');
    await fs.writeFile(wrongFile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:wrong-password-xyz`).toString('base64') } } }));
    const second = await makeRemote({ 'api.yaml': api('2', 1) });
    const other = await startTestOperator(second.url, instance2, { 'registry-config': wrongFile });
    try {
      const refused = await other.reached((p) => /401/.test(p.status.services['reg/api']?.message ?? ''), 'a 401 from the registry', 60_000);
      expect(refused.status.services['reg/api']?.message).toMatch(/^(ErrImagePull|ImagePullBackOff): .*401 UNAUTHORIZED/);
      expect(await runningOf(docker, instance2, 'api')).toHaveLength(0);
      await fs.writeFile(`${wrongFile}.tmp`, await fs.readFile(configFile));
      await fs.rename(`${wrongFile}.tmp`, wrongFile);
      // retried after its backoff (2 s, then 4 s, ...): a pass per second until one converges
      await waitFor(async () => {
        other.trigger('test: password fixed');
        const last = other.passes.at(-1);
        return last?.converged && last.status.services['reg/api']?.digest === digests.two;
      }, { timeoutMs: 60_000, intervalMs: 1_000, what: 'tag 2 running once the credentials were fixed' });
      expect((await runningOf(docker, instance2, 'api')).map((c) => c.Labels[LABELS.imageDigest])).toEqual([digests.two]);
      const log = other.recentLog().join('\n');
      expect(log).not.toContain('wrong-password-xyz');
      expect(log).not.toContain(registry.password);
    } finally {
      await other.stop();
      await second.close();
      await cleanupInstance(docker, instance2);
    }
  });

  it('commits the newest tag a semver imagePolicy allows into git, and rolls it out from there', async () => {
    digests.v300 = await registry.pushSized('shop/api:3.0.0', 1);
    digests.v310 = await registry.pushSized('shop/api:3.1.0', 1);
    await registry.pushSized('shop/api:4.0.0', 1);
    const manifest = api('3.0.0').replace('  update: { monitor: 0s }\n', '  update: { monitor: 0s }\n  # moved by berth within the range\n  imagePolicy: { semver: ">=3 <4", interval: 10s }\n');
    await remote.commit({ 'api.yaml': manifest }, 'api 3.0.0 with an image policy');
    op.trigger('test: image policy');
    await op.waitPass((p) => p.converged && p.status.services['reg/api']?.digest === digests.v310, 'berth committed 3.1.0 and rolled it out', 90_000);
    const log = await remote.git(['--git-dir', remote.bareDir, 'log', '-1', '--format=%s%n%b', 'main']);
    expect(log).toMatch(new RegExp(`^image: reg/api 3\\.0\\.0 -> 3\\.1\\.0 \\(${digests.v300!.slice(0, 19)}.* -> ${digests.v310!.slice(0, 19)}`));
    const file = await remote.git(['--git-dir', remote.bareDir, 'show', 'main:api.yaml']);
    expect(file).toBe(manifest.replace('shop/api:3.0.0', 'shop/api:3.1.0').trimEnd()); // git() trims its output
    expect(await runningDigests()).toEqual([digests.v310, digests.v310]);
    await remote.git(['pull', '--quiet', '--ff-only', 'origin', 'main']); // the work tree takes berth's commit
  });

  it('shows the digest each tag resolves to in berth plan, with no credential', async () => {
    const next = api('3.1.0', 3).replace('  update: { monitor: 0s }\n', '  update: { monitor: 0s }\n  imagePolicy: { semver: ">=3 <4", interval: 10s }\n');
    // on a branch of its own: the running berth (its image policy polls every 10 s) would apply it on main before the plan
    await fs.writeFile(path.join(remote.workDir, 'api.yaml'), next);
    await remote.git(['commit', '--quiet', '-am', 'three replicas']);
    await remote.git(['push', '--quiet', 'origin', 'HEAD:refs/heads/preview']);
    await remote.git(['reset', '--quiet', '--hard', 'HEAD~1']);
    const plan = ['plan', '--repo', remote.url, '--branch', 'preview', '--instance', instance, '--state-dir', op.stateDir, '--registry-config', configFile];
    const planned = await berth([...plan, '--format', 'json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`${registry.host}/shop/api:3.1.0 (${digests.v310})`);
    const text = await berth(plan);
    expect(text.stdout).toMatch(/1 to create/);
    for (const out of [planned.stdout, planned.stderr, text.stdout, text.stderr]) {
      expect(out).not.toContain(registry.password);
      expect(out).not.toContain(Buffer.from(`${registry.username}:${registry.password}`).toString('base64'));
    }
  });

  it('never lets the registry password out: logs, status, status branch, errors', async () => {
    await op.reconciler.flushStatus();
    const secrets = [registry.password, Buffer.from(`${registry.username}:${registry.password}`).toString('base64')];
    const branch = await statusFromBranch(remote.bareDir, instance);
    const api = await fetch(`${op.url}/v1/status`, { headers: op.auth }).then((r) => r.text());
    const places = { log: op.recentLog().join('\n'), status: JSON.stringify(op.passes.map((p) => p.status)), errors: op.passes.map((p) => p.error?.message ?? '').join('\n'), branch: branch?.text ?? '', api };
    for (const [where, text] of Object.entries(places)) for (const s of secrets) expect(text.includes(s), `${where} holds a credential`).toBe(false);
    expect(branch?.text).toContain('reg/api');
  });
});
