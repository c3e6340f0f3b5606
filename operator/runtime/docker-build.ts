/** buildImage(): in-memory context -> deterministic tar -> BuildKit (classic builder where there is none); never pulls a base image. */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { pack } from 'tar-stream';
import { BerthError } from '../model/errors.ts';
import type { BuildFile, BuildOptions, BuildProgress } from './runtime.ts';
import { decodeTrace, failureSummary, logTail, newBuildRecord, recordTrace, type BuildRecord } from './buildkit-trace.ts';
import { createLineSplitter } from './docker-events.ts';
import { DockerfileError, forBuiltinFrontend, isDockerfileFrontend, syntaxDirective } from './dockerfile-builtin.ts';
import { engineMessage, isConnectionFailure, statusOf } from './docker-errors.ts';
import { imageId, type FailFn } from './docker-observe.ts';

/** Every entry of a build context gets this mtime, so identical content gives identical layers. */
export const CONTEXT_MTIME = new Date(0);

/** Packs `files` into a tar stream: sorted by path, modes kept, owner root, fixed mtime. */
export function packContext(files: BuildFile[]): Readable {
  const tar = pack();
  const named = files.map((file) => ({ name: contextPath(file.path), file }));
  const sorted = named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name, file } of sorted) {
    tar.entry({ name, mode: file.mode & 0o7777, size: file.content.length, mtime: CONTEXT_MTIME, uid: 0, gid: 0, type: 'file' }, file.content);
  }
  tar.finalize();
  return tar as unknown as Readable;
}

function contextPath(path: string): string {
  const normal = posix.normalize(path).replace(/^(\.\/)+/, '').replace(/^\/+/, '');
  if (normal === '' || normal === '.' || normal.startsWith('../')) throw new BerthError('E_BUILD', `build context path "${path}" leaves the context`, { terminal: true });
  return normal;
}

/**
 * Base images named by `FROM` and `COPY --from` that must already be on the engine: stage names, `scratch`,
 * stage indexes and references built from ARGs (`$`) are left out.
 */
export function baseImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const bases: string[] = [];
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const raw of lines) {
    const words = raw.trim().split(/\s+/);
    const instruction = words[0]?.toUpperCase();
    if (instruction === 'FROM') {
      const args = words.slice(1).filter((w) => !w.startsWith('--'));
      const image = args[0];
      if (image) bases.push(image);
      if (args[1]?.toUpperCase() === 'AS' && args[2]) stages.add(args[2].toLowerCase());
    }
    if (instruction === 'COPY') {
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      if (from) bases.push(from);
    }
  }
  const external = bases.filter((b) => b.toLowerCase() !== 'scratch' && !stages.has(b.toLowerCase()) && !b.includes('$') && !/^\d+$/.test(b));
  return [...new Set(external)];
}

/** How an engine builds: BuildKit (`version=2` on the build API) or the classic builder. */
export type Builder = 'buildkit' | 'classic';

/**
 * BuildKit when the engine is Docker on Linux with API >= 1.39 (18.09, where dockerd embeds BuildKit); the classic
 * builder for Podman (its compat API builds with buildah, without BuildKit's progress stream), Windows daemons and
 * older engines. `version` is the engine's `GET /version` answer.
 */
export function builderFor(version: { ApiVersion?: string; Os?: string; Components?: { Name?: string }[] }): Builder {
  if ((version.Components ?? []).some((c) => /podman/i.test(c.Name ?? ''))) return 'classic';
  if (version.Os !== undefined && version.Os !== 'linux') return 'classic';
  const [major = 0, minor = 0] = (version.ApiVersion ?? '0.0').split('.').map(Number);
  return major > 1 || (major === 1 && minor >= 39) ? 'buildkit' : 'classic';
}

const builders = new WeakMap<Dockerode, Promise<Builder>>();

