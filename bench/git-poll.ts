/**
 * Cost of polling a remote with no change: head() = one protocol-v2 ls-refs exchange, no fetch.
 * The git server runs in a child process so process.cpuUsage() measures the operator side only.
 *
 * Run: npx tsx bench/git-poll.ts [iterations]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openGitSource } from '../operator/source/git-source.ts';
import { initBareRepo } from '../scripts/git-http-server.ts';
import { gitEnv, runGit, writeFiles } from '../test/helpers/git.ts';

interface Sample {
  wallMs: number;
  cpuMs: number;
}

const SERVICES = 200;
const ITERATIONS = Number(process.argv[2] ?? 200);

/** Starts scripts/git-http-server.ts in a child process; resolves with its URL. */
async function startServerProcess(root: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/git-http-server.ts', '--root', root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((ok, ko) => {
    const timer = setTimeout(() => ko(new Error('git server did not start within 10 s')), 10_000);
    lines.once('line', (line) => { clearTimeout(timer); ok(line.trim()); });
    child.once('exit', (code) => ko(new Error(`git server exited with ${code}`)));
  });
  return { url, child };
}

async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? NaN;
  return `mean ${mean.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms`;
}

function serviceYaml(i: number, replicas = 1): string {
  return `apiVersion: berth/v1\nkind: Service\nmetadata: { name: svc-${i}, namespace: bench }\nspec:\n  image: bench/app:1\n  replicas: ${replicas}\n  ports: [{ name: http, port: 8080 }]\n`;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-git-'));
  const workDir = join(root, 'work');
  const env = gitEnv(root);
  await initBareRepo(join(root, 'srv'), 'repo.git');
  const { url: base, child } = await startServerProcess(join(root, 'srv'));
  try {
    const url = `${base}/repo.git`;
    const files: Record<string, string> = {};
    for (let i = 0; i < SERVICES; i++) files[`services/svc-${String(i).padStart(3, '0')}.yaml`] = serviceYaml(i);
    await runGit(root, ['init', '--quiet', '--initial-branch=main', workDir], env);
    await writeFiles(workDir, files);
    await runGit(workDir, ['add', '-A'], env);
    await runGit(workDir, ['commit', '--quiet', '-m', 'init'], env);
    await runGit(workDir, ['push', '--quiet', url, 'main'], env);

    let source = await openGitSource({ repo: url, branch: 'main', cacheDir: join(root, 'cache') });
    const open = await measure(async () => { source = await openGitSource({ repo: url, branch: 'main', cacheDir: join(root, 'cache-2') }); });
    const head = await source.head();
    const readAll = async (): Promise<void> => {
      const snap = await source.snapshot(head);
      for (const entry of await snap.list('services')) await snap.read(entry.path);
    };
    const snapshot = await measure(readAll);
    const snapshotAgain = await measure(readAll);
    for (let i = 0; i < 10; i++) await source.head();
    const samples: Sample[] = [];
    for (let i = 0; i < ITERATIONS; i++) samples.push(await measure(() => source.head()));

    await writeFiles(workDir, { 'services/svc-007.yaml': serviceYaml(7, 3) });
    await runGit(workDir, ['commit', '--quiet', '-am', 'scale svc-7'], env);
    await runGit(workDir, ['push', '--quiet', url, 'main'], env);
    let moved = '';
    const changed = await measure(async () => { moved = await source.head(); });
    if (moved === head) throw new Error('head() did not see the new commit');

    console.log(`git poll bench: ${SERVICES} service files, ${ITERATIONS} iterations, server in a child process`);
    console.log(`  open (clone into empty cache):     wall ${open.wallMs.toFixed(1)} ms, cpu ${open.cpuMs.toFixed(1)} ms`);
    console.log(`  snapshot: list + read ${SERVICES} files: wall ${snapshot.wallMs.toFixed(1)} ms, cpu ${snapshot.cpuMs.toFixed(1)} ms`);
    console.log(`  same snapshot again (warm caches): wall ${snapshotAgain.wallMs.toFixed(1)} ms, cpu ${snapshotAgain.cpuMs.toFixed(1)} ms`);
    console.log(`  head() no change, wall:            ${stats(samples.map((s) => s.wallMs))}`);
    console.log(`  head() no change, cpu:             ${stats(samples.map((s) => s.cpuMs))}`);
    console.log(`  head() after a new commit (fetch): wall ${changed.wallMs.toFixed(1)} ms, cpu ${changed.cpuMs.toFixed(1)} ms`);
  } finally {
    child.kill('SIGTERM');
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
