/** The core loop against the real engine and a real git smart-HTTP server: converge, scale, change, prune, reject, recover. */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { condition, containersOf, runningOf, service, startTestOperator, statusFromBranch, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('conv');
const SECRET = 'hook-secret';
let remote: Remote;
let op: TestOperator;

const volume = 'apiVersion: berth/v1\nkind: Volume\nmetadata: { name: data, namespace: test }\n';
const withVolume = service('db', { extra: '  volumes: [{ volume: data, mountPath: /data }]' });
const built = [
  'apiVersion: berth/v1', 'kind: Service', 'metadata: { name: site, namespace: test }',
  'spec:', '  build: { context: images/site }', '  command: [sh, -c, "cat /greeting; exec sleep 3600"]', '',
].join('\n');

async function push(files: Record<string, string | null>, message: string): Promise<string> {
  const sha = await remote.commit(files, message);
  const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
  const sig = 'sha256=' + crypto.createHmac('sha256', SECRET).update(body).digest('hex');
  const res = await fetch(`${op.url}/hooks/git`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': sig } });
  expect(res.status).toBe(202);
  return sha;
}

const applied = (sha: string) => (r: { status: { revision: { applied: string | null } }; converged: boolean }) => r.status.revision.applied === sha && r.converged;

beforeAll(async () => {
  remote = await makeRemote({
    'web.yaml': service('web', { replicas: 2, env: { GREETING: 'hello' } }),
    'db.yaml': `${volume}---\n${withVolume}`,
    'site.yaml': built,
    'images/site/Dockerfile': 'FROM berth-local/busybox:1\nCOPY greeting /greeting\n',
    'images/site/greeting': 'v1\n',
  });
  op = await startTestOperator(remote.url, instance, { 'webhook-secret': SECRET });
});

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

describe('core loop', () => {
  it('converges the first revision: replicas, labels, volume, built image, status commit', async () => {
    const head = (await remote.git(['rev-parse', 'HEAD'])).trim();
    const r = await op.waitPass(applied(head), 'first converge');
    expect(r.error).toBeNull();
    const web = await runningOf(docker, instance, 'web');
    expect(web.map((c) => c.Labels['berth.replica'])).toEqual(['1', '2']);
    const labels = web[0]!.Labels;
    expect(labels).toMatchObject({ 'berth.managed': 'true', 'berth.instance': instance, 'berth.namespace': 'test', 'berth.service': 'web', 'berth.revision': head });
    expect(labels['berth.spec-hash']).toMatch(/^[0-9a-f]{16}$/);
    expect(web[0]!.Names[0]).toBe(`/berth.${instance}.test.web.1.${labels['berth.spec-hash']!.slice(0, 10)}`);
    const inspect = await docker.getContainer(web[0]!.Id).inspect();
    expect(inspect.Config.Env).toContain('GREETING=hello');
    const db = await runningOf(docker, instance, 'db');
    const dbInspect = await docker.getContainer(db[0]!.Id).inspect();
    expect(dbInspect.Mounts[0]).toMatchObject({ Type: 'volume', Name: `berth.${instance}.test.data`, Destination: '/data' });
    const site = await runningOf(docker, instance, 'site');
    expect(site[0]!.Image).toMatch(/^berth\.local\/test\/site:[0-9a-f]{16}$/);
    const logs = await waitFor(async () => {
      const buf = (await docker.getContainer(site[0]!.Id).logs({ stdout: true, follow: false })) as unknown as Buffer;
      return buf.toString('utf8').includes('v1') ? buf : undefined;
    }, { what: 'site prints the greeting from the build context' });
    expect(logs.length).toBeGreaterThan(0);

    const status = await waitFor(() => statusFromBranch(remote.bareDir, instance).then((s) => (s?.doc.revision.applied === head ? s : undefined)), { what: 'status commit' });
    expect(condition(status.doc, 'Ready')).toMatchObject({ status: 'True', reason: 'Converged' });
    expect(condition(status.doc, 'Stalled')?.status).toBe('False');
    expect(status.doc.services['test/web']).toMatchObject({ desired: 2, running: 2, image: 'berth-local/busybox:1' });
    expect(status.doc.lastError).toBeNull();
  });

  it('writes no status commit when nothing changed', async () => {
    const before = await statusFromBranch(remote.bareDir, instance);
    const n = op.passes.length;
    op.trigger('test');
    await op.waitPass(() => op.passes.length > n, 'an idle pass');
    const after = await statusFromBranch(remote.bareDir, instance);
    expect(after?.commits).toBe(before?.commits);
  });

  it('scales up and down', async () => {
    const up = await push({ 'web.yaml': service('web', { replicas: 4, env: { GREETING: 'hello' } }) }, 'scale up');
    await op.waitPass(applied(up), 'scale up');
    const idsBefore = (await runningOf(docker, instance, 'web')).map((c) => c.Id);
    expect(idsBefore).toHaveLength(4);
    const down = await push({ 'web.yaml': service('web', { replicas: 1, env: { GREETING: 'hello' } }) }, 'scale down');
    await op.waitPass(applied(down), 'scale down');
    const after = await containersOf(docker, instance, 'web');
    expect(after.map((c) => c.Labels['berth.replica'])).toEqual(['1']);
    expect(after[0]!.Id).toBe(idsBefore[0]);
  });

  it('replaces replicas when the spec changes, new before old', async () => {
    const old = (await runningOf(docker, instance, 'web'))[0]!;
    const sha = await push({ 'web.yaml': service('web', { replicas: 1, env: { GREETING: 'bonjour' } }) }, 'change env');
    const r = await op.waitPass(applied(sha), 'env change applied');
    expect(r.plan?.actions.map((a) => [a.type, a.reason])).toContainEqual(['replace', 'spec changed (env GREETING changed)']);
    const now = await containersOf(docker, instance, 'web');
    expect(now).toHaveLength(1);
    expect(now[0]!.Id).not.toBe(old.Id);
    const created = Date.parse((await docker.getContainer(now[0]!.Id).inspect()).State.StartedAt);
    expect(created).toBeLessThan(Date.now());
  });

  it('rejects an invalid revision whole: nothing touched, error with file:line in status, then recovers', async () => {
    const before = (await containersOf(docker, instance)).map((c) => c.Id).sort();
    const bad = await push({ 'web.yaml': service('web', { replicas: 1 }).replace('replicas: 1', 'replicas: many'), 'db.yaml': null }, 'bad revision');
    const r = await op.waitPass((p) => p.status.revision.latest === bad, 'bad revision seen');
    expect(r.error?.code).toBe('E_SCHEMA');
    expect(condition(r.status, 'Stalled')).toMatchObject({ status: 'True', reason: 'ValidationFailed' });
    expect(r.status.lastError?.message).toContain('web.yaml:7:13: spec.replicas: must be integer');
    expect((await containersOf(docker, instance)).map((c) => c.Id).sort()).toEqual(before);
    const status = await waitFor(() => statusFromBranch(remote.bareDir, instance).then((s) => (s?.doc.revision.latest === bad ? s : undefined)), { what: 'stalled status committed' });
    expect(status.doc.revision.applied).not.toBe(bad);

    const empty = await push({ 'web.yaml': null, 'site.yaml': null, 'README.md': 'nothing here\n' }, 'empty revision');
    const e = await op.waitPass((p) => p.status.revision.latest === empty, 'empty revision seen');
    expect(e.error?.code).toBe('E_EMPTY_REVISION');
    expect((await containersOf(docker, instance)).map((c) => c.Id).sort()).toEqual(before);

    const good = await push({ 'web.yaml': service('web', { replicas: 1, env: { GREETING: 'bonjour' } }), 'site.yaml': built }, 'fix it, and drop db');
    const ok = await op.waitPass(applied(good), 'recovered');
    expect(condition(ok.status, 'Ready')?.status).toBe('True');
    expect(await containersOf(docker, instance, 'db')).toHaveLength(0);
    const vols = await docker.listVolumes({ filters: { label: [`berth.instance=${instance}`] } });
    expect(vols.Volumes.map((v) => v.Name)).toContain(`berth.${instance}.test.data`);
  });

  it('answers webhooks: bad signature 401, ping 200', async () => {
    const bad = await fetch(`${op.url}/hooks/git`, { method: 'POST', body: '{}', headers: { 'x-hub-signature-256': 'sha256=00' } });
    expect(bad.status).toBe(401);
    const body = '{"zen":"hi"}';
    const sig = 'sha256=' + crypto.createHmac('sha256', SECRET).update(body).digest('hex');
    const ping = await fetch(`${op.url}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': sig, 'x-github-event': 'ping' } });
    expect(ping.status).toBe(200);
    const health = await fetch(`${op.url}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`${op.url}/metrics`, { headers: op.auth })).text();
    expect(metrics).toMatch(/berth_passes_total\{result="ok"\} \d+/);
  });
});
