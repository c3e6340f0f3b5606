/** Health checks and self-healing on the real engine: readiness, liveness replacement, crash-loop backoff, gated updates with rollback, alerts. */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, execIn, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { containersOf, runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const instance = uniqueInstance('heal');
let remote: Remote;
let op: TestOperator;
let receiver: http.Server;
const alerts: { text: string; kind: string; key: string }[] = [];

const SERVE = (file: string) => `mkdir -p /www && echo ok > /www/${file} && exec httpd -f -p 8080 -h /www`;

function web(opts: { replicas?: number; serve?: string; env?: string; failureAction?: string } = {}): string {
  return `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: heal }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "${SERVE(opts.serve ?? 'healthz')}"]
  env: { VERSION: "${opts.env ?? '1'}" }
  replicas: ${opts.replicas ?? 2}
  ports: [{ name: http, port: 8080 }]
  health:
    readiness: { http: { path: /healthz, port: 8080 }, interval: 300ms, timeout: 250ms, failureThreshold: 2 }
  update: { order: start-first, parallelism: 1, monitor: 500ms, failureAction: ${opts.failureAction ?? 'rollback'} }
`;
}

const live = `apiVersion: berth/v1
kind: Service
metadata: { name: live, namespace: heal }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /tmp && touch /tmp/alive && exec sleep 3600"]
  health:
    liveness: { exec: { command: [cat, /tmp/alive] }, interval: 500ms, timeout: 450ms, failureThreshold: 2 }
`;

const crash = `apiVersion: berth/v1
kind: Service
metadata: { name: crash, namespace: heal }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "echo boom; exit 3"]
`;

const service = (r: PassResult, key: string) => r.status.services[key];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => { alerts.push(JSON.parse(body)); res.end('ok'); });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as { port: number }).port;
  remote = await makeRemote({ 'web.yaml': web(), 'live.yaml': live });
  op = await startTestOperator(remote.url, instance, { 'alert-webhook': [`http://127.0.0.1:${port}/hook`], interval: '2s' });
});

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await new Promise((r) => receiver?.close(r));
});

