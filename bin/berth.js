#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: V8's young generation at 2 MB semi-spaces instead of 16. berth allocates in small bursts
// (a pass, a probe round), so a smaller nursery costs nothing measurable (CPU per idle poll 12.7 -> 13.3 ms, start ->
// 100 running unchanged) and `berth run` with 100 containers holds ~30 MB less (161 -> 130 MB; bench/core-loop.ts).
// The flag lives here, on the one launcher: the installed `berth` and `npm run berth` both execute this file.
// Installed entry point: the bundle (dist/, built by npm start's and npm test's provisioning: starts in a third of the
// time and takes ~40 MB less memory) when it is newer than every source, else the TypeScript sources through tsx.
import { bundleIsFresh } from './bundle.js';

if (bundleIsFresh()) {
  await import('../dist/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../operator/cli.ts');
}
