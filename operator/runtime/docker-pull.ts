/**
 * `docker pull` through the engine API: the engine fetches the image from its registry with the credentials berth
 * passes as X-Registry-Auth (dockerode's `authconfig`), and answers a JSON progress stream that is read here, bounded
 * in line length and in time (a registry that stops sending fails the pull instead of holding it forever).
 * The credentials are never part of a message: errors carry the engine's own text, which names the image and the
 * registry's answer only.
 */
import type Dockerode from 'dockerode';
import { BerthError } from '../model/errors.ts';
import { describeEndpoint } from './docker-options.ts';
import { imageId, type FailFn } from './docker-observe.ts';
import type { EngineAuth, PullProgress, PullResult } from './runtime.ts';

/** A pull that reports nothing for this long has stalled. */
export const PULL_IDLE_TIMEOUT_MS = 60_000;
/** No pull takes longer than this, whatever it reports. */
export const PULL_TIMEOUT_MS = 30 * 60_000;
/** Longest progress line read; the engine's are a few hundred bytes. */
const MAX_LINE = 64 * 1024;
/** Progress is reported at most this often. */
const REPORT_EVERY_MS = 1_000;

interface ProgressEvent {
  id?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  progressDetail?: { current?: number; total?: number };
}

/** Pulls `ref` unless the engine has it; resolves with what was done and how much was moved. */
export async function pullImage(
  docker: Dockerode, fail: FailFn, ref: string,
  opts: { auth?: EngineAuth; onProgress?: (p: PullProgress) => void; idleTimeoutMs?: number; timeoutMs?: number } = {},
): Promise<PullResult> {
  const started = performance.now();
  if ((await imageId(docker, fail, ref)) !== undefined) return { ref, action: 'present', layers: 0, bytes: 0, ms: 0 };
  const endpoint = describeEndpoint(docker);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(ref, opts.auth ? { authconfig: opts.auth } : {}) as NodeJS.ReadableStream;
  } catch (err) {
    throw new BerthError('E_PULL', fail(err, `pull image ${ref}`).message.slice(0, 1000)); // names image, engine and answer
  }
  const layers = new Map<string, { current: number; total: number; done: boolean }>();
  const progress = (): PullProgress => {
    let bytes = 0;
    let total = 0;
    let done = 0;
    for (const l of layers.values()) {
      bytes += l.current;
      total += l.total;
      if (l.done) done++;
    }
    return { ref, layers: layers.size, layersDone: done, bytes, totalBytes: total, ms: performance.now() - started };
  };
  let failure: string | undefined;
  let lastReport = 0;
  const onEvent = (e: ProgressEvent): void => {
    if (e.error || e.errorDetail?.message) {
      failure = e.errorDetail?.message ?? e.error;
      return;
    }
    if (!e.id || !e.status) return;
    const layer = layers.get(e.id) ?? { current: 0, total: 0, done: false };
    if (e.status === 'Downloading' && e.progressDetail) {
      layer.current = e.progressDetail.current ?? layer.current;
      layer.total = e.progressDetail.total ?? layer.total;
    } else if (e.status === 'Pull complete' || e.status === 'Already exists') {
      layer.done = true;
      if (layer.total) layer.current = layer.total;
    } else if (!/^(Pulling fs layer|Waiting|Verifying Checksum|Download complete|Extracting)$/.test(e.status)) {
      return; // "Pulling from ...", "Digest: ...", "Status: ..." are not layers
    }
    layers.set(e.id, layer);
    const now = performance.now();
    if (opts.onProgress && now - lastReport >= REPORT_EVERY_MS) {
      lastReport = now;
      opts.onProgress(progress());
    }
  };
  await readProgress(stream, onEvent, ref, endpoint, opts.idleTimeoutMs ?? PULL_IDLE_TIMEOUT_MS, opts.timeoutMs ?? PULL_TIMEOUT_MS);
  if (failure !== undefined) throw pullError(ref, endpoint, failure);
  const p = progress();
  return { ref, action: 'pulled', layers: p.layers, bytes: p.bytes, ms: p.ms };
}

/** The engine's error about a pull, as ErrImagePull: transient (retried with backoff), naming image and engine. */
function pullError(ref: string, endpoint: string, message: string): BerthError {
  return new BerthError('E_PULL', `pull ${ref} on ${endpoint}: ${message.slice(0, 1000)}`);
}

/** Reads newline-delimited JSON events until the stream ends; bounded per line, idle time and total time. */
function readProgress(
  stream: NodeJS.ReadableStream, onEvent: (e: ProgressEvent) => void, ref: string, endpoint: string, idleMs: number, totalMs: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let pending = '';
    let settled = false;
    const finish = (err?: BerthError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      clearTimeout(total);
      if (err) {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        reject(err);
      } else resolve();
    };
    const stalled = (what: string) => () => finish(pullError(ref, endpoint, what));
    let idle = setTimeout(stalled(`no progress for ${Math.round(idleMs / 1000)} s`), idleMs);
    const total = setTimeout(stalled(`not done after ${Math.round(totalMs / 1000)} s`), totalMs);
    stream.on('data', (chunk: Buffer | string) => {
      clearTimeout(idle);
      idle = setTimeout(stalled(`no progress for ${Math.round(idleMs / 1000)} s`), idleMs);
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line) parseLine(line, onEvent);
      }
      if (pending.length > MAX_LINE) finish(pullError(ref, endpoint, `engine sent a progress line over ${MAX_LINE} bytes`));
    });
    stream.on('end', () => {
      if (pending.trim()) parseLine(pending.trim(), onEvent);
      finish();
    });
    stream.on('error', (err: Error) => finish(pullError(ref, endpoint, err.message)));
  });
}

function parseLine(line: string, onEvent: (e: ProgressEvent) => void): void {
  try {
    onEvent(JSON.parse(line) as ProgressEvent);
  } catch {
    // not JSON: ignored, as the docker CLI does
  }
}
