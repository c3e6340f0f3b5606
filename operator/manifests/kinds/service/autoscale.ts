/**
 * spec.autoscale of a Service: defaults (the Kubernetes HPA's behavior) and the checks a schema cannot express.
 * The controller that acts on it is operator/autoscale/.
 */
import type { AutoscaleMetric, AutoscaleSpec, AutoscaleStep, ServiceManifest } from '../../../model/manifest.ts';
import { parseDuration } from '../../quantity.ts';
import { convertAt, isObj, type Obj } from '../../raw.ts';
import type { RawDoc } from '../../yaml-source.ts';
import type { Report } from '../types.ts';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_TO_ZERO_AFTER_MS, DEFAULT_SCALE_UP } from '../../../autoscale/algorithm.ts';
import { checkMax } from '../../health-checks.ts';

/** The longest window, period, idle time or latency target spec.autoscale takes (the HPA's stabilization maximum). */
export const AUTOSCALE_DURATION_MAX_MS = 3_600_000;


const percentOf = (v: string): number => Number(v.slice(0, -1));

/** Defaults of a schema-valid spec.autoscale. */
export function toAutoscale(a: Obj): AutoscaleSpec {
  const behavior = isObj(a.behavior) ? a.behavior : {};
  const min = (a.min as number | undefined) ?? 1;
  const spec: AutoscaleSpec = {
    min,
    max: a.max as number,
    metrics: (a.metrics as Obj[]).map((m, i) => toMetric(m, i)),
    scaleUp: toStep(behavior.scaleUp, DEFAULT_SCALE_UP, 'scaleUp'),
    scaleDown: toStep(behavior.scaleDown, DEFAULT_SCALE_DOWN, 'scaleDown'),
  };
  if (min === 0) {
    const after = isObj(a.scaleToZero) ? a.scaleToZero.after : undefined;
    spec.scaleToZeroAfterMs = after === undefined ? DEFAULT_SCALE_TO_ZERO_AFTER_MS : convertAt(['spec', 'autoscale', 'scaleToZero', 'after'], () => parseDuration(after as string | number));
  }
  return spec;
}

function toMetric(m: Obj, i: number): AutoscaleMetric {
  if (typeof m.cpu === 'string') return { type: 'cpu', percent: percentOf(m.cpu) };
  if (typeof m.memory === 'string') return { type: 'memory', percent: percentOf(m.memory) };
  if (typeof m.requestsPerSecond === 'number') return { type: 'requestsPerSecond', value: m.requestsPerSecond };
  if (typeof m.concurrency === 'number') return { type: 'concurrency', value: m.concurrency };
  return { type: 'latencyP95', ms: convertAt(['spec', 'autoscale', 'metrics', i, 'latencyP95'], () => parseDuration(m.latencyP95 as string | number)) };
}

function toStep(raw: unknown, defaults: AutoscaleStep, which: 'scaleUp' | 'scaleDown'): AutoscaleStep {
  if (!isObj(raw)) return { ...defaults };
  const at = (k: string) => ['spec', 'autoscale', 'behavior', which, k];
  const step = { ...defaults };
  if (raw.stabilization !== undefined) step.stabilizationMs = convertAt(at('stabilization'), () => parseDuration(raw.stabilization as string | number));
  if (raw.period !== undefined) step.periodMs = convertAt(at('period'), () => parseDuration(raw.period as string | number));
  if (typeof raw.maxStep === 'string') Object.assign(step, { maxStepPercent: percentOf(raw.maxStep), maxStepReplicas: 0 });
  else if (typeof raw.maxStep === 'number') Object.assign(step, { maxStepPercent: 0, maxStepReplicas: raw.maxStep });
  return step;
}

/** What fronts a service's traffic through berth's proxy: its own listeners, or being a Route backend. */
export function hasProxyInFront(m: ServiceManifest, routeBackends: ReadonlySet<string>, key: string): boolean {
  return m.spec.loadBalancer?.publish !== undefined || m.spec.ports.some((p) => p.publish !== undefined) || routeBackends.has(key);
}

