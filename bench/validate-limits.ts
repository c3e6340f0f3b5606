/**
 * Benchmark of the bounded loader: memory and time of loadDesired on (a) the largest revision the default
 * limits accept — 16 files of realistic Services, just under 1 MiB each and 16 MiB together — and (b) hostile ones: a
 * 20 MB file of `a: [` repeated (which used to take 4.4 GB and abort), the same with the size limits raised (stopped by
 * the nesting limit), 40k unknown fields in one Service, a 3,000-service dependsOn chain. Each scenario runs in its own
 * process, so its peak RSS (the validation worker thread included) is its own; a 10 ms timer measures the longest the
 * event loop was blocked. Run: npx tsx bench/validate-limits.ts
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { loadDesired } from '../operator/manifests/index.ts';
import type { LoadOptions } from '../operator/manifests/index.ts';
import { ValidationError } from '../operator/model/errors.ts';
import { fsSnapshot } from '../operator/source/fs-snapshot.ts';
import { ROOT } from './lib.ts';

const MiB = 1024 * 1024;

interface Scenario {
  name: string;
  files: () => Record<string, string>;
  opts?: Partial<LoadOptions>;
}

interface Measured {
  outcome: string;
  ms: number;
  maxGapMs: number;
  maxRssMb: number;
}

/** A realistic Service; chains of 10 within namespaces of 100 services. */
function service(n: number): string {
  const dep = n % 10 === 0 ? '' : `\n  dependsOn: [svc-${n - 1}]`;
  return `apiVersion: berth/v1
kind: Service
metadata:
  name: svc-${n}
  namespace: ns-${Math.floor(n / 100)}
  labels: { team: team-${n % 7}, tier: backend }
spec:
  image: shop/svc-${n}:1.${n}
  command: [httpd, -f, -p, "8080"]
  env: { LOG_LEVEL: info, INDEX: "${n}", FEATURE_X: "true" }
  replicas: ${(n % 5) + 1}
  ports:
    - { name: http, port: 8080 }
    - { name: metrics, port: 9090 }
  resources: { cpu: 250m, memory: 64Mi }
  restart: { policy: always }
  update: { order: start-first, parallelism: 2 }${dep}
`;
}

/** 16 files, each as many Services as fit in 1 MiB, the whole under 16 MiB. */
function largestAccepted(): Record<string, string> {
  const files: Record<string, string> = {};
  let n = 0;
  for (let f = 0; f < 16; f++) {
    const docs: string[] = [];
    let size = 0;
    for (;;) {
      const doc = `${service(n)}---\n`;
      if (size + doc.length > MiB - 64) break;
      docs.push(doc);
      size += doc.length;
      n++;
    }
    files[`services/f${String(f).padStart(2, '0')}.yaml`] = docs.join('');
  }
  return files;
}

const SCENARIOS: Scenario[] = [
  { name: 'floor: one Service', files: () => ({ 'a.yaml': service(0) }) },
  { name: 'largest accepted: 16 x 1 MiB of Services', files: largestAccepted },
  { name: '20 MB of `a: [` (default limits)', files: () => ({ 'big.yaml': 'a: ['.repeat(5 * MiB) }) },
  { name: '20 MB of `a: [`, size limits raised to 64Mi', files: () => ({ 'big.yaml': 'a: ['.repeat(5 * MiB) }), opts: { maxFileSize: 64 * MiB, maxRevisionSize: 64 * MiB } },
  {
    name: '40k unknown fields in one Service',
    files: () => ({ 'a.yaml': `apiVersion: berth/v1\nkind: Service\nmetadata: { name: a }\nspec:\n  image: x\n${Array.from({ length: 40_000 }, (_, i) => `  f${i}: ${i}\n`).join('')}` }),
  },
  {
    name: '3,000-service dependsOn chain',
    files: () => ({ 'a.yaml': Array.from({ length: 3000 }, (_, i) => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: s${i} }\nspec: { image: x, replicas: 0, dependsOn: [${i + 1 < 3000 ? `s${i + 1}` : ''}] }\n`).join('---\n') }),
  },
];

/** In the child: loads `dir` once, timing it and the longest gap of a 10 ms timer. */
async function measure(dir: string, opts: Partial<LoadOptions>): Promise<Omit<Measured, 'maxRssMb'>> {
  let last = performance.now();
  let maxGapMs = 0;
  const tick = (): void => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  };
  const timer = setInterval(tick, 10);
  const start = performance.now();
  let outcome: string;
  try {
    const desired = await loadDesired(fsSnapshot(dir), { instance: 'bench', path: '', ...opts });
    outcome = `accepted: ${desired.services.length} services`;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const first = err.issues[0];
    outcome = `${first?.code} ${first?.file}:${first?.line}:${first?.col}, ${err.issues.length} shown of ${err.total}`;
  }
  const ms = performance.now() - start;
  tick();
  clearInterval(timer);
  return { outcome, ms, maxGapMs };
}

async function child(index: number, dir: string): Promise<void> {
  const scenario = SCENARIOS[index] as Scenario;
  const result = await measure(dir, scenario.opts ?? {});
  process.stdout.write(`${JSON.stringify({ ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
}

async function parent(): Promise<void> {
  const run = promisify(execFile);
  const rows: (Measured & { name: string; mb: number })[] = [];
  for (const [i, scenario] of SCENARIOS.entries()) {
    const dir = await mkdtemp(join(tmpdir(), 'berth-bench-limits-'));
    try {
      const files = scenario.files();
      let bytes = 0;
      for (const [path, content] of Object.entries(files)) {
        await mkdir(join(dir, path, '..'), { recursive: true });
        await writeFile(join(dir, path), content);
        bytes += Buffer.byteLength(content);
      }
      const { stdout } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/validate-limits.ts'), '--child', String(i), dir], { cwd: ROOT, maxBuffer: 1024 * 1024 });
      rows.push({ name: scenario.name, mb: bytes / MiB, ...(JSON.parse(stdout) as Measured) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log('| scenario | input | outcome | loadDesired | peak RSS (process) | longest event-loop block |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.mb.toFixed(1)} MiB | ${r.outcome} | ${(r.ms / 1000).toFixed(2)} s | ${r.maxRssMb.toFixed(0)} MB | ${r.maxGapMs.toFixed(0)} ms |`);
  }
}

if (process.argv[2] === '--child') await child(Number(process.argv[3]), String(process.argv[4]));
else await parent();
