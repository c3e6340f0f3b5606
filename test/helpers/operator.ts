/** Starts berth in-process against a test repository and the real engine; helpers to look at what it did. */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { parse } from 'yaml';
import { flagsWith, type Flags } from '../../operator/settings/flags.ts';
import { startOperator, type Operator } from '../../operator/commands/operator.ts';
import { alive as processAlive, isProxyProcess } from '../../operator/dataplane/files.ts';
import { recordProxy } from './proxy-processes.ts';
import type { PassResult } from '../../operator/reconciler/reconciler.ts';
import type { StatusDoc } from '../../operator/status/report.ts';
import { createLogger, type Logger } from '../../operator/util/log.ts';
import { TEST_ENDPOINT } from './docker.ts';

const run = promisify(execFile);

export interface TestOperator extends Operator {
  /** Stops the operator only: its proxy process keeps serving and the state dir stays (a restart test). */
  stopOperator(): Promise<void>;
  passes: PassResult[];
  /** The state dir's local admin token as a request header (the API needs credentials). */
  auth: { authorization: string };
  stateDir: string;
  /** The operator's last log lines (when the test gave no logger of its own). */
  recentLog(): string[];
  /** Resolves with the first pass (after now) matching `pred`. */
  waitPass(pred: (r: PassResult) => boolean, what: string, timeoutMs?: number): Promise<PassResult>;
  /**
   * The first pass so far matching `pred`, else the next one that does: for conditions a pass may have reached before
   * the test looked (the first passes run while startOperator is still returning).
   */
  reached(pred: (r: PassResult) => boolean, what: string, timeoutMs?: number): Promise<PassResult>;
}

/**
 * Starts an operator with a long interval (tests drive it with triggers, events and webhooks). `stateDir`: reuse one
 * (an operator started again attaches to the proxy process left there); default a new temp dir.
 */
