/**
 * Health probes and runtime exec against real containers of the local busybox image. Everything created carries
 * berth.instance=<a unique instance> and is removed afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeSpec } from '../operator/model/manifest.ts';
import { createDockerRuntime, ExecOutput, EXEC_OUTPUT_LIMIT } from '../operator/runtime/docker.ts';
import { createProbeAgents, runProbe, type ProbeDeps, type ProbeTarget } from '../operator/health/probes.ts';
import { cleanupInstance, testDocker, TEST_ENGINE, TEST_IMAGE, uniqueInstance, waitFor } from './helpers/docker.ts';

const SLACK_MS = 1000;
const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('probes');
const agents = createProbeAgents();
let deps: ProbeDeps;
let scriptDir: string;

/** httpd on 8080 (index, a CGI answering 500) and a second httpd on 8081 whose pid is in /8081.pid, to be killed. */
const WEB = [
  'mkdir -p /www/cgi-bin && echo ok > /www/index.html',
  'printf "#!/bin/sh\\necho Status: 500 Internal Server Error\\necho Content-Type: text/plain\\necho\\necho boom\\n" > /www/cgi-bin/fail',
  'chmod +x /www/cgi-bin/fail',
  'httpd -f -p 8081 -h /www & echo $! > /8081.pid',
  'exec httpd -f -p 8080 -h /www',
].join('; ');

const ids: Record<'web' | 'hang' | 'created', string> = { web: '', hang: '', created: '' };
const targets: Record<'web' | 'hang', ProbeTarget> = {} as Record<'web' | 'hang', ProbeTarget>;

