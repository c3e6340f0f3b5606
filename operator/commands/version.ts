/** `berth version [-o json|yaml]` (and `berth --version`): the package version, with Node.js's and the platform's in JSON and YAML. */
import { readFileSync } from 'node:fs';
import type { OutputFormat } from '../settings/settings.ts';
import { printValue } from './output.ts';
import type { Io } from './shared.ts';
import { rootFile } from '../root.ts';

/** The package version (package.json beside operator/). */
export const VERSION = (JSON.parse(readFileSync(rootFile('package.json'), 'utf8')) as { version: string }).version;

export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
}

export function versionInfo(): VersionInfo {
  return { version: VERSION, node: process.version, platform: `${process.platform}/${process.arch}` };
}

export function version(output: OutputFormat, io: Io): number {
  const info = versionInfo();
  printValue(io, output, info, () => `berth ${info.version}`);
  return 0;
}