function builderOf(docker: Dockerode, fail: FailFn): Promise<Builder> {
  let known = builders.get(docker);
  if (!known) {
    known = docker.version().then(
      (v) => builderFor(v as Parameters<typeof builderFor>[0]),
      (err: unknown) => {
        builders.delete(docker);
        throw isConnectionFailure(err) ? fail(err, 'read the engine version') : err;
      },
    );
    builders.set(docker, known);
  }
  return known;
}

/** Builds `ref` (see ContainerRuntime.buildImage); `fail` maps engine failures to E_DOCKER. */
export async function buildImage(
  docker: Dockerode, fail: FailFn, ref: string, files: BuildFile[], dockerfile: string, labels: Record<string, string>, opts: BuildOptions = {},
): Promise<string> {
  const file = dockerfileOf(files, ref, dockerfile);
  const text = file.content.toString('utf8');
  await checkBaseImages(docker, fail, ref, text);
  const builder = await builderOf(docker, fail);
  const prepared = await forEngine(docker, fail, ref, dockerfile, text);
  const context = packContext(prepared === text ? files : files.map((f) => (f === file ? { ...f, content: Buffer.from(prepared) } : f)));
  const options = {
    t: ref, dockerfile, labels, rm: true, forcerm: true, pull: false,
    ...(builder === 'buildkit' ? { version: '2' } : {}),
    ...(opts.args && Object.keys(opts.args).length ? { buildargs: opts.args } : {}),
    ...(opts.target ? { target: opts.target } : {}),
  };
  let progress: NodeJS.ReadableStream;
  try {
    progress = await docker.buildImage(context, options as Dockerode.ImageBuildOptions);
  } catch (err) {
    throw buildFailure(err, fail, ref);
  }
  const result = await followBuild(progress, ref, dockerfile, builder, opts.onProgress).catch((err: unknown) => {
    throw buildFailure(err, fail, ref);
  });
  if (result.error !== undefined) throw new BerthError('E_BUILD', `build of ${ref} failed: ${result.error}`, { terminal: true });
  const id = await imageId(docker, fail, ref);
  if (!id) throw new BerthError('E_BUILD', `build of ${ref} finished but the tag is not on the engine`, { terminal: true });
  return id;
}

function dockerfileOf(files: BuildFile[], ref: string, dockerfile: string): BuildFile {
  const wanted = posix.normalize(dockerfile).replace(/^(\.\/)+/, '');
  const file = files.find((f) => posix.normalize(f.path).replace(/^(\.\/)+/, '') === wanted);
  if (!file) throw new BerthError('E_BUILD', `build of ${ref} failed: Dockerfile "${dockerfile}" is not in the build context`, { terminal: true });
  return file;
}

async function checkBaseImages(docker: Dockerode, fail: FailFn, ref: string, dockerfile: string): Promise<void> {
  for (const base of baseImages(dockerfile)) {
    if (await imageId(docker, fail, base)) continue;
    throw new BerthError('E_IMAGE_MISSING', `build of ${ref} failed: base image ${base} is not on the engine (berth never pulls; build or load it first)`, { terminal: true });
  }
}

/**
 * The Dockerfile the engine gets (see dockerfile-builtin.ts): as written when its `# syntax=` frontend image is on
 * the engine (BuildKit then uses that image, never pulling it); else for the built-in frontend, without a
 * docker/dockerfile syntax line; any other frontend image missing is an error at its line.
 */
async function forEngine(docker: Dockerode, fail: FailFn, ref: string, name: string, text: string): Promise<string> {
  const syntax = syntaxDirective(text);
  if (syntax && (await imageId(docker, fail, syntax.image))) return text;
  if (syntax && !isDockerfileFrontend(syntax.image)) {
    throw new BerthError('E_BUILD', `build of ${ref} failed: ${name}:${syntax.line}: # syntax=${syntax.image}: that frontend image is not on the engine and berth never pulls; load it on the engine or remove the line`, { terminal: true });
  }
  try {
    return forBuiltinFrontend(text, syntax !== undefined);
  } catch (err) {
    if (err instanceof DockerfileError) throw new BerthError('E_BUILD', `build of ${ref} failed: ${name}:${err.line}: ${err.message}`, { terminal: true });
    throw err;
  }
}