async function container(name: string, cmd: string[], start = true): Promise<string> {
  const c = await docker.createContainer({
    name: `${instance}.${name}`, Image: TEST_IMAGE, Cmd: cmd,
    Labels: { 'berth.managed': 'true', 'berth.instance': instance, 'berth.service': name },
    HostConfig: { Init: true, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
  });
  if (start) await c.start();
  return c.id;
}

function probe(over: Partial<ProbeSpec>, timeoutMs = 2000): ProbeSpec {
  return { intervalMs: 1000, timeoutMs, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1, ...over };
}

function http(port: number, path = '/', over: Partial<NonNullable<ProbeSpec['http']>> = {}, timeoutMs = 2000): ProbeSpec {
  return probe({ http: { path, port, scheme: 'http', headers: {}, ...over } }, timeoutMs);
}

/** A target of `id` whose repository holds `files` (script probes). */
function targetOf(id: string, name: string, address: string | undefined, files: Record<string, string> = {}): ProbeTarget {
  return {
    containerId: id, name, ...(address ? { address } : {}),
    readFile: async (path) => Buffer.from(files[path] ?? ''),
  };
}

beforeAll(async () => {
  scriptDir = await mkdtemp(join(tmpdir(), 'berth-probes-'));
  deps = { runtime, scriptDir, agents };
  ids.web = await container('web', ['sh', '-c', WEB]);
  ids.hang = await container('hang', ['nc', '-ll', '-p', '8080', '-e', 'sleep', '3600']);
  ids.created = await container('created', ['sleep', '3600'], false);
  const observed = (await runtime.observe(instance, [])).containers;
  for (const key of ['web', 'hang'] as const) {
    const c = observed.find((o) => o.id === ids[key]);
    targets[key] = targetOf(ids[key], `${instance}.${key}`, c?.address);
  }
  for (const port of [8080, 8081]) {
    await waitFor(async () => (await runProbe(probe({ tcp: { port } }), targets.web, deps)).ok, { what: `httpd listening on ${port}` });
  }
  await waitFor(async () => (await runProbe(probe({ tcp: { port: 8080 } }), targets.hang, deps)).ok, { what: 'nc listening on 8080' });
});

afterAll(async () => {
  agents.destroy();
  await cleanupInstance(docker, instance);
  if (scriptDir) await rm(scriptDir, { recursive: true, force: true });
});

describe('docker observe: address, restartCount, finishedAt', () => {
  it('reports the bridge IP of a running container, RestartCount, and no address / finishedAt before a start', async () => {
    const observed = (await runtime.observe(instance, [])).containers;
    const web = observed.find((c) => c.id === ids.web)!;
    const inspect = await docker.getContainer(ids.web).inspect();
    expect(web.address).toBe(Object.values(inspect.NetworkSettings.Networks)[0]?.IPAddress);
    expect(web.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(web).toMatchObject({ restartCount: 0 });
    expect(web.finishedAt).toBeUndefined();
    const created = observed.find((c) => c.id === ids.created)!;
    expect(created).toMatchObject({ status: 'created', restartCount: 0 });
    expect(created.address).toBeUndefined();
    expect(created.finishedAt).toBeUndefined();
  });
});

describe('http probe on containers', () => {
  it('passes on a served file, fails with the status on 404 and on a CGI 500, honours expectStatus', async () => {
    expect(await runProbe(http(8080), targets.web, deps)).toMatchObject({ ok: true, message: 'HTTP 200' });
    expect(await runProbe(http(8080, '/missing'), targets.web, deps)).toMatchObject({ ok: false, message: 'HTTP 404' });
    expect(await runProbe(http(8080, '/cgi-bin/fail'), targets.web, deps)).toMatchObject({ ok: false, message: 'HTTP 500' });
    expect(await runProbe(http(8080, '/missing', { expectStatus: [404] }), targets.web, deps)).toMatchObject({ ok: true, message: 'HTTP 404' });
    expect(await runProbe(http(8080, '/', { expectStatus: [204] }), targets.web, deps)).toMatchObject({ ok: false, message: 'HTTP 200' });
  });

  it('times out against a server that accepts but never answers, within the timeout plus slack', async () => {
    const outcome = await runProbe(http(8080, '/', {}, 500), targets.hang, deps);
    expect(outcome).toMatchObject({ ok: false, message: 'timeout after 500 ms' });
    expect(outcome.ms).toBeGreaterThanOrEqual(490);
    expect(outcome.ms).toBeLessThan(500 + SLACK_MS);
  });
});

describe('tcp probe on containers', () => {
  it('passes on an open port and fails on the next probe once the listener is killed', async () => {
    const address = targets.web.address!;
    expect(await runProbe(probe({ tcp: { port: 8081 } }), targets.web, deps)).toMatchObject({ ok: true, message: 'TCP 8081 open' });
    expect(await runProbe(http(8081), targets.web, deps)).toMatchObject({ ok: true });
    const kill = await runtime.exec(ids.web, ['sh', '-c', 'kill $(cat /8081.pid)'], 5000);
    expect(kill.exitCode).toBe(0);
    await waitFor(async () => (await runtime.exec(ids.web, ['sh', '-c', '! kill -0 $(cat /8081.pid) 2>/dev/null'], 5000)).exitCode === 0, { what: 'httpd on 8081 to exit' });
    expect(await runProbe(probe({ tcp: { port: 8081 } }), targets.web, deps)).toMatchObject({ ok: false, message: `connect ECONNREFUSED ${address}:8081` });
    expect(await runProbe(http(8081), targets.web, deps)).toMatchObject({ ok: false, message: `connect ECONNREFUSED ${address}:8081` });
    expect(await runProbe(probe({ tcp: { port: 8080 } }), targets.web, deps)).toMatchObject({ ok: true });
  });
});

describe('exec probe and runtime exec', () => {
  it('passes for true, fails with the exit code and first output line, times out for sleep', async () => {
    expect(await runProbe(probe({ exec: { command: ['true'] } }), targets.web, deps)).toMatchObject({ ok: true, message: 'exit 0' });
    expect(await runProbe(probe({ exec: { command: ['sh', '-c', 'exit 3'] } }), targets.web, deps)).toMatchObject({ ok: false, message: 'exit 3' });
    const failing = probe({ exec: { command: ['sh', '-c', 'echo "no such pid" >&2; exit 3'] } });
    expect(await runProbe(failing, targets.web, deps)).toMatchObject({ ok: false, message: 'exit 3: no such pid' });
    const slow = await runProbe(probe({ exec: { command: ['sleep', '10'] } }, 500), targets.web, deps);
    expect(slow).toMatchObject({ ok: false, message: 'timeout after 500 ms' });
    expect(slow.ms).toBeLessThan(500 + SLACK_MS);
  });

  it('collects stdout and stderr, truncates to 4 KiB, and reads the exit code', async () => {
    // stdout and stderr are separate pipes inside the engine: their relative order is not kept.
    const both = await runtime.exec(ids.web, ['sh', '-c', 'echo out; echo err >&2; exit 2'], 5000);
    expect(both.exitCode).toBe(2);
    expect(both.output.split('\n').sort()).toEqual(['', 'err', 'out']);
    const big = await runtime.exec(ids.web, ['sh', '-c', 'yes abcdefgh | head -c 100000'], 5000);
    expect(big.exitCode).toBe(0);
    expect(big.output).toHaveLength(EXEC_OUTPUT_LIMIT);
    expect(big.output.startsWith('abcdefgh\nabcdefgh\n')).toBe(true);
  });

  it('resolves -1 for a container that is not running or gone; rejects E_DOCKER when the engine is unreachable', async () => {
    // the engine's own words
    const notRunning = TEST_ENGINE === 'docker' ? `Container ${ids.created} is not running` : 'can only create exec sessions on running containers: container state improper';
    expect(await runtime.exec(ids.created, ['true'], 2000)).toEqual({ exitCode: -1, output: notRunning });
    const gone = TEST_ENGINE === 'docker' ? 'No such container: berth-no-such-container' : 'no container with name or ID "berth-no-such-container" found: no such container';
    expect(await runtime.exec('berth-no-such-container', ['true'], 2000)).toEqual({ exitCode: -1, output: gone });
    const unreachable = createDockerRuntime(new Dockerode({ socketPath: join(scriptDir, 'no-docker.sock') }));
    await expect(unreachable.exec(ids.web, ['true'], 2000)).rejects.toMatchObject({ code: 'E_DOCKER', terminal: false });
  });

  it('demultiplexes frames split anywhere across chunks', () => {
    const frame = (stream: number, text: string): Buffer => {
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([header, Buffer.from(text)]);
    };
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'wörld'), frame(1, '\n')]);
    const demux = new ExecOutput(EXEC_OUTPUT_LIMIT);
    for (const byte of all) demux.push(Buffer.from([byte]));
    expect(demux.text()).toBe('hello wörld\n');
    const small = new ExecOutput(4);
    small.push(all);
    expect(small.text()).toBe('hell');
  });
});

