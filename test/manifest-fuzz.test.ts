/**
 * Bounded, seeded fuzzing of manifest validation (CI): a few hundred generated trees, each accepted or rejected with
 * located, coded issues, never a crash, a hang or a runaway heap; a sample of the accepted ones applied on the real
 * engine through berth's runtime, with no engine error and every replica running. Reproduce a failure with
 * BERTH_FUZZ_SEED=<seed> (and BERTH_FUZZ_CASE=<n> for one case); the seed is in every failure message.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../operator/apply/apply.ts';
import { diff } from '../operator/diff/diff.ts';
import { loadDesired } from '../operator/manifests/load.ts';
import { BerthError, ValidationError } from '../operator/model/errors.ts';
import type { DesiredState } from '../operator/model/state.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { memorySnapshot } from '../operator/source/memory-source.ts';
import { silentLogger } from '../operator/util/log.ts';
import { cleanupInstance, testDocker, TEST_IMAGE, uniqueInstance, waitFor } from './helpers/docker.ts';
import { generateTree, rng, type FuzzTree } from './helpers/manifest-fuzz.ts';
import { containersOf } from './helpers/operator.ts';

const SEED = Number(process.env.BERTH_FUZZ_SEED ?? 20261201);
const ONLY = process.env.BERTH_FUZZ_CASE === undefined ? undefined : Number(process.env.BERTH_FUZZ_CASE);
const CASES = 300;
/** Accepted trees applied on the engine (the rest is validated only, to keep CI time low). */
const APPLY_SAMPLE = 12;
/** A hang guard, not a benchmark: the slowest case (1 MiB strings, 3000 entries) takes well under a second. */
const CASE_DEADLINE_MS = 10_000;
const HEAP_CEILING_BYTES = 1.5 * 2 ** 30;
/** A stable error code (E_YAML, E_SCHEMA, E_SEMANTIC, E_UNKNOWN_KIND, E_TOO_LARGE, ...). */
const ISSUE_CODE = /^E_[A-Z_]+$/;

const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('fuzz');
let allowedDir: string;

interface Accepted {
  index: number;
  tree: FuzzTree;
  desired: DesiredState;
}
const accepted: Accepted[] = [];

beforeAll(async () => {
  allowedDir = await mkdtemp(join(tmpdir(), 'berth-fuzz-'));
  // Every host path the generator writes under the allowed directory exists: a missing one is the host's business.
  await Promise.all(['a', 'b', 'x'].map((d) => mkdir(join(allowedDir, d))));
});

afterAll(async () => {
  await cleanupInstance(docker, instance);
  await rm(allowedDir, { recursive: true, force: true });
});