export async function startTestOperator(repoUrl: string, instance: string, extra: Flags = {}, opts: { log?: Logger; stateDir?: string; now?: () => Date } = {}): Promise<TestOperator> {
  const stateDir = opts.stateDir ?? await fs.mkdtemp(path.join(os.tmpdir(), 'berth-state-'));
  const passes: PassResult[] = [];
  const waiters: { pred: (r: PassResult) => boolean; resolve: (r: PassResult) => void }[] = [];
  recordProxy(stateDir, instance); // before the start: a start that fails half-way may have started the proxy process
  // Without a logger of the test's own, the last lines are kept: a waitPass that times out shows what berth was doing.
  const recent: string[] = [];
  const log = opts.log ?? createLogger({ level: 'debug', write: (line) => {
    if (process.env.BERTH_TEST_LOG) process.stderr.write(`${line}\n`);
    recent.push(line);
    if (recent.length > 120) recent.shift();
  } });
  // One proxy worker unless a test asks for more: a suite of parallel operators on two cores must not fork a worker
  // per core each (test/proxy-workers.test.ts covers workers).
  const op = await startOperator(flagsWith('run', { repo: repoUrl, instance, interval: '1h', listen: '127.0.0.1:0', 'state-dir': stateDir, 'proxy-workers': '1', docker: TEST_ENDPOINT, ...extra }), log, {
    ...(opts.now ? { now: opts.now } : {}),
    onPass: (r) => {
      passes.push(r);
      for (const w of [...waiters]) if (w.pred(r)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(r); }
    },
  }).catch(async (err: unknown) => {
    await fs.rm(stateDir, { recursive: true, force: true }); // a refused start leaves nothing behind
    throw err;
  });
  const token = (await fs.readFile(path.join(stateDir, 'cli-token'), 'utf8')).trim();
  const waitPass = (pred: (r: PassResult) => boolean, what: string, timeoutMs = 60_000): Promise<PassResult> => new Promise<PassResult>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for a pass: ${what}; last status: ${JSON.stringify(passes.at(-1)?.status.conditions)}${recent.length ? `\nlast log lines:\n${recent.join('\n')}` : ''}`)), timeoutMs);
    waiters.push({ pred, resolve: (r) => { clearTimeout(timer); resolve(r); } });
  });
  return {
    ...op,
    passes,
    auth: { authorization: `Bearer ${token}` },
    stateDir,
    recentLog: () => [...recent],
    reached(pred, what, timeoutMs = 60_000) {
      return Promise.resolve(passes.find(pred) ?? waitPass(pred, what, timeoutMs));
    },
    waitPass,
    stopOperator: () => op.stop(),
    async stop() {
      try {
        await op.stop();
      } finally {
        await stopProxyProcess(stateDir, instance);
        await fs.rm(stateDir, { recursive: true, force: true, maxRetries: 3 });
      }
    },
  };
}

/** The pid the proxy process of `instance` wrote in `stateDir`, or null. */
export async function proxyPid(stateDir: string, instance: string): Promise<number | null> {
  const n = Number((await fs.readFile(path.join(stateDir, `proxy-${instance}.pid`), 'utf8').catch(() => '')).trim());
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** True while `pid` runs (a zombie, exited but not reaped, counts as gone). */
export { processAlive };

/**
 * Stops the proxy process berth started detached for `instance` in `stateDir` (by its pid, SIGTERM then SIGKILL) and
 * waits until it is gone: it outlives the operator by design, and would outlive the test worker too.
 */
export async function stopProxyProcess(stateDir: string, instance: string, timeoutMs = 10_000): Promise<void> {
  const pid = await proxyPid(stateDir, instance);
  // a pid file outlives its process: the pid may be another process's by now (a test worker, say)
  if (pid === null || !processAlive(pid) || !isProxyProcess(pid, instance)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  while (processAlive(pid)) await new Promise((r) => setTimeout(r, 25));
}

/** Containers of `instance` (optionally one service), running or not. */
export async function containersOf(docker: Docker, instance: string, service?: string): Promise<Docker.ContainerInfo[]> {
  const label = ['berth.managed=true', `berth.instance=${instance}`];
  if (service) label.push(`berth.service=${service}`);
  return docker.listContainers({ all: true, filters: { label } });
}

/** Running containers of a service, sorted by replica. */
export async function runningOf(docker: Docker, instance: string, service: string): Promise<Docker.ContainerInfo[]> {
  const all = await containersOf(docker, instance, service);
  return all.filter((c) => c.State === 'running').sort((a, b) => Number(a.Labels['berth.replica']) - Number(b.Labels['berth.replica']));
}

/** The status file on the status branch of a bare repository, or null. */
export async function statusFromBranch(bareDir: string, instance: string): Promise<{ doc: StatusDoc; text: string; commits: number } | null> {
  try {
    const { stdout } = await run('git', ['--git-dir', bareDir, 'show', `berth/status:${instance}/status.yaml`]);
    const { stdout: count } = await run('git', ['--git-dir', bareDir, 'rev-list', '--count', 'berth/status']);
    return { doc: parse(stdout) as StatusDoc, text: stdout, commits: Number(count.trim()) };
  } catch {
    return null;
  }
}

export function condition(doc: StatusDoc | undefined | null, type: string) {
  return doc?.conditions.find((c) => c.type === type);
}

/** A Service manifest using the local busybox image. */
export function service(name: string, opts: { replicas?: number; image?: string; env?: Record<string, string>; command?: string[]; extra?: string } = {}): string {
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => `    ${k}: "${v}"`).join('\n');
  return [
    'apiVersion: berth/v1', 'kind: Service',
    `metadata: { name: ${name}, namespace: test }`,
    'spec:',
    `  image: ${opts.image ?? 'berth-local/busybox:1'}`,
    `  command: ${JSON.stringify(opts.command ?? ['sleep', '3600'])}`,
    `  replicas: ${opts.replicas ?? 1}`,
    env ? `  env:\n${env}` : '',
    opts.extra ?? '',
  ].filter(Boolean).join('\n') + '\n';
}

/** A GitHub-signed POST /hooks/git to `url` with `secret` (an unsigned webhook only ever asks for a rate-limited fetch). */
export async function signedWebhook(url: string, secret: string, event: string, body: string): Promise<Response> {
  const { createHmac } = await import('node:crypto');
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return fetch(`${url}/hooks/git`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-hub-signature-256': signature } });
}

/** A Service with no replicas and one tcp port: its registry entry exists (endpoints may register) and nothing runs. */
export function idleService(name: string, namespace: string): string {
  return `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  image: berth-local/busybox:1
  replicas: 0
  ports: [{ name: tcp, port: 9000 }]
`;
}
