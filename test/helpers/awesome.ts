/**
 * Helpers of the docker/awesome-compose tests on the engine (test/awesome-compose.test.ts,
 * test/awesome-compose-health.test.ts): the samples' files, free host ports for their published ports, and the
 * stand-in images of test/fixtures/compose/standins (built with the classic builder, tagged with the samples' image
 * names, labelled berth.test.standin so that a real image of one of those names is never touched).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { freePort } from './net.ts';

const run = promisify(execFile);

/** test/fixtures/compose/ */
export const COMPOSE_FIXTURES = fileURLToPath(new URL('../fixtures/compose/', import.meta.url));
/** The label every stand-in image carries: an image of one of these names without it is a real one, never touched. */
export const STANDIN_LABEL = 'berth.test.standin';

/**
 * The sample's compose file with each published port item `- HOST:CONTAINER` (quoted or not) given a free host port
 * instead of HOST; nothing else changes. Returns the text and the host port of each container port.
 */
export async function publishOn(compose: string): Promise<{ text: string; ports: Map<number, number> }> {
  const ports = new Map<number, number>();
  const items = [...compose.matchAll(/^(\s*-\s*)(["']?)(\d+):(\d+)\2[ \t]*$/gm)];
  for (const m of items) ports.set(Number(m[4]), await freePort());
  const text = compose.replace(/^(\s*-\s*)(["']?)(\d+):(\d+)\2[ \t]*$/gm, (_m, lead: string, _q: string, _host: string, target: string) => `${lead}"${ports.get(Number(target))}:${target}"`);
  if (ports.size !== items.length) throw new Error('two published items of one container port');
  return { text, ports };
}

/** Every file of a directory (default: the sample's fixture directory), by path relative to it. */
export function sampleFiles(sample: string, dir = join(COMPOSE_FIXTURES, 'awesome', sample), prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) {
    const full = join(dir, f);
    if (statSync(full).isDirectory()) Object.assign(out, sampleFiles(sample, full, `${prefix}${f}/`));
    else out[`${prefix}${f}`] = readFileSync(full, 'utf8');
  }
  return out;
}

/** null: no such image; undefined: an image without the stand-in label (a real one); else the label. */
export async function labelOf(docker: Dockerode, image: string): Promise<string | undefined | null> {
  const info = await docker.getImage(image).inspect().catch(() => null);
  if (!info) return null;
  return info.Config?.Labels?.[STANDIN_LABEL];
}

/**
 * Builds the stand-in test/fixtures/compose/standins/<dir>/Dockerfile (classic builder, build context standins/) as
 * `image`, with VERSION and the other build args. Returns false, building nothing, when the engine has a real image
 * of that name (one without the stand-in label).
 */
export async function buildStandin(docker: Dockerode, s: { image: string; dir: string; version: string; args?: Record<string, string> }): Promise<boolean> {
  if ((await labelOf(docker, s.image)) === undefined) return false;
  const args = Object.entries({ VERSION: s.version, ...s.args }).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  await run('docker', ['build', '-q', '-f', `standins/${s.dir}/Dockerfile`, ...args, '-t', s.image, 'standins'], { cwd: COMPOSE_FIXTURES, env: { ...process.env, DOCKER_BUILDKIT: '0' }, timeout: 120_000 });
  return true;
}

/** Removes the tag `image` while it still names a stand-in (another run may have replaced it since). */
export async function removeStandin(docker: Dockerode, image: string): Promise<void> {
  if (typeof (await labelOf(docker, image)) === 'string') await docker.getImage(image).remove().catch(() => undefined);
}
