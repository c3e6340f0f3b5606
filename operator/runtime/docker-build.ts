/** buildImage(): in-memory context -> deterministic tar -> classic builder; never pulls a base image. */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { pack } from 'tar-stream';
import { BerthError } from '../model/errors.ts';
import type { BuildFile } from './runtime.ts';
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

/** Builds `ref` (see ContainerRuntime.buildImage); `fail` maps engine failures to E_DOCKER. */
export async function buildImage(
  docker: Dockerode, fail: FailFn, ref: string, files: BuildFile[], dockerfile: string, labels: Record<string, string>,
): Promise<string> {
  await checkBaseImages(docker, fail, ref, files, dockerfile);
  const context = packContext(files);
  let progress: NodeJS.ReadableStream;
  try {
    progress = await docker.buildImage(context, { t: ref, dockerfile, labels, rm: true, forcerm: true, pull: false } as Dockerode.ImageBuildOptions);
  } catch (err) {
    throw buildFailure(err, fail, ref);
  }
  const builderError = await followBuild(docker, progress).catch((err: unknown) => {
    throw buildFailure(err, fail, ref);
  });
  if (builderError !== undefined) throw new BerthError('E_BUILD', `build of ${ref} failed: ${builderError}`, { terminal: true });
  const id = await imageId(docker, fail, ref);
  if (!id) throw new BerthError('E_BUILD', `build of ${ref} finished but the tag is not on the engine`, { terminal: true });
  return id;
}

async function checkBaseImages(docker: Dockerode, fail: FailFn, ref: string, files: BuildFile[], dockerfile: string): Promise<void> {
  const wanted = posix.normalize(dockerfile).replace(/^(\.\/)+/, '');
  const file = files.find((f) => posix.normalize(f.path).replace(/^(\.\/)+/, '') === wanted);
  if (!file) throw new BerthError('E_BUILD', `build of ${ref} failed: Dockerfile "${dockerfile}" is not in the build context`, { terminal: true });
  for (const base of baseImages(file.content.toString('utf8'))) {
    if (await imageId(docker, fail, base)) continue;
    throw new BerthError('E_IMAGE_MISSING', `build of ${ref} failed: base image ${base} is not on the engine (berth never pulls; build or load it first)`, { terminal: true });
  }
}

/** Resolves with the builder's error text, or undefined when the build succeeded. */
function followBuild(docker: Dockerode, progress: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let builderError: string | undefined;
    docker.modem.followProgress(
      progress,
      (err) => (err ? reject(err) : resolve(builderError)),
      (event: { error?: unknown; errorDetail?: { message?: unknown } }) => {
        const text = typeof event.errorDetail?.message === 'string' ? event.errorDetail.message : event.error;
        if (text !== undefined && builderError === undefined) builderError = String(text).replace(/\s*\n\s*/g, ' ').trim();
      },
    );
  });
}

function buildFailure(err: unknown, fail: FailFn, ref: string): Error {
  if (err instanceof BerthError) return err;
  if (isConnectionFailure(err)) return fail(err, `build image ${ref}`);
  const status = statusOf(err);
  if (status !== undefined && status < 500) return new BerthError('E_BUILD', `build of ${ref} failed: ${engineMessage(err)}`, { terminal: true, cause: err });
  return fail(err, `build image ${ref}`);
}
