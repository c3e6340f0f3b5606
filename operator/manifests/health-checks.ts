/** Semantic checks of spec.health and spec.update that the JSON Schema cannot express. */
import type { HealthSpec, ProbeKind, ProbeSpec, ServiceManifest } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { TIMER_MAX_MS, formatDuration } from './quantity.ts';
import { PROBE_DEFAULTS, PROBE_KINDS } from './probes.ts';
import { rawAt } from './raw.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type HealthReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/** An HTTP header name: an RFC 9110 token. */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The longest each duration may be: far more than any real probe or update needs, far below the longest wait of a
 * timer (TIMER_MAX_MS; a longer one fires at once, so `interval: 720h` would probe on every tick).
 */
export const DURATION_MAX_MS = { interval: 3_600_000, timeout: 3_600_000, initialDelay: 3_600_000, monitor: 3_600_000 } as const;

/** The slack the update gate (reconciler/gate.ts readyDeadlineMs) adds to the ready window of the probes. */
const GATE_SLACK_MS = 10_000;

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
  checkMax(doc, ['spec', 'update', 'monitor'], monitor, DURATION_MAX_MS.monitor, report);
  checkReadyWindow(doc, m.spec.health, report);
}

/**
 * How long a rolling update waits for a new replica to become ready (the timer of reconciler/gate.ts readyDeadlineMs):
 * startup initialDelay + interval x failureThreshold + timeout, plus readiness initialDelay + interval x
 * (failureThreshold + successThreshold) + timeout, plus the gate's slack.
 */
export function readyWindowMs(health: HealthSpec): number {
  const { startup: s, readiness: r } = health;
  const startup = s ? s.initialDelayMs + s.intervalMs * s.failureThreshold + s.timeoutMs : 0;
  const readiness = r ? r.initialDelayMs + r.intervalMs * (r.failureThreshold + r.successThreshold) + r.timeoutMs : 0;
  return startup + readiness + GATE_SLACK_MS;
}

/** The ready window must fit one timer; reported only when each duration is within its own maximum (else that is the fix). */
function checkReadyWindow(doc: RawDoc, health: HealthSpec, report: HealthReport): void {
  const probes = [health.startup, health.readiness].filter((p): p is ProbeSpec => p !== undefined);
  if (probes.some((p) => p.intervalMs > DURATION_MAX_MS.interval || p.timeoutMs > DURATION_MAX_MS.timeout || p.initialDelayMs > DURATION_MAX_MS.initialDelay)) return;
  const windowMs = readyWindowMs(health);
  if (windowMs <= TIMER_MAX_MS) return;
  // Pointed at the probe that takes the larger part of the window.
  const part = (p: ProbeSpec | undefined): number => (p ? p.intervalMs * p.failureThreshold : -1);
  const kind = part(health.readiness) >= part(health.startup) ? 'readiness' : 'startup';
  const message = `startup and readiness give a new replica ${formatDuration(windowMs)} to become ready (interval x thresholds), more than a timer can wait (at most ${formatDuration(TIMER_MAX_MS)}): lower failureThreshold or interval`;
  report(doc, ['spec', 'health', kind, 'failureThreshold'], message);
}

/** A duration above its field's maximum is reported, naming the maximum (nothing is clamped). */
/** A duration field above its maximum, reported at the field. */
export function checkMax(doc: RawDoc, path: PathSegment[], ms: number, max: number, report: HealthReport): void {
  if (ms > max) report(doc, path, `must be at most ${formatDuration(max)}, got ${formatDuration(ms)}`);
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
  checkMax(doc, [...path, 'interval'], intervalMs, DURATION_MAX_MS.interval, report);
  checkMax(doc, [...path, 'timeout'], timeoutMs, DURATION_MAX_MS.timeout, report);
  checkMax(doc, [...path, 'initialDelay'], initialDelayMs, DURATION_MAX_MS.initialDelay, report);
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