const REPORT_EVERY_MS = 1000;

interface BuildEvent {
  id?: unknown;
  aux?: unknown;
  stream?: unknown;
  error?: unknown;
  errorDetail?: { message?: unknown };
}

/**
 * Follows the build's JSON stream: BuildKit's trace (steps, their errors and output, the last 64 KiB kept) or the
 * classic builder's `Step n/m` lines; resolves with the failure text (the failing step and its output tail), if any.
 */
function followBuild(progress: NodeJS.ReadableStream, ref: string, dockerfile: string, builder: Builder, onProgress?: (p: BuildProgress) => void): Promise<{ error?: string }> {
  const record = newBuildRecord();
  const started = Date.now();
  let engineError: string | undefined;
  let step = '';
  let classicSteps = 0;
  let lastReport = 0;
  const report = (force: boolean) => {
    const now = Date.now();
    if (!onProgress || (!force && now - lastReport < REPORT_EVERY_MS)) return;
    lastReport = now;
    const steps = builder === 'buildkit' ? record.names.size : classicSteps;
    onProgress({ ref, builder, step, steps, done: record.completed.size, cached: record.cached.size, ms: now - started });
  };
  const onEvent = (event: BuildEvent) => {
    if (event.id === 'moby.buildkit.trace' && typeof event.aux === 'string') {
      let names: string[] = [];
      try {
        names = recordTrace(record, decodeTrace(event.aux));
      } catch {
        return; // a message this decoder cannot read: progress only, the build's own result still comes
      }
      if (names.length) {
        step = names[names.length - 1]!;
        report(false);
      }
      return;
    }
    if (typeof event.stream === 'string') {
      const m = /^Step (\d+)\/(\d+) : (.*)/.exec(event.stream);
      if (m) {
        if (step) record.completed.add(step);
        step = m[3]!.trim();
        classicSteps = Number(m[2]);
        report(false);
      } else if (!event.stream.startsWith(' ---> ')) recordTrace(record, { vertexes: [], logs: [{ vertex: step, stream: 1, msg: Buffer.from(event.stream) }] });
      return;
    }
    const text = typeof event.errorDetail?.message === 'string' ? event.errorDetail.message : event.error;
    if (text !== undefined && engineError === undefined) engineError = String(text);
  };
  return new Promise((resolve, reject) => {
    const split = createLineSplitter((line) => {
      try {
        onEvent(JSON.parse(line) as BuildEvent);
      } catch {
        // not JSON: ignored, as the docker CLI does
      }
    });
    progress.on('data', split);
    progress.once('error', reject);
    progress.once('end', () => {
      report(true);
      if (engineError === undefined) return resolve({});
      resolve({ error: failureText(record, builder, engineError, step, dockerfile) });
    });
  });
}

/** The failure: BuildKit's failing step with its output, or the engine's error (a parse error named by line). */
function failureText(record: BuildRecord, builder: Builder, engineError: string, step: string, dockerfile: string): string {
  const plain = engineError
    .replace(/^failed to solve with frontend dockerfile\.v0: /, '')
    .replace(/^failed to create LLB definition: /, '')
    .replace(/^dockerfile parse error line (\d+): /i, `${dockerfile}:$1: `)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  if (builder === 'buildkit') return failureSummary(record) ?? plain;
  const tail = logTail(record, step);
  return `${plain}${tail ? `; step ${step} output ends with:\n${tail}` : ''}`;
}

function buildFailure(err: unknown, fail: FailFn, ref: string): Error {
  if (err instanceof BerthError) return err;
  if (isConnectionFailure(err)) return fail(err, `build image ${ref}`);
  const status = statusOf(err);
  if (status !== undefined && status < 500) return new BerthError('E_BUILD', `build of ${ref} failed: ${engineMessage(err)}`, { terminal: true, cause: err });
  return fail(err, `build image ${ref}`);
}
