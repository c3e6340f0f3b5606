/** Helpers for tests against the real Docker engine: a client, the local test image, cleanup by instance, polling. */
import Dockerode from 'dockerode';
import { LABELS } from '../../operator/model/keys.ts';
import type { RuntimeEvent } from '../../operator/runtime/runtime.ts';

/** busybox-static in a scratch image (sh, httpd, nc, sleep), built locally by scripts/provision.sh or test/global-setup.ts. */
export const TEST_IMAGE = 'berth-local/busybox:1';

/** Podman's socket as scripts/podman.sh serves it. */
export const PODMAN_SOCKET = '/run/berth-podman/podman.sock';

/**
 * The engine the real-engine tests drive: the main Docker engine, or Podman when BERTH_TEST_ENGINE=podman (the podman
 * project of vitest.config.ts runs the engine-neutral files again that way).
 */
export const TEST_ENGINE: 'docker' | 'podman' = process.env.BERTH_TEST_ENGINE === 'podman' ? 'podman' : 'docker';

/** The socket of TEST_ENGINE. */
export const TEST_SOCKET = TEST_ENGINE === 'podman' ? PODMAN_SOCKET : '/var/run/docker.sock';

/** The network a container joins when none is named: `bridge` on Docker, `podman` on Podman. */
export const DEFAULT_NETWORK = TEST_ENGINE === 'podman' ? 'podman' : 'bridge';

/** TEST_ENGINE as berth's --docker flag and a Node's spec.endpoint take it. */
export const TEST_ENDPOINT = `unix://${TEST_SOCKET}`;

/** A Dockerode client on TEST_ENGINE (tests construct their own clients; the operator does so only in main.ts). */
export function testDocker(): Dockerode {
  return new Dockerode({ socketPath: TEST_SOCKET });
}

let counter = 0;

/** An instance name unique to this test run: lowercase `[a-z0-9-]`, starting with `prefix`. */
export function uniqueInstance(prefix: string): string {
  counter += 1;
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 't';
  const stamp = `${Date.now().toString(36)}${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`;
  return `${clean}-${stamp}-${counter}`;
}

/**
 * Removes what tests of `instance` left on the engine: containers (forced), networks and volumes labelled
 * berth.instance=`instance`, images labelled so, and image tags whose repository has `instance` as a path segment
 * (e.g. `berth-test/<instance>:v1`; a tag sharing its image with other tags is only untagged).
 */
export async function cleanupInstance(docker: Dockerode, instance: string): Promise<void> {
  const filters = { label: [`${LABELS.instance}=${instance}`] };
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(containers.map((c) => ignoreGone(docker.getContainer(c.Id).remove({ force: true, v: false }))));
  const volumes = (await docker.listVolumes({ filters })).Volumes ?? [];
  await Promise.all(volumes.map((v) => ignoreGone(docker.getVolume(v.Name).remove())));
  const networks = await docker.listNetworks({ filters });
  await Promise.all(networks.map((n) => ignoreGone(docker.getNetwork(n.Id).remove())));
  const labelled = await listImages(docker, filters);
  for (const image of labelled) await ignoreGone(docker.getImage(image.Id).remove({ force: true }));
  const tags = (await listImages(docker)).flatMap((i) => i.RepoTags ?? []).filter((t) => repositoryOf(t).split('/').includes(instance));
  for (const tag of tags) await ignoreGone(docker.getImage(tag).remove());
}

/**
 * The engine's image list. Podman 4.3 answers 500 now and then while another test removes an image (it looks up each
 * image's parent): asked again. Podman lists no image for two label filters: the first is asked, the rest checked here.
 */
async function listImages(docker: Dockerode, filters?: { label: string[] }): Promise<Dockerode.ImageInfo[]> {
  const [first, ...rest] = filters?.label ?? [];
  for (let attempt = 1; ; attempt++) {
    try {
      const list = await docker.listImages(first ? { filters: { label: [first] } } : {});
      return list.filter((i) => rest.every((l) => { const [k, v] = l.split('='); return i.Labels?.[k!] === v; }));
    } catch (err) {
      if (attempt >= 5 || (err as { statusCode?: number }).statusCode !== 500) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

function repositoryOf(tag: string): string {
  const colon = tag.lastIndexOf(':');
  return colon > tag.lastIndexOf('/') ? tag.slice(0, colon) : tag;
}

async function ignoreGone(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw err;
  }
}

/** Options of waitFor. */
export interface WaitOptions {
  /** Deadline, default 20 s. */
  timeoutMs?: number;
  /** Pause between attempts, default 100 ms. */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Calls `fn` until it returns a truthy value and resolves with it; rejects naming `what` once `timeoutMs` passed.
 * An exception thrown by `fn` is not retried: it rejects at once.
 */
export async function waitFor<T>(fn: () => Promise<T | undefined | false | null> | T | undefined | false | null, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

/** Splits a non-TTY log buffer (8-byte frame headers: stream, 0, 0, 0, size BE32) into stdout and stderr text. */
export function demuxLogs(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at];
    const size = buf.readUInt32BE(at + 4);
    const frame = buf.subarray(at + 8, at + 8 + size);
    (stream === 2 ? err : out).push(frame);
    at += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** Runs `cmd` in container `id` (docker exec, no TTY) and resolves with its stdout followed by its stderr. */
export async function execIn(docker: Dockerode, id: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  const { stdout, stderr } = demuxLogs(Buffer.concat(chunks));
  return stdout + stderr;
}

/** Counts the engine requests a Dockerode client sends (method and path), by wrapping its modem's dial. */
export interface RequestLog {
  /** `GET /containers/json?`, `GET /containers/<id>/json?`, ... in order. */
  requests: string[];
  /** How many logged requests match `pattern`. */
  count(pattern: RegExp): number;
}

/** Starts logging the requests of `docker` (instrumentation of this one instance; nothing global is replaced). */
export function logRequests(docker: Dockerode): RequestLog {
  const requests: string[] = [];
  const modem = docker.modem as unknown as { dial: (options: { method?: string; path?: string }, cb?: unknown) => unknown };
  const dial = modem.dial.bind(modem);
  modem.dial = (options, cb) => {
    requests.push(`${options.method ?? 'GET'} ${options.path ?? ''}`);
    return dial(options, cb);
  };
  return { requests, count: (pattern) => requests.filter((r) => pattern.test(r)).length };
}

/** Matches a container list request in a RequestLog. */
export const LIST_CONTAINERS = /^GET \/containers\/json/;
/** Matches a container inspect request in a RequestLog. */
export const INSPECT_CONTAINER = /^GET \/containers\/[^/]+\/json/;

/**
 * Pokes container `id` with no-op updates until the event of a poke arrives before the next one: the runtime's event
 * subscription feeding `events` is then up.
 */
export async function waitSubscribed(docker: Dockerode, events: RuntimeEvent[], id: string): Promise<void> {
  // Docker: an update that changes nothing; Podman has no update on its Docker API: a pause and unpause.
  const action = TEST_ENGINE === 'podman' ? 'unpause' : 'update';
  const poke = TEST_ENGINE === 'podman'
    ? async () => { await docker.getContainer(id).pause(); await docker.getContainer(id).unpause(); }
    : () => docker.getContainer(id).update({ RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } });
  const seen = () => events.filter((e) => e.action === action && e.containerId === id).length;
  await waitFor(async () => {
    const before = seen();
    await poke();
    return waitFor(() => seen() > before, { timeoutMs: 1_000, intervalMs: 10 }).then(() => true, () => false);
  }, { what: 'event subscription delivering events', intervalMs: 0 });
}
