/**
 * Bundles the operator into dist/ with esbuild: the CLI (dist/cli.js) and the validation worker
 * (dist/validate-worker.js), code split so a command loads only what it imports (the commands are imported lazily),
 * the packages left in node_modules. Run by provision.sh before npm start and npm test; skipped when dist/ is newer
 * than every source (bin/bundle.js, the check bin/berth.js makes before it runs dist/ instead of the sources).
 * Why: loading the sources through tsx costs ~0.2 s and ~40 MB per process (the operator, its proxy process and each
 * validation worker thread); bench/core-loop.ts measures start-up and memory through bin/berth.js.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_STAMP, ROOT, bundleIsFresh, sourcesMtime } from '../bin/bundle.js';

if (!process.argv.includes('--force') && bundleIsFresh()) process.exit(0);

const OUT = path.join(ROOT, 'dist');
const started = performance.now();
const since = sourcesMtime();
const tmp = `${OUT}.tmp-${process.pid}`;
await build({
  entryPoints: { cli: path.join(ROOT, 'operator/cli.ts'), 'validate-worker': path.join(ROOT, 'operator/manifests/validate-worker.ts') },
  bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external',
  outdir: tmp, entryNames: '[name]', chunkNames: 'chunk-[hash]', sourcemap: 'linked', legalComments: 'none', logLevel: 'warning',
});
// Swapped in whole (a berth starting meanwhile sees the old bundle or the new one, never half of one).
fs.rmSync(OUT, { recursive: true, force: true });
fs.renameSync(tmp, OUT);
// Stamped with the sources' time as read before the build, so an edit made during the build leaves it stale.
fs.writeFileSync(BUNDLE_STAMP, String(since));
console.error(`berth: operator bundled into dist/ (${fs.readdirSync(OUT).filter((f) => f.endsWith('.js')).length} files, ${Math.round(performance.now() - started)} ms)`);
