/**
 * Bundles the operator into dist/ with esbuild: the CLI (dist/cli.js) and the validation worker
 * (dist/validate-worker.js), code split so a command loads only what it imports (the commands are imported lazily).
 * The packages are bundled too, except those in KEEP_EXTERNAL: Node resolving and reading ~1,500 package files cost
 * `berth run` ~150 ms before its first pass (419 -> 264 ms to the command on this machine). Run by provision.sh
 * before npm start and npm test; skipped when dist/ is newer than every source (bin/bundle.js, the check
 * bin/berth.js makes before it runs dist/ instead of the sources).
 * Why: loading the sources through tsx costs ~0.2 s and ~40 MB per process (the operator, its proxy process and each
 * validation worker thread); bench/core-loop.ts measures start-up and memory through bin/berth.js.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_STAMP, ROOT, bundleIsFresh, sourcesMtime } from '../bin/bundle.js';

if (!process.argv.includes('--force') && bundleIsFresh()) process.exit(0);

/**
 * Left in node_modules: native addons, and packages that find files beside their own code (__dirname,
 * import.meta.url), which a bundle moves: dockerode loads its BuildKit .proto files so, node-cron its daemon.
 */
const KEEP_EXTERNAL = ['better-sqlite3', 'dockerode', 'node-cron', 'esbuild', 'tsx'];
/** How a package's code finds its own files; a bundled package that does must go to KEEP_EXTERNAL (checked below). */
const SELF_LOCATING = /\b__dirname\b|\b__filename\b|\brequire\.resolve\b|\bimport\.meta\.url\b/;

const OUT = path.join(ROOT, 'dist');
const started = performance.now();
const since = sourcesMtime();
const tmp = `${OUT}.tmp-${process.pid}`;
const result = await build({
  entryPoints: { cli: path.join(ROOT, 'operator/cli.ts'), 'validate-worker': path.join(ROOT, 'operator/manifests/validate-worker.ts') },
  bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', external: KEEP_EXTERNAL,
  // the CommonJS packages inside an ES module bundle still call require() (node: builtins, optional dependencies)
  banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
  outdir: tmp, entryNames: '[name]', chunkNames: 'chunk-[hash]', sourcemap: 'linked', legalComments: 'none', logLevel: 'warning', metafile: true,
});
const misplaced = Object.keys(result.metafile.inputs).filter((f) => f.includes('node_modules/') && SELF_LOCATING.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
if (misplaced.length) {
  fs.rmSync(tmp, { recursive: true, force: true });
  throw new Error(`build-operator: these package files locate files beside themselves and would break in a bundle; add their package to KEEP_EXTERNAL: ${misplaced.join(', ')}`);
}
// Swapped in whole (a berth starting meanwhile sees the old bundle or the new one, never half of one).
fs.rmSync(OUT, { recursive: true, force: true });
fs.renameSync(tmp, OUT);
// Stamped with the sources' time as read before the build, so an edit made during the build leaves it stale.
fs.writeFileSync(BUNDLE_STAMP, String(since));
console.error(`berth: operator bundled into dist/ (${fs.readdirSync(OUT).filter((f) => f.endsWith('.js')).length} files, ${Math.round(performance.now() - started)} ms)`);
