/**
 * Compose files as manifests on the real engine: a two-service stack (web: busybox httpd published through berth's
 * proxy; cache: a sleeper whose healthcheck is a file) converges in the namespace of its project name, web is created only once the
 * cache's healthcheck passes (depends_on: service_healthy), the published port answers; and `berth validate` names a bad
 * compose file's file:line:col and field.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth } from './helpers/cli.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { freePort } from './helpers/net.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('compose');
let remote: Remote;
let op: TestOperator;
let port: number;

const compose = `services:
  web:
    image: berth-local/busybox:1
    command: ["sh", "-c", "mkdir -p /www && echo \\"$$GREETING\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment:
      GREETING: \${GREETING:-hello}
    ports:
      - "\${WEB_PORT}:80"
    depends_on:
      cache:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "test", "-f", "/www/ok"]
      interval: 300ms
      timeout: 300ms
      retries: 1
    restart: always
  cache:
    image: berth-local/busybox:1
    command: sleep 3600
    healthcheck:
      test: test -f /ready
      interval: 300ms
      timeout: 300ms
      retries: 1
    restart: always
`;

beforeAll(async () => {
  port = await freePort();
  // The directory name is the project name, sanitised to a namespace: Compose_E2E -> compose-e2e.
  remote = await makeRemote({ 'Compose_E2E/compose.yaml': compose, 'Compose_E2E/.env': `WEB_PORT=${port}\nGREETING=hello-compose\n` });
  op = await startTestOperator(remote.url, instance, { 'proxy-host': '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

/** The first pass (triggering one every 300 ms) whose status of both services satisfies `pred`. */
async function waitStatus(pred: (s: { running: number; ready: number }) => boolean, what: string): Promise<void> {
  const timer = setInterval(() => op.trigger('test'), 300);
  try {
    await op.waitPass((p) => ['compose-e2e/web', 'compose-e2e/cache'].every((k) => {
      const s = p.status.services[k];
      return s !== undefined && pred(s);
    }), what, 60_000);
  } finally {
    clearInterval(timer);
  }
}

async function touch(service: string, file: string): Promise<void> {
  const [c] = await runningOf(docker, instance, service);
  const exec = await docker.getContainer(c!.Id).exec({ Cmd: ['touch', file], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  await new Promise<void>((resolve) => { stream.on('end', () => resolve()); stream.resume(); });
  expect((await exec.inspect()).ExitCode).toBe(0);
}

describe('a compose stack', () => {
  it('runs both services in the project namespace; service_healthy holds web until cache is healthy; healthchecks gate readiness and the published port', async () => {
    // cache runs, but its healthcheck does not pass: web (depends_on cache: service_healthy) is not created.
    const timer = setInterval(() => op.trigger('test'), 300);
    try {
      await op.waitPass((p) => p.status.services['compose-e2e/cache']?.running === 1, 'cache running', 60_000);
      const [cache] = await runningOf(docker, instance, 'cache');
      expect(cache!.Labels['berth.namespace']).toBe('compose-e2e');
      // Several passes later web still has no container, and the pass says why.
      const from = op.passes.length;
      const held = await op.waitPass((p) => op.passes.length >= from + 3 && p.status.services['compose-e2e/web'] !== undefined, 'three more passes', 60_000);
      expect(await runningOf(docker, instance, 'web')).toEqual([]);
      expect(held.status.services['compose-e2e/web']?.message).toMatch(/^waiting for dependencies with condition healthy: compose-e2e\/cache is not healthy: /);
    } finally {
      clearInterval(timer);
    }
    await touch('cache', '/ready');
    await waitStatus((s) => s.running === 1, 'both services running once cache is healthy');
    const [web] = await runningOf(docker, instance, 'web');
    expect(web!.Labels['berth.namespace']).toBe('compose-e2e');
    // web's own healthcheck does not pass yet: not ready, and the proxy has no endpoint for the published port.
    const before = op.passes.at(-1)!.status.services;
    expect(before['compose-e2e/web']?.ready).toBe(0);
    const early = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), () => null);
    expect(early).not.toBe('hello-compose\n');
    await touch('web', '/www/ok');
    await waitStatus((s) => s.ready === 1, 'both services ready');
    const body = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.ok ? res.text() : undefined;
    }, { timeoutMs: 30_000, intervalMs: 300, what: 'web through the published port' });
    expect(body).toBe('hello-compose\n');
    const desired = op.passes.at(-1)!.desired;
    expect(desired?.services.map((s) => s.key).sort()).toEqual(['compose-e2e/cache', 'compose-e2e/web']);
  }, 150_000);
});

describe('berth validate on a compose file', () => {
  it('names file:line:col and the field of a bad value and of a refused compose field', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-compose-validate-'));
    try {
      await fs.mkdir(path.join(dir, 'shop'));
      await fs.writeFile(path.join(dir, 'shop', 'compose.yaml'), 'services:\n  web:\n    image: busybox\n    deploy:\n      replicas: -1\n    volumes:\n      - ~/html:/www\n');
      const r = await berth(['validate', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        'shop/compose.yaml:5:17: spec.replicas: must be >= 0',
        'shop/compose.yaml:7:9: services.web.volumes[0]: a bind source under ~ is a path of the home directory of whoever runs compose; use an absolute host path, or a path of the repository relative to the compose file',
      ]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
