/**
 * Benchmark (#15): loading a repository of 50 compose stacks (300 services, 300 volumes) per revision, through the
 * whole loader (parse, interpolation, compose-spec schema, conversion, berth checks, desired state); and what a Secret
 * costs a pass once decrypted (SecretStore.resolve of a remembered content hash: the cached plaintext).
 * Run: npx tsx bench/compose.ts
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDesired } from '../operator/manifests/index.ts';
import { memorySnapshot } from '../operator/source/memory-source.ts';
import { SecretStore } from '../operator/apply/secret-resolver.ts';
import { composeRepo } from '../test/helpers/compose-stacks.ts';
import { median } from './lib.ts';

const RUNS = 15;

async function timeLoad(): Promise<{ cold: number; times: number[]; services: number }> {
  const files = Object.fromEntries(composeRepo().map((f) => [f.path, f.content]));
  let services = 0;
  const once = async (rev: string): Promise<number> => {
    const t = performance.now();
    const d = await loadDesired(memorySnapshot(files, rev), { instance: 'bench', path: '.' });
    services = d.services.length;
    return performance.now() - t;
  };
  const cold = await once('r0'); // includes compiling the schemas once per process
  const times: number[] = [];
  for (let i = 1; i <= RUNS; i++) times.push(await once(`r${i}`)); // a new revision each time: no cache across revisions
  return { cold, times, services };
}

async function timeSecrets(): Promise<{ first: number; cached: number[] }> {
  const fix = new URL('../test/fixtures/secrets/', import.meta.url);
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-age-'));
  try {
    const keyFile = join(dir, 'keys.txt');
    await writeFile(keyFile, readFileSync(new URL('sops-age-humphd/key.txt', fix)), { mode: 0o600 });
    const files = {
      'secret.yaml': 'apiVersion: berth/v1\nkind: Secret\nmetadata: { name: db }\nspec: { file: db.enc.yaml }\n',
      'db.enc.yaml': readFileSync(new URL('sops-age-humphd/secret.enc.yaml', fix), 'utf8'),
    };
    const desired = await loadDesired(memorySnapshot(files, 'r'), { instance: 'bench', path: '.' });
    const s = desired.secrets![0]!;
    const store = new SecretStore({ keyFile, redact: () => undefined });
    store.remember(desired);
    let t = performance.now();
    await store.resolve(s.namespace, s.name, s.contentHash);
    const first = performance.now() - t;
    const cached: number[] = [];
    for (let i = 0; i < 1000; i++) {
      t = performance.now();
      await store.resolve(s.namespace, s.name, s.contentHash);
      cached.push(performance.now() - t);
    }
    return { first, cached };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const load = await timeLoad();
console.log(`compose load, 50 stacks (${load.services} services) per revision: first ${load.cold.toFixed(0)} ms (schema compile included); then min ${Math.min(...load.times).toFixed(0)} / median ${median(load.times).toFixed(0)} / max ${Math.max(...load.times).toFixed(0)} ms over ${RUNS} revisions (goal < 300 ms)`);
const sec = await timeSecrets();
console.log(`Secret (SOPS, 6 items): first decrypt ${sec.first.toFixed(1)} ms; once decrypted, resolve median ${(median(sec.cached) * 1000).toFixed(1)} us, max ${(Math.max(...sec.cached) * 1000).toFixed(1)} us over 1000 (cached by content hash)`);
