/**
 * A failed Job's output and alert on the real engine: a Job printing 30 numbered lines (one with a Secret's value,
 * the last on stderr) and failing with backoffLimit 0 has exactly lines 11..30 in its status, the alert webhook gets
 * exactly one alert for the run with its reason, also after an operator restart, and the Secret's value reaches
 * neither the status, the status branch, the alert, nor the log.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, TEST_ENGINE, TEST_IMAGE, testDocker, uniqueInstance } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { startTestOperator, statusFromBranch, type TestOperator } from './helpers/operator.ts';
import { AGE_PLAIN, secretFixture } from './helpers/secret-fixtures.ts';
import type { JobStatus } from '../operator/jobs/plan.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';
import { renderStatusText } from '../operator/status/render.ts';
import type { AlertPayload } from '../operator/alerts/webhook.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { OUTPUT_LINES, OUTPUT_MAX_BYTES, outputLines } from '../operator/jobs/output.ts';

const docker = testDocker();
const instance = uniqueInstance('joboutput');
const KEY = 'jo/noisy';

// Lines 1..29 on stdout (line 25 prints the Secret), a second's pause, then line 30 on stderr: the order is the engine's.
const SCRIPT = 'i=1; while [ $i -le 29 ]; do if [ $i -eq 25 ]; then echo "line $i token=$API_TOKEN"; else echo "line $i"; fi; i=$((i+1)); done; sleep 1; echo "line 30 failing" >&2; exit 7';
const MANIFESTS = `apiVersion: berth/v1
kind: Secret
metadata: { name: token, namespace: jo }
spec: { file: ../secrets/token.age.asc }
---
apiVersion: berth/v1
kind: Job
metadata: { name: noisy, namespace: jo }
spec:
  image: ${TEST_IMAGE}
  command: [sh, -c, '${SCRIPT}']
  backoffLimit: 0
  secrets:
    - { secret: token, env: API_TOKEN }
`;
const EXPECTED = Array.from({ length: 20 }, (_, i) => i + 11).map((n) => (n === 25 ? 'line 25 token=***' : n === 30 ? 'line 30 failing' : `line ${n}`));

let remote: Remote;
let op: TestOperator | undefined;
let keyDir: string;
let receiver: Server;
let hookUrl: string;
const alerts: AlertPayload[] = [];
const bodies: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      alerts.push(JSON.parse(body) as AlertPayload);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const addr = receiver.address();
  hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
  keyDir = await mkdtemp(join(tmpdir(), 'berth-age-'));
  await writeFile(join(keyDir, 'keys.txt'), await secretFixture('age/key.txt'), { mode: 0o600 });
  remote = await makeRemote({ 'deploy/jobs.yaml': MANIFESTS, 'secrets/token.age.asc': await secretFixture('age/secret.txt.age.asc') });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await rm(`/dev/shm/berth/${instance}`, { recursive: true, force: true });
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

const flags = () => ({ path: 'deploy', 'age-key-file': join(keyDir, 'keys.txt'), 'alert-webhook': [hookUrl], 'alert-mute': '1ms' });
const statusOf = (p: PassResult): JobStatus | undefined => p.status.jobs?.[KEY];
const jobAlerts = () => alerts.filter((a) => a.kind === 'job-failed');

async function passes(o: TestOperator, n: number): Promise<PassResult> {
  let last: PassResult | undefined;
  for (let i = 0; i < n; i++) {
    const next = o.waitPass(() => true, `pass ${i + 1} of ${n}`, 30_000);
    o.trigger('test');
    last = await next;
  }
  return last!;
}

describe('the output and alert of a failed Job', () => {
  it('status holds lines 11..30 of the failed attempt; one alert for the run, none again after a restart; no secret anywhere', async () => {
    op = await startTestOperator(remote.url, instance, flags());
    const timer = setInterval(() => op!.trigger('test'), 500);
    let failed: PassResult;
    try {
      failed = await op.waitPass((p) => statusOf(p)?.phase === 'Failed' && statusOf(p)!.attempts[0]?.output !== undefined, 'job failed with its output', 60_000);
    } finally {
      clearInterval(timer);
    }
    const st = statusOf(failed)!;
    expect(st).toMatchObject({ phase: 'Failed', reason: 'BackoffLimitExceeded', failed: 1 });
    expect(st.attempts).toHaveLength(1);
    expect(st.attempts[0]).toMatchObject({ state: 'failed', exitCode: 7 });
    expect(st.attempts[0]!.output).toEqual(EXPECTED);
    // `berth status` shows the failed run's tail.
    const text = renderStatusText(failed.status);
    expect(text).toContain('output #1.1 (last 20 line(s)):');
    expect(text).toContain('  | line 11\n');
    expect(text).toContain('  | line 30 failing');

    await expect.poll(() => jobAlerts().length, { timeout: 10_000 }).toBe(1);
    const [alert] = jobAlerts();
    expect(alert).toMatchObject({ kind: 'job-failed', key: `job-failed:Job:${KEY}@${st.run}`, fields: { job: KEY, kind: 'Job', run: st.run, reason: 'BackoffLimitExceeded', exitCode: '7' } });
    expect(alert!.fields.output!.split('\n')).toEqual(EXPECTED);
    expect(alert!.text).toContain('line 30 failing');

    // Later passes (the mute window is 1 ms) and a restart reading the status branch back: no second alert.
    await passes(op, 3);
    const firstLog = op.recentLog().join('\n');
    await op.stopOperator();
    const stateDir = op.stateDir;
    const branch = await statusFromBranch(remote.bareDir, instance);
    expect(branch?.doc.jobs?.[KEY]?.attempts[0]?.output).toEqual(EXPECTED);
    op = await startTestOperator(remote.url, instance, flags(), { stateDir });
    const after = await passes(op, 3);
    expect(statusOf(after)?.attempts[0]?.output).toEqual(EXPECTED);
    await new Promise((resolve) => setTimeout(resolve, 300)); // an alert sent by the last pass would have arrived
    expect(jobAlerts()).toHaveLength(1);

    for (const t of [JSON.stringify(failed.status), JSON.stringify(after.status), branch?.text ?? '', (await statusFromBranch(remote.bareDir, instance))?.text ?? '', bodies.join('\n'), firstLog, op.recentLog().join('\n')]) {
      expect(t).not.toContain(AGE_PLAIN);
    }
  }, 120_000);
});

describe('the engine adapter\'s read of a finished container\'s output', () => {
  const runtime = createDockerRuntime(docker);
  const run = async (cmd: string, tty = false): Promise<string> => {
    const c = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sh', '-c', cmd], Tty: tty, Labels: { 'berth.instance': instance } });
    await c.start();
    await c.wait();
    return c.id;
  };

  it('reads the tail through the logs API, stops at the byte cap (dropping the cut line), and passes a TTY\'s raw output', async () => {
    const long = await run('i=1; while [ $i -le 30 ]; do printf "%05d%s\\n" $i "$(head -c 8000 /dev/zero | tr \'\\0\' x)"; i=$((i+1)); done');
    const tail = await runtime.containerLogs!(long, { lines: OUTPUT_LINES, maxBytes: OUTPUT_MAX_BYTES, timeoutMs: 5_000 });
    expect(tail.truncated).toBe(true);
    const lines = outputLines(tail, (x) => x);
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.length).toBeLessThan(OUTPUT_LINES);
    if (TEST_ENGINE === 'docker') {
      expect(lines.map((l) => l.slice(0, 5))).toEqual(lines.map((_, i) => String(11 + i).padStart(5, '0'))); // from the tail's first line, in order
    } else {
      // Podman's log driver (conmon) stores long output as pieces where its reads of the pipe ended, each counted in the
      // tail: the numbered starts that survive come in order, with pieces of lines between them
      const starts = lines.filter((l) => /^\d{5}/.test(l)).map((l) => Number(l.slice(0, 5)));
      expect(starts.length).toBeGreaterThan(0);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      expect(new Set(starts).size).toBe(starts.length);
    }
    expect(lines.every((l) => l.length === 513 && l.endsWith('…'))).toBe(true);
    const tty = await run('echo one; echo two >&2', true);
    expect(outputLines(await runtime.containerLogs!(tty, { lines: 20, maxBytes: OUTPUT_MAX_BYTES, timeoutMs: 5_000 }), (x) => x)).toEqual(['one', 'two']);
    await expect(runtime.containerLogs!('no-such-container-berth', { lines: 20, maxBytes: 1024, timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'E_DOCKER' });
  }, 60_000);
});
