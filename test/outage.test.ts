/**
 * Outages and secrets on the real engine and a real git server: healing goes on from the last good revision while git
 * hangs or refuses; script probes get a minimal environment and what they print is redacted everywhere it lands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, withAuth, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { runningOf, startTestOperator, statusFromBranch, type TestOperator } from './helpers/operator.ts';
import { createLogger } from '../operator/util/log.ts';

const docker = testDocker();
const instance = uniqueInstance('outage');
const auth = { username: 'berth', password: 'pw-Zq81-distinctive' };
const TOKEN = 'ghp_outageTestToken_9f8e7d6c5b4a';
const WEBHOOK = 'whsec-outage-7a6b5c4d3e';
let remote: Remote;
let op: TestOperator;
let gitMode: 'ok' | 'hang' = 'ok';
const hung: (() => void)[] = [];
const lines: string[] = [];
const saved = { token: process.env.GITHUB_TOKEN, secret: process.env.BERTH_WEBHOOK_SECRET };

const app = `apiVersion: berth/v1
kind: Service
metadata: { name: app, namespace: outage }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
`;

// Fails on purpose so that what it prints lands in the status message; prints the operator's secrets if it has them.
const probed = `apiVersion: berth/v1
kind: Service
metadata: { name: probed, namespace: outage }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  health:
    readiness: { script: { file: probes/env.sh }, interval: 500ms, timeout: 400ms, failureThreshold: 1 }
`;

const script = `#!/bin/sh
echo "token=[$GITHUB_TOKEN] hook=[$BERTH_WEBHOOK_SECRET] repo=[$BERTH_REPO] path=[$PATH] pw=[${auth.password}]"
exit 1
`;

beforeAll(async () => {
  process.env.GITHUB_TOKEN = TOKEN;
  process.env.BERTH_WEBHOOK_SECRET = WEBHOOK;
  remote = await makeRemote({ 'app.yaml': app, 'probed.yaml': probed, 'probes/env.sh': script }, {
    auth,
    onRequest: () => (gitMode === 'hang' ? new Promise<void>((resolve) => hung.push(resolve)) : undefined),
  });
  const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  op = await startTestOperator(withAuth(remote.url, auth), instance, { 'webhook-secret': WEBHOOK, interval: '1h', 'status-interval': '1s' }, { log });
});

afterAll(async () => {
  gitMode = 'ok';
  for (const release of hung.splice(0)) release();
  await op?.stop();
  await remote?.close().catch(() => undefined); // the outage test closed its server already
  await cleanupInstance(docker, instance);
  process.env.GITHUB_TOKEN = saved.token;
  process.env.BERTH_WEBHOOK_SECRET = saved.secret;
  if (saved.token === undefined) delete process.env.GITHUB_TOKEN;
  if (saved.secret === undefined) delete process.env.BERTH_WEBHOOK_SECRET;
});

describe('script probes and secrets', () => {
  it('runs scripts without the operator environment and redacts what they print in status, logs and the status branch', async () => {
    // A probe that keeps failing changes no readiness: passes are asked for until one reports its output.
    const r = await waitFor(async () => {
      const next = op.waitPass(() => true, 'a pass');
      op.trigger('test');
      const p = await next;
      return /exit 1: token=/.test(p.status.services['outage/probed']?.replicas?.[0]?.message ?? '') ? p : undefined;
    }, { what: 'probe output in the status', intervalMs: 300 });
    const message = r.status.services['outage/probed']!.replicas[0]!.message!;
    expect(message).toContain('token=[] hook=[] repo=[] path=[/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin] pw=[***]');
    const live = await (await fetch(`${op.url}/v1/status`, { headers: op.auth })).text();
    expect(live).toContain('pw=[***]');
    const branch = await waitFor(() => statusFromBranch(remote.bareDir, instance).then((s) => (s && s.text.includes('exit 1: token=') ? s : undefined)), { what: 'status commit with the probe output' });
    for (const text of [live, branch.text, lines.join('\n')]) {
      for (const secret of [TOKEN, WEBHOOK, auth.password]) expect(text).not.toContain(secret);
    }
  });
});

describe('git outage', () => {
  it('restarts a killed replica while git hangs, and again while git refuses connections', async () => {
    const [first] = await waitFor(async () => { const r = await runningOf(docker, instance, 'app'); return r.length === 1 ? r : undefined; }, { what: 'app running' });
    gitMode = 'hang';
    await docker.getContainer(first!.Id).kill();
    await waitFor(async () => (await docker.getContainer(first!.Id).inspect()).State.Running, { what: 'killed replica running again while git hangs', timeoutMs: 15_000 });
    // the first pass after the restart may have observed the replica before it was running again: wait for one that saw it
    const during = await op.waitPass((p) => p.status.services['outage/app']?.running === 1, 'a pass while git hangs that sees the replica running', 30_000);
    expect(during.status.services['outage/app']?.running).toBe(1);

    await remote.server.close();
    for (const release of hung.splice(0)) release();
    gitMode = 'ok';
    const failed = await op.waitPass((p) => p.error?.code === 'E_GIT', 'a pass with git refusing', 30_000);
    expect(failed.status.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ReconcileFailed' });
    expect(failed.fetchError?.code).toBe('E_GIT');
    const metrics = await (await fetch(`${op.url}/metrics`, { headers: op.auth })).text();
    expect(metrics).toMatch(/^berth_source_up 0$/m);
    expect(metrics).toMatch(/^berth_source_fetch_failures_total [1-9]/m);
    await docker.getContainer(first!.Id).kill();
    await waitFor(async () => (await docker.getContainer(first!.Id).inspect()).State.Running, { what: 'killed replica running again while git is down', timeoutMs: 15_000 });
  });
});