describe('script probe on containers', () => {
  const files = {
    'probes/page.sh': '#!/bin/sh\nexec /bin/busybox wget -q -O- "http://$BERTH_ADDRESS:8080/"\n',
    'probes/missing.sh': '#!/bin/sh\n/bin/busybox wget -q -O- "http://$BERTH_ADDRESS:8080/$1" >/dev/null 2>&1 || { echo "no $1 on $BERTH_CONTAINER_NAME"; exit 5; }\n',
  };

  it('passes with a script reaching the replica at $BERTH_ADDRESS, fails with its exit code and output', async () => {
    const web = targetOf(ids.web, targets.web.name, targets.web.address, files);
    expect(await runProbe(probe({ script: { file: 'probes/page.sh', args: [] } }), web, deps)).toMatchObject({ ok: true, message: 'exit 0' });
    const missing = probe({ script: { file: 'probes/missing.sh', args: ['nothing.html'] } });
    expect(await runProbe(missing, web, deps)).toMatchObject({ ok: false, message: `exit 5: no nothing.html on ${web.name}` });
  });

  it('times out a script hanging on a replica that never answers', async () => {
    const hang = targetOf(ids.hang, targets.hang.name, targets.hang.address, files);
    const outcome = await runProbe(probe({ script: { file: 'probes/page.sh', args: [] } }, 500), hang, deps);
    expect(outcome).toMatchObject({ ok: false, message: 'timeout after 500 ms' });
    expect(outcome.ms).toBeLessThan(500 + SLACK_MS);
  });

  it('fails cleanly for a target without an address (http, tcp)', async () => {
    const bare = targetOf(ids.web, targets.web.name, undefined);
    expect(await runProbe(http(8080), bare, deps)).toMatchObject({ ok: false, message: 'no address for container' });
    expect(await runProbe(probe({ tcp: { port: 8080 } }), bare, deps)).toMatchObject({ ok: false, message: 'no address for container' });
  });
});

describe('docker observe after a stop', () => {
  it('reports finishedAt and no address once the container exited', async () => {
    await docker.getContainer(ids.hang).stop({ t: 1 });
    const hang = await waitFor(async () => (await runtime.observe(instance, [])).containers.find((c) => c.id === ids.hang && c.status === 'exited'), { what: 'the hang container to exit' });
    expect(hang.address).toBeUndefined();
    expect(Date.parse(hang.finishedAt ?? '')).toBeGreaterThan(Date.parse(hang.startedAt ?? ''));
  });
});