/** Loads a tree with a deadline; resolves with the outcome, rejects (with the seed) on anything that is not a BerthError. */
async function outcomeOf(index: number, tree: FuzzTree): Promise<DesiredState | BerthError> {
  const where = `fuzz seed ${SEED} case ${index} (${tree.mutations.join('; ') || 'no mutation'})`;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${where}: no answer within ${CASE_DEADLINE_MS} ms`)), CASE_DEADLINE_MS); });
  try {
    const load = loadDesired(memorySnapshot(tree.files, `rev${index}`), { instance, path: '', allowHostPaths: [allowedDir] });
    return await Promise.race([load, deadline]);
  } catch (err) {
    if (err instanceof BerthError) return err;
    throw new Error(`${where}: crashed with ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

function checkRejection(index: number, tree: FuzzTree, err: BerthError): void {
  const where = `fuzz seed ${SEED} case ${index} (${tree.mutations.join('; ') || 'no mutation'})`;
  expect(typeof err.code, where).toBe('string');
  if (!(err instanceof ValidationError)) {
    expect(['E_EMPTY_REVISION', 'E_PATH_MISSING'], `${where}: ${err.code} ${err.message}`).toContain(err.code);
    return;
  }
  expect(err.issues.length, where).toBeGreaterThan(0);
  for (const issue of err.issues) {
    const text = `${where}: ${JSON.stringify(issue).slice(0, 300)}`;
    expect(Object.keys(tree.files), text).toContain(issue.file);
    expect(Number.isInteger(issue.line) && issue.line >= 1, text).toBe(true);
    expect(Number.isInteger(issue.col) && issue.col >= 1, text).toBe(true);
    expect(issue.code, text).toMatch(ISSUE_CODE);
    expect(typeof issue.field === 'string' && typeof issue.message === 'string' && issue.message.length > 0, text).toBe(true);
  }
}

describe('manifest fuzzing', () => {
  it(`validates ${CASES} generated trees: accepted, or rejected with located and coded issues`, async () => {
    const started = performance.now();
    let rejected = 0;
    for (let index = 0; index < CASES; index++) {
      if (ONLY !== undefined && index !== ONLY) continue;
      const tree = generateTree(rng(SEED * 1000 + index), allowedDir);
      const outcome = await outcomeOf(index, tree);
      if (outcome instanceof BerthError) {
        rejected++;
        checkRejection(index, tree, outcome);
      } else {
        accepted.push({ index, tree, desired: outcome });
      }
      expect(process.memoryUsage().heapUsed, `fuzz seed ${SEED} case ${index}: heap`).toBeLessThan(HEAP_CEILING_BYTES);
    }
    console.log(`fuzz seed ${SEED}: ${CASES} trees, ${accepted.length} accepted, ${rejected} rejected, ${Math.round(performance.now() - started)} ms`);
    if (ONLY === undefined) expect(accepted.length).toBeGreaterThan(APPLY_SAMPLE);
    if (ONLY === undefined) expect(rejected).toBeGreaterThan(CASES / 4);
  });

  it(`applies ${APPLY_SAMPLE} accepted trees on the real engine with no engine error, every replica running`, async () => {
    // Mutated trees first: hostile values that validation let through are what the engine must take.
    const small = accepted.filter((a) => containerCount(a.desired) >= 1 && containerCount(a.desired) <= 6);
    const sample = [...small.filter((a) => a.tree.mutations.length > 0), ...small.filter((a) => a.tree.mutations.length === 0)].slice(0, APPLY_SAMPLE);
    expect(sample.length, `fuzz seed ${SEED}: too few small accepted trees`).toBeGreaterThan(ONLY === undefined ? APPLY_SAMPLE / 2 : 0);
    for (const { index, tree, desired } of sample) {
      const where = `fuzz seed ${SEED} case ${index} (${tree.mutations.join('; ') || 'no mutation'})`;
      // Nothing can be pulled: every image is the local test image (what was validated is the reference's syntax).
      const local: DesiredState = { ...desired, services: desired.services.map((s) => ({ ...s, image: { type: 'ref', ref: TEST_IMAGE } })) };
      const plan = diff(local, await runtime.observe(instance, [TEST_IMAGE]), { instance });
      const result = await applyPlan(plan, { runtime, instance, log: silentLogger, buildContext: async () => [] });
      expect(result.errors.map((e) => `${e.code} ${e.message}`), where).toEqual([]);
      const want = containerCount(desired);
      const running = await waitFor(async () => {
        const all = await containersOf(docker, instance);
        return all.length === want && all.every((c) => c.State === 'running') ? all : undefined;
      }, { timeoutMs: 10_000, what: `${where}: ${want} running replicas` }).catch(async (err: Error) => {
        const all = await containersOf(docker, instance);
        throw new Error(`${err.message}; found ${all.map((c) => `${c.Names[0]} ${c.State} ${c.Status}`).join(', ')}`);
      });
      expect(running, where).toHaveLength(want);
      await cleanupInstance(docker, instance);
    }
    const mutated = sample.filter((a) => a.tree.mutations.length > 0).length;
    console.log(`fuzz seed ${SEED}: applied ${sample.length} trees (${mutated} mutated), ${sample.reduce((n, a) => n + containerCount(a.desired), 0)} containers`);
  });
});

function containerCount(d: DesiredState): number {
  return d.services.reduce((sum, s) => sum + s.spec.replicas, 0);
}