/**
 * min <= max; cpu / memory targets need the matching resources request; traffic metrics and min 0 need berth's proxy
 * in front; targets above 0; settings that pin a service to one replica (hostPort, containerName) exclude it.
 */
export function checkAutoscale(doc: RawDoc, m: ServiceManifest, inFront: boolean, report: Report): void {
  const a = m.spec.autoscale;
  if (!a) return;
  const at = (...rest: (string | number)[]) => ['spec', 'autoscale', ...rest];
  if (a.min > a.max) report(doc, at('min'), `min ${a.min} is above max ${a.max}`);
  a.metrics.forEach((metric, i) => {
    const key = metric.type;
    const where = at('metrics', i, key);
    if ((metric.type === 'cpu' || metric.type === 'memory') && metric.percent <= 0) report(doc, where, 'must be more than 0%');
    if (metric.type === 'latencyP95' && metric.ms <= 0) report(doc, where, 'must be more than 0s');
    if (metric.type === 'latencyP95') checkMax(doc, where, metric.ms, AUTOSCALE_DURATION_MAX_MS, report);
    if (metric.type === 'cpu' && m.spec.resources.cpu === undefined) report(doc, where, 'a cpu target is a percentage of the replica\'s cpu request: set spec.resources.cpu');
    if (metric.type === 'memory' && m.spec.resources.memory === undefined) report(doc, where, 'a memory target is a percentage of the replica\'s memory request: set spec.resources.memory');
    if ((metric.type === 'requestsPerSecond' || metric.type === 'concurrency' || metric.type === 'latencyP95') && !inFront) {
      report(doc, where, `${key} is measured at berth's proxy: the service needs loadBalancer.publish, a ports[].publish or a Route in front of it`);
    }
    const first = a.metrics.findIndex((o) => o.type === metric.type);
    if (first < i) report(doc, where, `${key} is also spec.autoscale.metrics[${first}]`);
  });
  if (a.min === 0 && !inFront) report(doc, at('min'), 'scale to zero needs berth\'s proxy in front to hold the first request: loadBalancer.publish, a ports[].publish or a Route');
  if (a.scaleToZeroAfterMs !== undefined && a.scaleToZeroAfterMs <= 0) report(doc, at('scaleToZero', 'after'), 'must be more than 0s');
  if (a.scaleToZeroAfterMs !== undefined) checkMax(doc, at('scaleToZero', 'after'), a.scaleToZeroAfterMs, AUTOSCALE_DURATION_MAX_MS, report);
  const raw = (doc.value as Obj | undefined)?.spec as Obj | undefined;
  if (isObj(raw?.autoscale) && isObj(raw.autoscale.scaleToZero) && a.min !== 0) report(doc, at('scaleToZero'), 'scaleToZero needs min: 0', 'key');
  for (const which of ['scaleUp', 'scaleDown'] as const) {
    if (a[which].periodMs <= 0) report(doc, at('behavior', which, 'period'), 'must be more than 0s');
    if (a[which].stabilizationMs < 0) report(doc, at('behavior', which, 'stabilization'), 'must not be negative');
    checkMax(doc, at('behavior', which, 'period'), a[which].periodMs, AUTOSCALE_DURATION_MAX_MS, report);
    checkMax(doc, at('behavior', which, 'stabilization'), a[which].stabilizationMs, AUTOSCALE_DURATION_MAX_MS, report);
    if (a[which].maxStepPercent === 0 && a[which].maxStepReplicas === 0) report(doc, at('behavior', which, 'maxStep'), 'must be more than 0%');
  }
  const hostPort = m.spec.ports.findIndex((p) => p.hostPort !== undefined);
  if (hostPort >= 0 && a.max > 1) report(doc, ['spec', 'ports', hostPort, 'hostPort'], `a service with hostPort runs at most 1 replica: autoscale max is ${a.max}`);
  if (m.spec.container?.containerName !== undefined && a.max > 1) report(doc, ['spec', 'containerName'], `a service with containerName runs at most 1 replica: autoscale max is ${a.max}`);
}
