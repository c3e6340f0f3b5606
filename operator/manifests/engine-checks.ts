/**
 * What the Docker engine, the kernel under it or the operator's probes would refuse in a typed Service, checked before
 * anything runs (found by trying each on dockerd 20.10): the image reference, environment and arguments too long for
 * a process, a create request too large for the engine, HTTP header values Node.js cannot send. A NUL anywhere is
 * reported by string-checks.ts (strings holding one are skipped here); mount paths by mount-checks.ts.
 */
import type { ProbeSpec, ServiceManifest } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { imageRefProblem } from './image-ref.ts';
import { PROBE_KINDS } from './probes.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type EngineReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/**
 * Linux MAX_ARG_STRLEN: one argument, or one `NAME=value` environment entry, of a process, its terminating NUL
 * included. Above it execve fails with E2BIG: the container starts and exits at once ("argument list too long").
 */
export const ARG_MAX_BYTES = 131_072;

/**
 * dockerd refuses a container create request above about 1 MiB (HTTP 431, measured: 1000 KiB of labels pass, 1040 KiB
 * do not). berth adds its own labels and the discovery variables of dependencies to what the manifest gives, so the
 * manifest's env, command and labels (as JSON) stay within 768 KiB.
 */
export const CREATE_BUDGET_BYTES = 768 * 1024;

/** Characters Node.js accepts in an HTTP header value: tab, printable ASCII and Latin-1 (no CR, LF or other controls). */
const HEADER_VALUE_RE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;

/** Checks the image, env, command, probe commands and header values of a typed service, and its create request size. */
export function checkEngineLimits(doc: RawDoc, m: ServiceManifest, report: EngineReport): void {
  const { spec } = m;
  const image = spec.image;
  if (image !== undefined && !image.includes('\0')) {
    const problem = imageRefProblem(image);
    if (problem) report(doc, ['spec', 'image'], `is not an image reference the engine accepts: ${problem}`);
  }
  for (const [name, value] of Object.entries(spec.env)) {
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
    if (bytes > ARG_MAX_BYTES) report(doc, ['spec', 'env', name], `${name}=... is ${bytes} bytes; one environment entry of a process is at most ${ARG_MAX_BYTES} (128 KiB, NUL included)`);
  }
  checkArgs(doc, ['spec', 'command'], spec.command ?? [], report);
  checkArgs(doc, ['spec', 'entrypoint'], spec.container?.entrypoint ?? [], report);
  for (const kind of PROBE_KINDS) {
    const probe = spec.health[kind];
    if (probe) checkProbe(doc, ['spec', 'health', kind], probe, report);
  }
  checkCreateSize(doc, m, report);
}

function checkProbe(doc: RawDoc, path: PathSegment[], probe: ProbeSpec, report: EngineReport): void {
  if (probe.exec) checkArgs(doc, [...path, 'exec', 'command'], probe.exec.command, report);
  if (probe.script) checkArgs(doc, [...path, 'script', 'args'], probe.script.args, report);
  for (const [name, value] of Object.entries(probe.http?.headers ?? {})) {
    if (value.includes('\0') || HEADER_VALUE_RE.test(value)) continue;
    report(doc, [...path, 'http', 'headers', name], 'must not contain CR, LF or other control characters (tab is allowed) or characters beyond Latin-1');
  }
}

function checkArgs(doc: RawDoc, path: PathSegment[], args: readonly string[], report: EngineReport): void {
  args.forEach((arg, i) => {
    const bytes = Buffer.byteLength(arg) + 1;
    if (bytes > ARG_MAX_BYTES) report(doc, [...path, i], `is ${bytes} bytes; one argument of a process is at most ${ARG_MAX_BYTES} (128 KiB, NUL included)`);
  });
}

/** The manifest's part of the create request, reported at the largest of env, command and labels. */
function checkCreateSize(doc: RawDoc, m: ServiceManifest, report: EngineReport): void {
  const parts: { path: PathSegment[]; bytes: number }[] = [
    { path: ['spec', 'env'], bytes: jsonBytes(m.spec.env) },
    { path: ['spec', 'command'], bytes: jsonBytes(m.spec.command ?? []) },
    { path: ['metadata', 'labels'], bytes: jsonBytes(m.metadata.labels) },
  ];
  const total = parts.reduce((sum, p) => sum + p.bytes, 0);
  if (total <= CREATE_BUDGET_BYTES) return;
  const largest = parts.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const kib = (n: number): string => `${Math.ceil(n / 1024)} KiB`;
  const message = `env, command and labels take ${kib(total)} of the container create request (this field ${kib(largest.bytes)}); the engine refuses requests above about 1 MiB, so berth allows at most ${kib(CREATE_BUDGET_BYTES)}`;
  report(doc, largest.path, message, 'key');
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}
