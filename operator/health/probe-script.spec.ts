/** exec probes on the in-memory runtime and script probes run on this host (container cases: test/probes.test.ts). */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import type { ProbeSpec } from '../model/manifest.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import { materialiseScript, runProbe, type ProbeDeps, type ProbeTarget } from './probes.ts';

const SLACK_MS = 1000;
let dir: string;

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'berth-probe-scripts-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

function probe(over: Partial<ProbeSpec>, timeoutMs = 2000): ProbeSpec {
  return { intervalMs: 1000, timeoutMs, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1, ...over };
}

/** A target whose repository holds `files`. */
function targetWith(files: Record<string, string>, address: string | undefined = '10.0.0.7'): ProbeTarget {
  return {
    containerId: 'c7', name: 'shop.web.1', ...(address ? { address } : {}),
    readFile: async (path) => {
      const content = files[path];
      if (content === undefined) throw new Error(`ENOENT: ${path} is not in the repository`);
      return Buffer.from(content);
    },
  };
}

async function runningContainer(): Promise<{ rt: FakeRuntime; id: string }> {
  const rt = new FakeRuntime();
  rt.addImage('web:1', 'sha256:a');
  const id = await rt.createContainer({ name: 'web', image: 'web:1', env: {}, labels: {}, exposedPorts: [], restartPolicy: 'no', mounts: [] });
  await rt.startContainer(id);
  return { rt, id };
}

describe('exec probe (through the runtime)', () => {
  it('passes on exit 0, fails with the exit code and the first output line, passes timeouts and reasons through', async () => {
    const { rt, id } = await runningContainer();
    const deps: ProbeDeps = { runtime: rt, scriptDir: dir };
    const target = { containerId: id, name: 'web', readFile: async () => Buffer.alloc(0) };
    rt.setExecResult(id, (cmd) => (cmd[0] === 'true' ? { exitCode: 0, output: '' } : { exitCode: 3, output: '\nno pid file\nmore\n' }));
    expect(await runProbe(probe({ exec: { command: ['true'] } }), target, deps)).toMatchObject({ ok: true, message: 'exit 0' });
    expect(await runProbe(probe({ exec: { command: ['check'] } }), target, deps)).toMatchObject({ ok: false, message: 'exit 3: no pid file' });
    rt.setExecResult(id, { exitCode: 1, output: '' });
    expect(await runProbe(probe({ exec: { command: ['x'] } }), target, deps)).toMatchObject({ ok: false, message: 'exit 1' });
    rt.setExecResult(id, () => new Promise(() => undefined));
    expect(await runProbe(probe({ exec: { command: ['hang'] } }, 50), target, deps)).toMatchObject({ ok: false, message: 'timeout after 50 ms' });
    rt.failNext('exec', new BerthError('E_DOCKER', 'exec in container c7 failed (HTTP 500): boom'));
    expect(await runProbe(probe({ exec: { command: ['x'] } }), target, deps)).toMatchObject({ ok: false, message: 'exec in container c7 failed (HTTP 500): boom' });
    rt.kill(id, 137);
    expect(await runProbe(probe({ exec: { command: ['true'] } }), target, deps)).toMatchObject({ ok: false, message: `Container ${id} is not running` });
  });
});

