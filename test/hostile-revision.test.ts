/**
 * `berth validate` as a user runs it, on revisions built to exhaust the loader: a 20 MB file of `a: [` repeated used to
 * take 4.4 GB and abort the process out of memory. Each run reports its own peak RSS (worker thread included).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Prints the process's peak RSS (kB, all threads) on stderr as it exits. */
const REPORT_RSS = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nmax-rss-kb='+process.resourceUsage().maxRSS+'\\n'))`;

interface Run {
  code: number;
  stderr: string;
  maxRssMb: number;
}

function validate(dir: string, flags: string[] = []): Promise<Run> {
  const args = ['--import', 'tsx', '--import', REPORT_RSS, path.join(ROOT, 'operator/cli.ts'), 'validate', dir, ...flags];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      const rss = Number(/max-rss-kb=(\d+)/.exec(stderr)?.[1] ?? NaN);
      resolve({ code, stderr: stderr.replace(/\n?max-rss-kb=\d+\n/, ''), maxRssMb: rss / 1024 });
    });
  });
}

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-hostile-'));
  await fs.writeFile(path.join(dir, 'big.yaml'), 'a: ['.repeat(5 * 1024 * 1024));
  await fs.writeFile(path.join(dir, 'ok.yaml'), 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: ok }\nspec: { image: x }\n');
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('berth validate on a hostile revision', () => {
  it('rejects a 20 MB file of `a: [` at file:1:1 before parsing it, in bounded memory', async () => {
    const r = await validate(dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('big.yaml:1:1: file is 20Mi, more than --max-file-size 1Mi');
    // node + tsx alone is ~120 MB here; the file is never read.
    expect(r.maxRssMb).toBeLessThan(200);
  });

  it('with the size limits raised, stops the same file at the nesting limit, still in bounded memory', async () => {
    const r = await validate(dir, ['--max-file-size', '64Mi', '--max-revision-size', '64Mi']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('big.yaml:1:256: nesting deeper than 64 levels');
    // The file read (20 MB), handed to the worker thread, decoded there, and the worker's own heap.
    expect(r.maxRssMb).toBeLessThan(350);
  });

  it('refuses a size flag that is not a quantity', async () => {
    const r = await validate(dir, ['--max-file-size', 'big']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('berth: --max-file-size: "big" must be a positive size such as 1Mi, 512Ki or 1048576');
  });
});
