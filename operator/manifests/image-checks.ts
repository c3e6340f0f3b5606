/**
 * spec.image's registry fields of a Service: an imagePolicy that cannot select anything (a semver range that does not
 * parse, a pattern RE2 refuses, an extract naming no group), its interval bounds, and a policy on a reference that
 * cannot move (pinned by digest, or pullPolicy Never: berth never reads that registry).
 */
import type { ServiceManifest } from '../model/manifest.ts';
import { imagePolicyProblem } from '../images/image-policy.ts';
import { formatDuration } from './quantity.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';

export type ImageReport = (doc: RawDoc, path: PathSegment[], message: string) => void;

const POLICY: PathSegment[] = ['spec', 'imagePolicy'];
export const MIN_POLICY_INTERVAL_MS = 10_000;
export const MAX_POLICY_INTERVAL_MS = 24 * 3600_000;

export function checkImageFields(doc: RawDoc, m: ServiceManifest, report: ImageReport): void {
  const p = m.spec.imagePolicy;
  if (!p) return;
  const { intervalMs, ...policy } = p;
  if (policy.semver === undefined && policy.pattern === undefined) report(doc, POLICY, 'needs semver or pattern');
  else {
    const problem = imagePolicyProblem(policy);
    if (problem) report(doc, problem.field ? [...POLICY, problem.field] : POLICY, problem.message);
  }
  if (intervalMs < MIN_POLICY_INTERVAL_MS) report(doc, [...POLICY, 'interval'], `must be at least 10s, got ${formatDuration(intervalMs)}`);
  if (intervalMs > MAX_POLICY_INTERVAL_MS) report(doc, [...POLICY, 'interval'], `must be at most 24h, got ${formatDuration(intervalMs)}`);
  if (m.spec.image === undefined) report(doc, POLICY, 'needs spec.image (a built image has no registry tags)');
  else if (m.spec.image.includes('@')) report(doc, POLICY, `spec.image ${m.spec.image.slice(0, 80)} is pinned by digest: there is no tag to move`);
  if (m.spec.pullPolicy === 'Never') report(doc, POLICY, 'pullPolicy Never: berth never reads this registry');
}
