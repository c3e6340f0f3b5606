/**
 * Drift correction paused for one Service (berth pause-drift) on the real engine: an operator token pauses it through
 * the API, a container paused by hand stays paused over passes while status says so, and resume-drift corrects it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../operator/auth/tokens.ts';
import { berth } from './helpers/cli.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { runningOf, service, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();

describe('drift correction paused for one service', () => {
  const instance = uniqueInstance('driftpause');
  let remote: Remote;
  let op: TestOperator;
  let operatorToken: string;
  let viewerToken: string;

  beforeAll(async () => {
    remote = await makeRemote({ 'app.yaml': service('app', { replicas: 1 }), 'other.yaml': service('other', { replicas: 1 }) });
    op = await startTestOperator(remote.url, instance);
    await op.reached((r) => r.converged, 'first converge');
    const tokens = TokenStore.open(op.stateDir);
    operatorToken = (await tokens.create({ name: 'alice', role: 'operator', namespaces: ['test'] })).token;
    viewerToken = (await tokens.create({ name: 'watcher', role: 'viewer' })).token;
    // the operator re-reads the tokens file within a second: wait for the last one written
    await waitFor(async () => (await fetch(`${op.url}/v1/status`, { headers: { authorization: `Bearer ${viewerToken}` } })).status === 200 || undefined, { what: 'new tokens in force', intervalMs: 250 });
  }, 120_000);

  afterAll(async () => {
    await op?.stop();
    await remote?.close();
    await cleanupInstance(docker, instance);
  });

  const post = (route: string, token: string, body?: unknown) => fetch(`${op.url}${route}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const paused = async (id: string) => (await docker.getContainer(id).inspect()).State.Paused;

  it('leaves a paused service drifted over passes, reports it, corrects other services, and corrects it once resumed', async () => {
    expect((await post('/v1/services/test/app/pause-drift', viewerToken)).status).toBe(403);
    expect((await post('/v1/services/test/nope/pause-drift', operatorToken)).status).toBe(404);
    const res = await post('/v1/services/test/app/pause-drift', operatorToken, { reason: 'debugging in place' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ service: 'test/app', by: 'alice', reason: 'debugging in place' });

    const [victim] = await runningOf(docker, instance, 'app');
    const [bystander] = await runningOf(docker, instance, 'other');
    await docker.getContainer(victim!.Id).pause();
    await docker.getContainer(bystander!.Id).pause();
    // The status says what is left uncorrected (the engine's events wake passes too).
    const seenPass = op.waitPass((r) => r.status.driftPaused?.['test/app']?.uncorrected === 1, 'status shows the paused drift');
    op.trigger('drift made by hand');
    const seen = await seenPass;
    expect(seen.status.driftPaused!['test/app']).toMatchObject({ by: 'alice', reason: 'debugging in place' });
    expect(seen.status.services['test/app']!.message).toContain('drift correction paused by alice');
    const status = await (await fetch(`${op.url}/v1/status`, { headers: op.auth })).json() as { driftPaused?: Record<string, unknown> };
    expect(status.driftPaused?.['test/app']).toMatchObject({ by: 'alice', uncorrected: 1 });
    // The other service's drift is corrected as ever.
    await waitFor(async () => !(await paused(bystander!.Id)), { what: 'the other service unpaused', timeoutMs: 30_000 });

    // Two more whole passes, each after the drift was seen: still paused.
    const start = op.passes.length;
    for (let i = 0; i < 2; i++) {
      const next = op.waitPass(() => true, `pass ${i + 1} while paused`);
      op.trigger(`pass ${i + 1} while paused`);
      const r = await next;
      expect(r.status.driftPaused?.['test/app']?.uncorrected).toBe(1);
      expect(await paused(victim!.Id)).toBe(true);
    }
    expect(op.passes.length - start).toBeGreaterThanOrEqual(2);
    expect(await paused(victim!.Id)).toBe(true);

    const resumed = await post('/v1/services/test/app/resume-drift', operatorToken);
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toMatchObject({ service: 'test/app', resumed: true });
    await waitFor(async () => !(await paused(victim!.Id)), { what: 'the paused replica corrected after resume', timeoutMs: 30_000 });
    const afterPass = op.waitPass((r) => r.converged, 'converged after resume');
    op.trigger('after resume');
    const after = await afterPass;
    expect(after.status.driftPaused).toBeUndefined();

    // Who did it, in the service's events.
    const events = await waitFor(async () => {
      const body = await (await fetch(`${op.url}/v1/events?service=test/app&since=10m`, { headers: op.auth })).json() as { events: { type: string; message: string }[] };
      return body.events.some((e) => e.type === 'drift-resumed') ? body.events : undefined;
    }, { what: 'drift pause events' });
    expect(events.find((e) => e.type === 'drift-paused')?.message).toBe('drift correction of test/app paused by alice: debugging in place');
    expect(events.find((e) => e.type === 'drift-resumed')?.message).toMatch(/^drift correction of test\/app resumed by alice \(paused by alice since /);
  });

  it('berth pause-drift and resume-drift call the running berth with the caller\'s token', async () => {
    const client = ['--server', op.url, '--state-dir', '/nonexistent'];
    const viewer = await berth(['pause-drift', 'test/other', ...client], { BERTH_TOKEN: viewerToken });
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toContain('refused: role viewer may not trigger drift in namespace test');
    const unknown = await berth(['pause-drift', 'test/nope', ...client], { BERTH_TOKEN: operatorToken });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('answered 404: no Service test/nope in the revision in force');
    const paused = await berth(['pause-drift', 'test/other', '--reason', 'from the CLI', ...client], { BERTH_TOKEN: operatorToken });
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/^drift correction paused for test\/other by alice since \S+ \(from the CLI\)/);
    const statusPass = op.waitPass((r) => r.status.driftPaused?.['test/other'] !== undefined, 'status shows the CLI pause');
    op.trigger('after CLI pause');
    await statusPass;
    const resumed = await berth(['resume-drift', 'test/other', '-o', 'json', ...client], { BERTH_TOKEN: operatorToken });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ service: 'test/other', resumed: true, pause: { by: 'alice', reason: 'from the CLI' } });
    expect((await berth(['resume-drift', 'nope', ...client])).code).toBe(1);
  });
});
