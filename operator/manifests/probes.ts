/** Health probes and health-gated updates: defaults (schema-valid data -> model) and the one-kind-per-probe rule. */
import type { ManifestIssue } from '../model/errors.ts';
import type { HealthSpec, ProbeKind, ProbeSpec, UpdateSpec } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { parseDuration } from './quantity.ts';
import { convertAt, isObj, rawAt } from './raw.ts';
import type { Obj } from './raw.ts';
import { formatPath } from './path.ts';

/** Probe kinds in the order they are checked and reported. */
export const PROBE_KINDS: readonly ProbeKind[] = ['startup', 'readiness', 'liveness'];

/** The ways a probe can check a replica; a probe sets exactly one. */
export const PROBE_TYPES = ['http', 'tcp', 'exec', 'script'] as const;

/** Kubernetes' defaults for probe timing (milliseconds) and thresholds. */
export const PROBE_DEFAULTS = { intervalMs: 10_000, timeoutMs: 1000, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1 } as const;

/** Defaults of spec.update. */
export const UPDATE_DEFAULTS: Readonly<UpdateSpec> = { order: 'start-first', parallelism: 1, monitorMs: 5000, failureAction: 'rollback', maxFailureRatio: 0 };

/** Builds spec.update with defaults from its schema-valid raw value (absent = all defaults). */
export function toUpdate(raw: unknown): UpdateSpec {
  const u = isObj(raw) ? raw : {};
  return {
    order: (u.order as UpdateSpec['order'] | undefined) ?? UPDATE_DEFAULTS.order,
    parallelism: (u.parallelism as number | undefined) ?? UPDATE_DEFAULTS.parallelism,
    monitorMs: durationAt(u.monitor, ['spec', 'update', 'monitor'], UPDATE_DEFAULTS.monitorMs),
    failureAction: (u.failureAction as UpdateSpec['failureAction'] | undefined) ?? UPDATE_DEFAULTS.failureAction,
    maxFailureRatio: (u.maxFailureRatio as number | undefined) ?? UPDATE_DEFAULTS.maxFailureRatio,
  };
}

/** Builds spec.health with defaults from its schema-valid raw value; absent probes stay absent (`{}` = no probes). */
export function toHealth(raw: unknown): HealthSpec {
  const h = isObj(raw) ? raw : {};
  const health: HealthSpec = {};
  for (const kind of PROBE_KINDS) {
    const probe = h[kind];
    if (isObj(probe)) health[kind] = toProbe(probe, ['spec', 'health', kind]);
  }
  return health;
}

function toProbe(p: Obj, path: PathSegment[]): ProbeSpec {
  const kinds: Pick<ProbeSpec, (typeof PROBE_TYPES)[number]> = {};
  if (isObj(p.http)) kinds.http = toHttp(p.http);
  if (isObj(p.tcp)) kinds.tcp = { port: p.tcp.port as number };
  if (isObj(p.exec)) kinds.exec = { command: [...(p.exec.command as string[])] };
  if (isObj(p.script)) kinds.script = { file: p.script.file as string, args: [...((p.script.args as string[] | undefined) ?? [])] };
  return {
    ...kinds,
    intervalMs: durationAt(p.interval, [...path, 'interval'], PROBE_DEFAULTS.intervalMs),
    timeoutMs: durationAt(p.timeout, [...path, 'timeout'], PROBE_DEFAULTS.timeoutMs),
    initialDelayMs: durationAt(p.initialDelay, [...path, 'initialDelay'], PROBE_DEFAULTS.initialDelayMs),
    failureThreshold: (p.failureThreshold as number | undefined) ?? PROBE_DEFAULTS.failureThreshold,
    successThreshold: (p.successThreshold as number | undefined) ?? PROBE_DEFAULTS.successThreshold,
  };
}

function toHttp(h: Obj): NonNullable<ProbeSpec['http']> {
  const http: NonNullable<ProbeSpec['http']> = {
    path: h.path as string,
    port: h.port as number,
    scheme: (h.scheme as 'http' | 'https' | undefined) ?? 'http',
    headers: { ...((h.headers as Record<string, string> | undefined) ?? {}) },
  };
  if (Array.isArray(h.expectStatus)) http.expectStatus = [...(h.expectStatus as number[])];
  return http;
}

function durationAt(raw: unknown, path: PathSegment[], fallback: number): number {
  if (raw === undefined) return fallback;
  return convertAt(path, () => parseDuration(raw as string | number));
}

/**
 * Each probe under spec.health sets exactly one of http / tcp / exec / script. Runs on the raw document of any Service,
 * schema-valid or not (like the image/build rule), and reports one issue per offending probe, at the probe's key.
 */
export function probeKindIssues(doc: RawDoc): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  for (const kind of PROBE_KINDS) {
    const path: PathSegment[] = ['spec', 'health', kind];
    const probe = rawAt(doc.value, path);
    if (!isObj(probe)) continue;
    const found = PROBE_TYPES.filter((t) => probe[t] !== undefined);
    if (found.length === 1) continue;
    const what = found.length === 0 ? 'found none' : `found ${found.length}: ${found.join(', ')}`;
    issues.push({ ...doc.loc.at(path, 'key'), code: 'E_SEMANTIC', field: formatPath(path), message: `a probe needs exactly one of ${PROBE_TYPES.join(', ')}; ${what}` });
  }
  return issues;
}
