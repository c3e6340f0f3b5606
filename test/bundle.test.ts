/**
 * The bundle (dist/, scripts/build-operator.ts) is what bin/berth.js runs after provisioning: it must find its files
 * (schemas, package.json), run the validation worker from dist/ and start its proxy process from dist/, with no tsx
 * in any of them. Real processes, the real engine and git server; traffic to 127.0.0.1 only.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_ENTRY, bundleIsFresh } from '../bin/bundle.js';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { get } from './helpers/load.ts';
import { freePort } from './helpers/net.ts';
import { processAlive, proxyPid, stopProxyProcess } from './helpers/operator.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const docker = testDocker();
const instance = uniqueInstance('bundle');
let remote: Remote | undefined;
let stateDir: string;
let child: ChildProcess | undefined;

/** `node dist/cli.js <args>`: the bundle itself, whatever bin/berth.js would choose. */
function bundled(args: string[]) {
  return run(process.execPath, [BUNDLE_ENTRY, ...args], { cwd: ROOT, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code?: number; stdout: string; stderr: string }) => ({ code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout, stderr: e.stderr }),
  );
}

const cmdline = async (pid: number) => (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);

beforeAll(async () => {
  // Provisioning built it; a source edited since makes it stale (bin/berth.js then runs the sources): build it again.
  if (!bundleIsFresh()) await run(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/build-operator.ts'], { cwd: ROOT, timeout: 60_000 });
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bundle-'));
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await stopProxyProcess(stateDir, instance);
  await cleanupInstance(docker, instance);
  await remote?.close();
  await fs.rm(stateDir, { recursive: true, force: true });
}, 60_000);

describe('the bundled operator', () => {
  it('is fresh after provisioning, prints its version and validates in its worker from dist/ (file:line:col)', async () => {
    expect(bundleIsFresh()).toBe(true);
    const v = await bundled(['version', '-o', 'json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bundle-bad-'));
    try {
      await fs.writeFile(path.join(dir, 'web.yaml'), 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec:\n  image: berth-local/busybox:1\n  replicas: lots\n');
      const r = await bundled(['validate', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr + r.stdout).toMatch(/web\.yaml:6:\d+: .*replicas/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('runs, converges and starts its proxy process from dist/ without tsx; the published port serves', async () => {
    const port = await freePort();
    remote = await makeRemote({ 'web.yaml': `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: bundle }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo bundled > /www/index.html && exec httpd -f -p 8080 -h /www"]
  replicas: 1
  ports: [{ name: http, port: 8080 }]
  health:
    readiness: { http: { path: /, port: 8080 }, interval: 200ms, timeout: 200ms, failureThreshold: 1 }
  loadBalancer: { publish: { port: ${port}, host: 127.0.0.1 } }
` });
    child = spawn(process.execPath, [BUNDLE_ENTRY, 'run', '--repo', remote.url, '--instance', instance, '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--interval', '1h'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += String(d); });
    const body = await waitFor(async () => { const r = await get(`http://127.0.0.1:${port}/`, undefined); return 'body' in r ? r.body : undefined; }, { what: `the published port serving (stderr: ${stderr.slice(-800)})`, timeoutMs: 60_000 });
    expect(body.trim()).toBe('bundled');
    const pid = (await proxyPid(stateDir, instance))!;
    expect(processAlive(pid)).toBe(true);
    const args = await cmdline(pid);
    expect(args).toContain(BUNDLE_ENTRY);
    expect(args.join(' ')).not.toMatch(/tsx/);
    expect((await cmdline(child.pid!)).join(' ')).not.toMatch(/tsx/);
  }, 120_000);
});
