/**
 * Validation in a worker thread: the heap is capped (resourceLimits), the wall clock bounded (terminate), and however
 * long a revision takes to parse, the main thread's event loop is never blocked by it — it only answers the worker's
 * snapshot calls and receives the result in small messages. One idle worker is kept for a few seconds, so a burst of
 * loads (a pass and a review round, a test file) starts one thread, not one each.
 */
import { Worker } from 'node:worker_threads';
import { ValidationError } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import type { RepoSnapshot } from '../source/source.ts';
import { BUNDLED } from '../root.ts';
import { normalizeRoot } from './build-context.ts';
import { tooLarge } from './limits.ts';
import type { LoadOptions } from './load.ts';
import type { ManifestFile } from './read-manifests.ts';
import { fromWire, toWire } from './worker-protocol.ts';
import type { LoadRequest, WorkerMessage } from './worker-protocol.ts';

/** Old-generation heap of the worker: the largest revision the size limits accept (16 MiB of Services) needs 256-384 MB. */
export const WORKER_HEAP_MB = 512;
/** Wall-clock bound: the largest accepted revision (16 MiB) takes 17-22 s here (bench/validate-limits.ts); the rest is margin for a loaded machine. */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** An idle worker is ended after this long. */
const IDLE_MS = 5_000;
/** Workers validating at once (a pass and a review round); more loads wait their turn, so memory stays bounded. */
const MAX_BUSY = 2;

/**
 * From source, a worker starts without the parent's module hooks: the boot module registers tsx, then imports the
 * TypeScript entry. In the bundle, dist/validate-worker.js sits beside this chunk and runs as it is.
 */
const BOOT = BUNDLED ? new URL('./validate-worker.js', import.meta.url) : new URL('./validate-worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./validate-worker.ts', import.meta.url).href;

let idle: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let busy = 0;
const waiting: (() => void)[] = [];

async function turn(): Promise<void> {
  if (busy < MAX_BUSY) {
    busy++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function endTurn(): void {
  const next = waiting.shift();
  if (next) next();
  else busy--;
}

function acquire(): Worker {
  const w = idle;
  if (w) {
    idle = undefined;
    clearTimeout(idleTimer);
    w.ref();
    return w;
  }
  const spawned = new Worker(BOOT, { workerData: { entry: ENTRY }, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
  spawned.once('exit', () => {
    if (idle === spawned) idle = undefined;
  });
  return spawned;
}

function release(w: Worker): void {
  if (idle) {
    void w.terminate();
    return;
  }
  idle = w;
  w.unref();
  idleTimer = setTimeout(() => {
    if (idle !== w) return;
    idle = undefined;
    void w.terminate();
  }, IDLE_MS);
  idleTimer.unref();
}

/** One buffer holding every file (copied in once, then transferred to the worker, not cloned), and each file's range of it. */
function pack(files: readonly ManifestFile[]): Pick<LoadRequest, 'files' | 'data'> {
  const data = new ArrayBuffer(files.reduce((n, f) => n + f.bytes.length, 0));
  const view = new Uint8Array(data);
  let offset = 0;
  const ranges = files.map((f) => {
    view.set(f.bytes, offset);
    offset += f.bytes.length;
    return { path: f.path, start: offset - f.bytes.length, end: offset };
  });
  return { files: ranges, data };
}

/** Answers one snapshot call of the worker. */
function serve(w: Worker, snapshot: RepoSnapshot, m: Extract<WorkerMessage, { type: 'call' }>): void {
  const run = m.method === 'list' ? snapshot.list(m.arg) : m.method === 'read' ? snapshot.read(m.arg) : snapshot.treeId(m.arg);
  run.then(
    (value) => w.postMessage({ type: 'reply', id: m.id, ok: true, value }),
    (err: unknown) => w.postMessage({ type: 'reply', id: m.id, ok: false, error: toWire(err) }),
  );
}

/** The revision rejected on a limit of the worker, at the file it was working on. */
function limitError(file: string, message: string): ValidationError {
  return new ValidationError([tooLarge(file, 1, 1, message)]);
}

/**
 * loadFiles(files, snapshot, opts) in a worker thread, once one of MAX_BUSY is free; rejects as loadFiles would, or
 * with E_TOO_LARGE on the time or heap limit.
 */
export async function loadInWorker(snapshot: RepoSnapshot, files: readonly ManifestFile[], opts: LoadOptions): Promise<DesiredState> {
  await turn();
  try {
    return await run(acquire(), snapshot, files, opts);
  } finally {
    endTurn();
  }
}

/** One load on worker `w`: sends the files, answers its snapshot calls, collects the result, enforces the timeout. */
function run(w: Worker, snapshot: RepoSnapshot, files: readonly ManifestFile[], opts: LoadOptions): Promise<DesiredState> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<DesiredState>((resolve, reject) => {
    let current = files[0]?.path ?? (normalizeRoot(opts.path) || '.');
    const result: DesiredState = { revision: snapshot.revision, services: [], volumes: [], networks: [], routes: [], nodes: [] };
    let settled = false;
    const finish = (outcome: { value: DesiredState } | { error: Error }, reuse: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      w.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (reuse) release(w);
      else void w.terminate();
      if ('value' in outcome) resolve(outcome.value);
      else reject(outcome.error);
    };
    const onMessage = (m: WorkerMessage): void => {
      if (m.type === 'call') serve(w, snapshot, m);
      else if (m.type === 'progress') current = m.file;
      else if (m.type === 'part') {
        const list: unknown[] = (result[m.list] ??= []);
        for (const item of m.items) list.push(item);
        setImmediate(() => w.postMessage({ type: 'reply', id: m.id, ok: true, value: null }));
      } else if (m.type === 'done') finish({ value: { ...result, revision: m.revision, ...(m.warnings ? { warnings: m.warnings } : {}) } }, true);
      else finish({ error: fromWire(m.error) }, true);
    };
    const onError = (err: Error & { code?: string }): void => {
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      finish({ error: oom ? limitError(current, `validation needed more than ${WORKER_HEAP_MB} MB of memory`) : err }, false);
    };
    const onExit = (code: number): void => finish({ error: new Error(`the validation worker exited (code ${code})`) }, false);
    const timer = setTimeout(() => finish({ error: limitError(current, `validation took longer than ${timeoutMs / 1000}s`) }, false), timeoutMs);
    w.on('message', onMessage).on('error', onError).on('exit', onExit);
    const { files: ranges, data } = pack(files);
    const request: LoadRequest = { type: 'load', revision: snapshot.revision, files: ranges, data, opts };
    try {
      w.postMessage(request, [data]);
    } catch (err) {
      finish({ error: err instanceof Error ? err : new Error(String(err)) }, false);
    }
  });
}
