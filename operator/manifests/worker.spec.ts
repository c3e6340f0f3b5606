import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BerthError, ValidationError, formatIssue } from '../model/errors.ts';
import { fsSnapshot } from '../source/fs-snapshot.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { loadDesired, loadFiles } from './load.ts';
import type { LoadOptions } from './load.ts';

/** ~1 MB of realistic Services in 2 files, valid. */
function largeRevision(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let f = 0; f < 2; f++) {
    files[`svc/f${f}.yaml`] = Array.from({ length: 1000 }, (_, j) => {
      const n = f * 1000 + j;
      return [
        'apiVersion: berth/v1', 'kind: Service', `metadata: { name: svc-${n}, namespace: ns-${Math.floor(n / 100)}, labels: { team: t${n % 7} } }`, 'spec:',
        `  image: shop/svc-${n}:1.${n}`, '  command: [httpd, -f, -p, "8080"]', `  env: { LOG_LEVEL: info, INDEX: "${n}" }`, `  replicas: ${(n % 3) + 1}`,
        '  ports: [{ name: http, port: 8080 }, { name: metrics, port: 9090 }]', '  resources: { cpu: 250m, memory: 64Mi }',
        `  update: { order: start-first, parallelism: 2 }${n % 20 === 0 ? '' : `\n  dependsOn: [svc-${n - 1}]`}`,
      ].join('\n');
    }).join('\n---\n');
  }
  return files;
}

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return JSON.parse(JSON.stringify(await run()));
  } catch (err) {
    if (err instanceof ValidationError) return { issues: err.issues.map((i) => `${i.code} ${formatIssue(i)}`), total: err.total };
    if (err instanceof BerthError) return { error: err.code, terminal: err.terminal };
    throw err;
  }
}

describe('validation in a worker thread', () => {
  it('keeps the event loop responsive while a large legal revision validates, with the same result as in-process', async () => {
    const files = largeRevision();
    const snapshot = memorySnapshot(files, 'r1');
    const opts: LoadOptions = { instance: 'i', path: '' };
    await loadDesired(memorySnapshot({ 'a.yaml': files['svc/f0.yaml']!.split('\n---\n')[0]! }, 'r0'), { ...opts, isolation: 'worker' });
    let last = performance.now();
    let maxGap = 0;
    const tick = (): void => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    };
    const timer = setInterval(tick, 10);
    const desired = await loadDesired(snapshot, opts).finally(() => {
      tick();
      clearInterval(timer);
    });
    expect(desired.services).toHaveLength(2000);
    // Generous: parsing takes seconds; the main thread only receives the result in batches of 500 services.
    expect(maxGap).toBeLessThan(500);
    const inProcess = await loadFiles(Object.entries(files).map(([path, content]) => ({ path, content })), snapshot, opts);
    expect(desired).toEqual(inProcess);
  });

  it('rejects a revision whose validation outlasts the timeout with E_TOO_LARGE at the file being parsed', async () => {
    const err = await loadDesired(memorySnapshot(largeRevision(), 'r1'), { instance: 'i', path: '', timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const [issue, ...rest] = (err as ValidationError).issues;
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ code: 'E_TOO_LARGE', line: 1, col: 1, message: 'validation took longer than 0.05s' });
    expect(issue?.file).toMatch(/^svc\/f[01]\.yaml$/);
    // The next load starts a fresh worker.
    expect((await loadDesired(memorySnapshot(largeRevision(), 'r2'), { instance: 'i', path: '' })).services).toHaveLength(2000);
  });

  it('gives every golden fixture the same outcome as in-process: issues, codes, build and script checks against the snapshot', async () => {
    const root = new URL('../../test/fixtures/manifests/', import.meta.url);
    const cases = readdirSync(root).filter((name) => existsSync(new URL(`${name}/input`, root))).sort();
    expect(cases.length).toBeGreaterThan(10);
    for (const name of cases) {
      const snapshot = fsSnapshot(new URL(`${name}/input`, root).pathname, 'golden');
      const caseFile = new URL(`${name}/case.json`, root);
      const path = existsSync(caseFile) ? ((JSON.parse(readFileSync(caseFile, 'utf8')) as { path?: string }).path ?? '') : '';
      const run = (isolation: LoadOptions['isolation']) => outcome(() => loadDesired(snapshot, { instance: 'test', path, isolation }));
      expect(await run('worker'), name).toEqual(await run('auto'));
    }
  });
});
