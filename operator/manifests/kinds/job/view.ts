/**
 * A Job's spec seen as a Service's, so the Service's container checks, defaults and spec hash serve both kinds (one
 * source of truth for the shared fields); and a CronJob's document seen as the Job of its jobTemplate.
 */
import type { JobSpec, ManifestBase, ServiceManifest, ServiceSpec } from '../../../model/manifest.ts';
import type { ManifestIssue, SourceLocation } from '../../../model/errors.ts';
import type { Entry } from '../../semantic.ts';
import { UPDATE_DEFAULTS } from '../../probes.ts';
import { FieldError, isObj, rawAt } from '../../raw.ts';
import type { PathSegment, RawDoc } from '../../yaml-source.ts';
import type { Report } from '../types.ts';

/**
 * The Service-only fields of a Job seen as a Service: replicas = parallelism (containers at a time), no ports, restart
 * never (a retry is a new container), no probes, no dependencies, stop-first (nothing is rolled).
 */
export function asServiceSpec(spec: JobSpec): ServiceSpec {
  const { completions: _c, parallelism, backoffLimit: _b, activeDeadlineMs: _a, ttlAfterFinishedMs: _t, ...container } = spec;
  return { ...container, replicas: parallelism, ports: [], restart: { policy: 'never' }, update: { ...UPDATE_DEFAULTS, order: 'stop-first' }, health: {}, dependsOn: [] };
}

/** A Job (or a CronJob's template) with its metadata, seen as a Service manifest for the Service's checks. */
export function asServiceManifest(m: ManifestBase, spec: JobSpec): ServiceManifest {
  return { apiVersion: m.apiVersion, metadata: m.metadata, source: m.source, kind: 'Service', spec: asServiceSpec(spec) };
}

/** Where a CronJob's Job fields are. */
export const TEMPLATE_SPEC: readonly PathSegment[] = ['spec', 'jobTemplate', 'spec'];

/** `spec...` of a Job -> the same field under a CronJob's spec.jobTemplate.spec. */
export function templatePath(path: readonly PathSegment[]): PathSegment[] {
  return path[0] === 'spec' ? [...TEMPLATE_SPEC, ...path.slice(1)] : [...path];
}

/**
 * A CronJob's document seen as a Job's: `spec` is its spec.jobTemplate.spec, and positions are looked up there, so
 * what reads a Job's document (checks, defaults) reads the template at the right lines.
 */
export function templateDoc(doc: RawDoc, opts: { marked?: boolean } = {}): RawDoc {
  const value = isObj(doc.value) ? { ...doc.value, spec: rawAt(doc.value, TEMPLATE_SPEC) } : doc.value;
  const at = (path: readonly PathSegment[], target?: 'key' | 'value'): SourceLocation => {
    const loc = doc.loc.at(templatePath(path), target);
    return opts.marked ? { ...loc, file: `${TEMPLATE_MARK}${loc.file}` } : loc;
  };
  return { file: doc.file, value, loc: { start: doc.loc.start, at, plainText: (path) => doc.loc.plainText(templatePath(path)) } };
}

/**
 * Starts the file of an issue located on a marked templateDoc: the repository checks (builds, files, secret items)
 * format a field from a Job's path themselves, and viewIssues renames it from the CronJob's spec. Never a path in git.
 */
const TEMPLATE_MARK = '\0jobTemplate\0';

/**
 * The Jobs and CronJob templates of `entries` as Service entries, for the repository checks that read a Service's
 * build, files and secret items (build-context.ts, service/files.ts, secret/files.ts): their builds and files are then
 * keyed by the Job's (or CronJob's) resource key, as DesiredContext has them. Fix their issues with viewIssues.
 */
export function containerEntries(entries: readonly Entry[]): Entry[] {
  return entries.flatMap((e): Entry[] => {
    const m = e.manifest;
    if (m?.kind === 'Job') return [{ kind: 'Service', namespace: e.namespace, name: e.name, doc: e.doc, manifest: asServiceManifest(m, m.spec) }];
    if (m?.kind === 'CronJob') return [{ kind: 'Service', namespace: e.namespace, name: e.name, doc: templateDoc(e.doc, { marked: true }), manifest: asServiceManifest(m, m.spec.jobTemplate.spec) }];
    return [];
  });
}

/** Issues of the repository checks over containerEntries: those of a CronJob template at its own file and field. */
export function viewIssues(issues: readonly ManifestIssue[]): ManifestIssue[] {
  return issues.map((i) => (i.file.startsWith(TEMPLATE_MARK) ? templateIssues([{ ...i, file: i.file.slice(TEMPLATE_MARK.length) }])[0]! : i));
}

/** A report for checks run on templateDoc(doc): each issue at the CronJob's own document and field. */
export function templateReport(doc: RawDoc, report: Report): Report {
  return (_doc, path, message, target) => report(doc, templatePath(path), message, target);
}

/** Issues found on templateDoc(doc) (located there already): their field named from the CronJob's spec. */
export function templateIssues(issues: readonly ManifestIssue[]): ManifestIssue[] {
  return issues.map((i) => (i.field === 'spec' || i.field.startsWith('spec.') || i.field.startsWith('spec[') ? { ...i, field: `spec.jobTemplate.${i.field}` } : i));
}

/** Runs a conversion of the template's fields; a FieldError is moved to the CronJob's field. */
export function atTemplate<T>(convert: () => T): T {
  try {
    return convert();
  } catch (err) {
    if (err instanceof FieldError) throw new FieldError(templatePath(err.path), err.message);
    throw err;
  }
}