describe('script probe', () => {
  const deps = (): ProbeDeps => ({ runtime: new FakeRuntime(), scriptDir: join(dir, 'scripts') });

  it('runs the repository file with its args and the replica in the environment; exit 0 passes', async () => {
    const script = '#!/bin/sh\n[ "$BERTH_ADDRESS" = 10.0.0.7 ] && [ "$BERTH_CONTAINER_ID" = c7 ] && [ "$BERTH_CONTAINER_NAME" = shop.web.1 ] && [ "$1 $2" = "a b c" ]\n';
    const outcome = await runProbe(probe({ script: { file: 'probes/ok.sh', args: ['a', 'b c'] } }), targetWith({ 'probes/ok.sh': script }), deps());
    expect(outcome).toMatchObject({ ok: true, message: 'exit 0' });
  });

  it('gives the script only PATH, LANG and the BERTH_ replica variables: nothing of the operator environment', async () => {
    process.env.BERTH_SPEC_SECRET = 'op-secret-5e4d3c';
    try {
      const script = '#!/bin/sh\necho "$(env | cut -d= -f1 | sort | tr \'\\n\' \' \')"\nexit 1\n';
      const outcome = await runProbe(probe({ script: { file: 'env.sh', args: [] } }), targetWith({ 'env.sh': script }), deps());
      expect(outcome).toMatchObject({ ok: false, message: 'exit 1: BERTH_ADDRESS BERTH_CONTAINER_ID BERTH_CONTAINER_NAME LANG PATH PWD' });
    } finally {
      delete process.env.BERTH_SPEC_SECRET;
    }
  });

  it('fails with the exit code and the first line of output (stdout or stderr)', async () => {
    const script = '#!/bin/sh\necho "cannot reach $BERTH_ADDRESS" >&2\nexit 4\n';
    const outcome = await runProbe(probe({ script: { file: 'bad.sh', args: [] } }), targetWith({ 'bad.sh': script }), deps());
    expect(outcome).toMatchObject({ ok: false, message: 'exit 4: cannot reach 10.0.0.7' });
  });

  it('kills a hanging script and everything it started once the timeout passes', async () => {
    const pidFile = join(dir, 'child.pid');
    const script = `#!/bin/sh\nsleep 30 &\necho $! > ${pidFile}\nwait\n`;
    const outcome = await runProbe(probe({ script: { file: 'hang.sh', args: [] } }, 300), targetWith({ 'hang.sh': script }), deps());
    expect(outcome).toMatchObject({ ok: false, message: 'timeout after 300 ms' });
    expect(outcome.ms).toBeLessThan(300 + SLACK_MS);
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    await waitFor(() => !alive(child), { timeoutMs: 5000, what: `the script's child ${child} to be killed` });
  });

  it('materialises a script once per content hash, mode 0755', async () => {
    const scriptDir = join(dir, 'once');
    const a = await materialiseScript(Buffer.from('#!/bin/sh\nexit 0\n'), scriptDir);
    const again = await materialiseScript(Buffer.from('#!/bin/sh\nexit 0\n'), scriptDir);
    const b = await materialiseScript(Buffer.from('#!/bin/sh\nexit 1\n'), scriptDir);
    expect(again).toBe(a);
    expect(a).toMatch(/\/[0-9a-f]{64}\.script$/);
    expect(b).not.toBe(a);
    expect((await stat(a)).mode & 0o777).toBe(0o755);
    expect((await readdir(scriptDir)).sort()).toEqual([a, b].map((p) => p.slice(scriptDir.length + 1)).sort());
  });

  it('fails cleanly for a file missing from the repository, an unwritable script dir, a missing interpreter', async () => {
    const missing = await runProbe(probe({ script: { file: 'nope.sh', args: [] } }), targetWith({}), deps());
    expect(missing).toMatchObject({ ok: false, message: 'script nope.sh: ENOENT: nope.sh is not in the repository' });
    const notADir = join(dir, 'a-file');
    await writeFile(notADir, '');
    const scriptDir = join(notADir, 'scripts');
    const unwritable = await runProbe(probe({ script: { file: 'a.sh', args: [] } }), targetWith({ 'a.sh': '#!/bin/sh\n' }), { runtime: new FakeRuntime(), scriptDir });
    expect(unwritable).toMatchObject({ ok: false, message: expect.stringMatching(/^script a\.sh: cannot write it to .*\/a-file\/scripts: ENOTDIR/) });
    const noInterpreter = await runProbe(probe({ script: { file: 'x.sh', args: [] } }), targetWith({ 'x.sh': '#!/nonexistent/sh\n' }), deps());
    expect(noInterpreter).toMatchObject({ ok: false, message: expect.stringMatching(/^spawn .*\.script ENOENT$/) });
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
