/**
 * Builds the dashboard (ui/src: Preact and TypeScript) into ui/dist with esbuild: one minified, content-hashed
 * bundle of script and one of style, and an index.html naming them; nothing fetched at run time. Skipped when
 * ui/dist is newer than every source file and the lock file (a new front-end package version) (provision.sh runs it before npm start and npm test). Prints the sizes.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'ui/src');
const OUT = path.join(ROOT, 'ui/dist');

function newest(dir: string): number {
  return Math.max(0, ...fs.readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).mtimeMs)));
}

const index = path.join(OUT, 'index.html');
const force = process.argv.includes('--force');
if (!force && fs.existsSync(index) && fs.statSync(index).mtimeMs >= Math.max(newest(SRC), fs.statSync(import.meta.filename).mtimeMs, fs.statSync(path.join(ROOT, 'package-lock.json')).mtimeMs)) process.exit(0);

fs.rmSync(OUT, { recursive: true, force: true });
const result = await build({
  entryPoints: [path.join(SRC, 'main.tsx')], bundle: true, minify: true, format: 'esm', target: 'es2022', outdir: OUT,
  entryNames: 'app-[hash]', jsx: 'automatic', jsxImportSource: 'preact', metafile: true, legalComments: 'none', logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const js = outputs.find((f) => f.endsWith('.js'))!;
const css = outputs.find((f) => f.endsWith('.css'));
fs.writeFileSync(index, `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>berth</title>
${css ? `<link rel="stylesheet" href="/ui/${css}">\n` : ''}<script type="module" src="/ui/${js}"></script>
</head>
<body><div id="app"></div></body>
</html>
`);
let gz = 0;
for (const f of fs.readdirSync(OUT)) gz += zlib.gzipSync(fs.readFileSync(path.join(OUT, f)), { level: 9 }).length;
console.error(`berth: dashboard built into ui/dist (${outputs.join(', ')}; ${(gz / 1024).toFixed(1)} kB gzipped)`);
