/**
 * kind Job (and a CronJob's jobTemplate): checks a JSON Schema cannot express. The container fields are checked by the
 * Service's own checks on the Job seen as a Service (view.ts), so volumes, secrets, networks, placement, mounts and the
 * container settings are refused with the same words at the same fields.
 */
import type { CronJobManifest, JobManifest, JobSpec, ManifestBase } from '../../../model/manifest.ts';
import { resourceKey } from '../../../model/keys.ts';
import { formatDuration } from '../../quantity.ts';
import type { PathSegment, RawDoc } from '../../yaml-source.ts';
import { checkContainerFields } from '../service/checks.ts';
import { checkNetworkRefs } from '../service/network-checks.ts';
import { checkPlacement } from '../../placement-checks.ts';
import type { CheckContext, Report, Typed } from '../types.ts';
import { asServiceManifest } from './view.ts';

/** Longest spec.activeDeadline: 7 days (it reaches a timer, at most about 24.8 days). */
export const ACTIVE_DEADLINE_MAX_MS = 7 * 24 * 3_600_000;
/** Longest spec.ttlAfterFinished: 30 days (compared with the finish time, not a timer). */
export const TTL_AFTER_FINISHED_MAX_MS = 30 * 24 * 3_600_000;

/**
 * One Job's fields (`doc` is the Job's document, or a CronJob's seen as its template's): the Service's container
 * checks, then parallelism against completions and the durations' bounds.
 */
export function checkJobSpec(doc: RawDoc, m: ManifestBase, spec: JobSpec, ctx: CheckContext, report: Report): void {
  const view = asServiceManifest(m, spec);
  checkContainerFields(doc, view, ctx.declared, report);
  checkNetworkRefs(doc, view, ctx, report);
  if (ctx.placementNodes) checkPlacement(doc, view, ctx.placementNodes, report);
  if (spec.parallelism > spec.completions) {
    report(doc, ['spec', 'parallelism'], `parallelism ${spec.parallelism} is more than completions ${spec.completions}: at most completions containers of a Job run at a time`);
  }
  checkDuration(doc, ['spec', 'activeDeadline'], spec.activeDeadlineMs, { min: 'positive', maxMs: ACTIVE_DEADLINE_MAX_MS }, report);
  checkDuration(doc, ['spec', 'ttlAfterFinished'], spec.ttlAfterFinishedMs, { min: 'zero', maxMs: TTL_AFTER_FINISHED_MAX_MS }, report);
}

/** A duration field: more than 0 (`positive`) or not negative (`zero`), and at most its maximum. */
export function checkDuration(doc: RawDoc, path: PathSegment[], ms: number | undefined, bounds: { min: 'positive' | 'zero'; maxMs: number }, report: Report): void {
  if (ms === undefined) return;
  if (bounds.min === 'positive' && ms <= 0) report(doc, path, `must be more than 0, got ${formatDuration(ms)}`);
  else if (bounds.min === 'zero' && ms < 0) report(doc, path, `must not be negative, got ${formatDuration(ms)}`);
  else if (ms > bounds.maxMs) report(doc, path, `must be at most ${formatDuration(bounds.maxMs)}, got ${formatDuration(ms)}`);
}

/**
 * A Job or CronJob named like a Service of its namespace (or a CronJob like a Job): berth names and labels the
 * containers of each after the resource's name, so the two would be mistaken for each other. Reported at the later
 * kind's metadata.name, naming where the other is.
 */
export function checkNameClashes(typed: readonly Typed<JobManifest | CronJobManifest>[], ctx: CheckContext, report: Report): void {
  const jobs = new Map<string, RawDoc>();
  for (const t of ctx.typed) {
    if (t.manifest.kind !== 'Job') continue;
    const key = resourceKey(t.manifest.metadata.namespace, t.manifest.metadata.name);
    if (!jobs.has(key)) jobs.set(key, t.doc);
  }
  for (const { doc, manifest: m } of typed) {
    const key = resourceKey(m.metadata.namespace, m.metadata.name);
    const service = ctx.services.get(key);
    const other = service ? { kind: 'Service', doc: service.doc } : m.kind === 'CronJob' && jobs.has(key) ? { kind: 'Job', doc: jobs.get(key)! } : undefined;
    if (!other) continue;
    const at = other.doc.loc.at(['metadata', 'name']);
    report(doc, ['metadata', 'name'], `${other.kind} ${key} has the same name (${at.file}:${at.line}): berth names and labels the containers of both after it, so they would be mistaken for each other; rename one`);
  }
}

/** Per Job: its fields. */
export function checkJob(doc: RawDoc, m: JobManifest, ctx: CheckContext, report: Report): void {
  checkJobSpec(doc, m, m.spec, ctx, report);
}