describe('health and self-healing', () => {
  it('reports replicas ready once their readiness probe passes', async () => {
    const r = await op.waitPass((p) => service(p, 'heal/web')?.ready === 2, 'web ready 2/2');
    expect(service(r, 'heal/web')).toMatchObject({ desired: 2, running: 2, ready: 2, health: 'Healthy' });
    const reg = await waitFor(async () => {
      const body = await (await fetch(`${op.url}/v1/services/heal/web/endpoints?ready=true`, { headers: op.auth })).json() as { endpoints: { port: number; ready: boolean; replica: string }[] };
      return body.endpoints.length === 2 ? body : undefined;
    }, { what: 'two ready endpoints in the registry' });
    expect(reg.endpoints.map((e) => [e.replica, e.port, e.ready]).sort()).toEqual([['1', 8080, true], ['2', 8080, true]]);
  });

  it('marks a replica not ready when its readiness fails, without replacing it', async () => {
    const [victim] = await runningOf(docker, instance, 'web');
    await execIn(docker, victim!.Id, ['rm', '/www/healthz']);
    const r = await op.waitPass((p) => service(p, 'heal/web')?.ready === 1, 'web ready 1/2');
    const replica = service(r, 'heal/web')!.replicas.find((x) => x.container === victim!.Names[0]!.slice(1));
    expect(replica).toMatchObject({ ready: false, health: 'Degraded' });
    expect(replica?.message).toContain('HTTP 404');
    expect((await runningOf(docker, instance, 'web')).map((c) => c.Id)).toContain(victim!.Id);
    await waitFor(async () => {
      const body = await (await fetch(`${op.url}/v1/services/heal/web/endpoints`, { headers: op.auth })).json() as { endpoints: { id: string; ready: boolean }[] };
      return body.endpoints.find((e) => e.id === victim!.Id)?.ready === false ? true : undefined;
    }, { what: 'the not-ready replica marked not ready in the registry' });
    await execIn(docker, victim!.Id, ['sh', '-c', 'echo ok > /www/healthz']);
    await op.waitPass((p) => service(p, 'heal/web')?.ready === 2, 'web ready again');
  });

  it('replaces a replica whose liveness probe fails', async () => {
    const [victim] = await runningOf(docker, instance, 'live');
    await execIn(docker, victim!.Id, ['rm', '/tmp/alive']);
    const now = await waitFor(async () => {
      const list = await runningOf(docker, instance, 'live');
      return list.length === 1 && list[0]!.Id !== victim!.Id ? list : undefined;
    }, { what: 'live replaced', timeoutMs: 30_000 });
    expect(now[0]!.Labels['berth.replica']).toBe('1');
    await waitFor(async () => ((await containersOf(docker, instance, 'live')).length === 1 ? true : undefined), { what: 'the renamed old container removed' });
    // The pass that replaced it reports once it ends, which may be after the old container is gone.
    await waitFor(() => op.passes.some((p) => p.applied?.outcomes.some((o) => o.action.cause === 'heal' && /liveness/.test(o.action.reason))) || undefined, { what: 'a heal pass naming the liveness probe' });
  });

  it('restarts a crashing replica with growing backoff and reports CrashLoop', async () => {
    await remote.commit({ 'crash.yaml': crash }, 'add crash');
    op.trigger('test');
    const r = await op.waitPass((p) => service(p, 'heal/crash')?.replicas[0]?.health === 'CrashLoop', 'CrashLoop reported', 60_000);
    expect(r.status.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'CrashLoop' });
    const [c] = await containersOf(docker, instance, 'crash');
    const starts = op.passes.flatMap((p) => p.applied?.outcomes ?? []).filter((o) => o.action.type === 'start' && o.action.service === 'heal/crash');
    // Immediate, then 1 s, then 2 s: three restarts take at least 3 s, so the engine is not hammered.
    expect(starts.length).toBeLessThanOrEqual(5);
    expect(c).toBeDefined();
    await waitFor(() => alerts.find((a) => a.kind === 'crashloop'), { what: 'crashloop alert' });
    await remote.commit({ 'crash.yaml': null }, 'remove crash');
    op.trigger('test');
    await waitFor(async () => (await containersOf(docker, instance, 'crash')).length === 0, { what: 'crash removed' });
  });

  it('rolls a failing update back to the previous spec, says why, and does not retry until a new revision', async () => {
    const before = (await runningOf(docker, instance, 'web')).map((c) => c.Id).sort();
    const bad = await remote.commit({ 'web.yaml': web({ serve: 'other', env: '2' }) }, 'bad readiness');
    op.trigger('test');
    const r = await op.waitPass((p) => p.status.revision.latest === bad && /rolled back/.test(service(p, 'heal/web')?.message ?? ''), 'rollback', 60_000);
    expect(service(r, 'heal/web')!.message).toMatch(/update rolled back at [0-9a-f]{7}: heal\/web #1 failed: .*HTTP 404/);
    expect(r.status.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'RolledBack' });
    // The rollback is an event of the service, with why (GET /v1/events, the log store's).
    const events = await waitFor(async () => {
      const res = await fetch(`${op.url}/v1/events?service=heal/web&since=10m`, { headers: op.auth });
      const body = (await res.json()) as { events: { type: string; reason?: string; message: string }[] };
      return body.events.find((e) => e.type === 'rollback') ? body.events : undefined;
    }, { what: 'the rollback event' });
    expect(events.find((e) => e.type === 'rollback')).toMatchObject({ reason: 'health', message: expect.stringMatching(/new replicas failed: heal\/web #1 failed: .*HTTP 404/) });
    expect(events.filter((e) => e.type === 'health').length).toBeGreaterThan(0);
    await waitFor(async () => ((await runningOf(docker, instance, 'web')).length === 2 ? true : undefined), { what: 'two web replicas' });
    expect((await runningOf(docker, instance, 'web')).map((c) => c.Id).sort()).toEqual(before);
    const n = op.passes.length;
    await op.waitPass(() => op.passes.length >= n + 2, 'two more passes', 20_000);
    const creates = op.passes.slice(n).flatMap((p) => p.applied?.outcomes ?? []).filter((o) => o.action.service === 'heal/web');
    expect(creates).toEqual([]);
    await waitFor(() => alerts.find((a) => a.kind === 'rollback'), { what: 'rollback alert' });

    const good = await remote.commit({ 'web.yaml': web({ env: '3' }) }, 'good update');
    op.trigger('test');
    const ok = await op.waitPass((p) => p.status.revision.applied === good && service(p, 'heal/web')?.ready === 2 && service(p, 'heal/web')?.health === 'Healthy', 'rolled forward', 60_000);
    expect(service(ok, 'heal/web')!.message).toBeUndefined();
    const after = await runningOf(docker, instance, 'web');
    expect(after.every((c) => !before.includes(c.Id))).toBe(true);
  });
});
