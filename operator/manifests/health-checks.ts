/** Semantic checks of spec.health and spec.update that the JSON Schema cannot express. */
import type { ProbeKind, ProbeSpec, ServiceManifest } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { formatDuration } from './quantity.ts';
import { PROBE_DEFAULTS, PROBE_KINDS } from './probes.ts';
import { rawAt } from './raw.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type HealthReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/** An HTTP header name: an RFC 9110 token. */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks every probe of a typed service (ports, timing, thresholds, headers) and spec.update.monitor. */
export function checkHealth(doc: RawDoc, m: ServiceManifest, report: HealthReport): void {
  for (const kind of PROBE_KINDS) {
    const probe = m.spec.health[kind];
    if (!probe) continue;
    const path: PathSegment[] = ['spec', 'health', kind];
    if (probe.http) checkProbePort(doc, m, probe.http.port, [...path, 'http', 'port'], report);
    if (probe.tcp) checkProbePort(doc, m, probe.tcp.port, [...path, 'tcp', 'port'], report);
    for (const name of Object.keys(probe.http?.headers ?? {})) {
      if (!HEADER_NAME_RE.test(name)) report(doc, [...path, 'http', 'headers', name], `${JSON.stringify(name)} is not a valid HTTP header name`, 'key');
    }
    checkTiming(doc, probe, path, report);
    checkSuccessThreshold(doc, kind, probe, path, report);
  }
  const monitor = m.spec.update.monitorMs;
  if (monitor < 0) report(doc, ['spec', 'update', 'monitor'], `must not be negative, got ${formatDuration(monitor)}`);
}

/** http and tcp probes connect to a port the service declares (as tcp) in spec.ports. */
function checkProbePort(doc: RawDoc, m: ServiceManifest, port: number, path: PathSegment[], report: HealthReport): void {
  const ports = m.spec.ports;
  if (ports.some((p) => p.port === port && p.protocol === 'tcp')) return;
  if (ports.length === 0) {
    report(doc, path, `port ${port} is not one of the service's ports (it declares none: add it to spec.ports)`);
    return;
  }
  const declared = ports.map((p) => (p.protocol === 'tcp' ? String(p.port) : `${p.port}/${p.protocol}`)).join(', ');
  if (ports.some((p) => p.port === port)) {
    report(doc, path, `port ${port} is declared only as udp; http and tcp probes need a tcp port (the service's ports: ${declared})`);
    return;
  }
  report(doc, path, `port ${port} is not one of the service's ports (${declared})`);
}

/** interval and timeout > 0, initialDelay >= 0, timeout <= interval (reported where the user can fix it). */
function checkTiming(doc: RawDoc, probe: ProbeSpec, path: PathSegment[], report: HealthReport): void {
  const { intervalMs, timeoutMs, initialDelayMs } = probe;
  if (intervalMs <= 0) report(doc, [...path, 'interval'], `must be greater than 0, got ${formatDuration(intervalMs)}`);
  if (timeoutMs <= 0) report(doc, [...path, 'timeout'], `must be greater than 0, got ${formatDuration(timeoutMs)}`);
  if (initialDelayMs < 0) report(doc, [...path, 'initialDelay'], `must not be negative, got ${formatDuration(initialDelayMs)}`);
  if (intervalMs <= 0 || timeoutMs <= 0 || timeoutMs <= intervalMs) return;
  const interval = formatDuration(intervalMs);
  const timeout = formatDuration(timeoutMs);
  if (rawAt(doc.value, [...path, 'timeout']) !== undefined) {
    report(doc, [...path, 'timeout'], `timeout ${timeout} is longer than interval ${interval}; a probe must time out before the next one starts`);
    return;
  }
  const dflt = formatDuration(PROBE_DEFAULTS.timeoutMs);
  report(doc, [...path, 'interval'], `interval ${interval} is shorter than the default timeout ${dflt}; set timeout to at most ${interval}`);
}

/** Kubernetes rule: startup and liveness probes pass on the first success. */
function checkSuccessThreshold(doc: RawDoc, kind: ProbeKind, probe: ProbeSpec, path: PathSegment[], report: HealthReport): void {
  if (kind === 'readiness' || probe.successThreshold === 1) return;
  report(doc, [...path, 'successThreshold'], `must be 1 for a ${kind} probe, got ${probe.successThreshold} (only readiness probes may require several successes)`);
}
