import { describe, expect, it } from 'vitest';
import type { HealthSpec, ProbeSpec } from '../model/manifest.ts';
import { HEALTH_ORDER, replicaHealth, worstOf, type ReplicaHealth } from './health.ts';
import type { ProbeState } from './probe-state.ts';

const PROBE: ProbeSpec = { tcp: { port: 80 }, intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1 };
const ALL: HealthSpec = { startup: PROBE, readiness: PROBE, liveness: PROBE };

function state(status: ProbeState['status'], lastMessage = status === 'passing' ? 'HTTP 200' : 'HTTP 500'): ProbeState {
  return { status, consecutiveOk: 0, consecutiveFail: 0, lastMessage, since: 0 };
}

describe('worstOf and HEALTH_ORDER', () => {
  it('orders best to worst exactly as the union is declared', () => {
    expect(HEALTH_ORDER).toEqual(['Healthy', 'Suspended', 'Progressing', 'Unknown', 'Missing', 'Degraded', 'Unhealthy', 'CrashLoop']);
  });

  it('is Healthy for none and picks the worst otherwise, whatever the argument order', () => {
    expect(worstOf()).toBe('Healthy');
    expect(worstOf('Progressing', 'Healthy')).toBe('Progressing');
    expect(worstOf('Degraded', 'Missing', 'Unknown')).toBe('Degraded');
    expect(worstOf('CrashLoop', 'Unhealthy')).toBe('CrashLoop');
    HEALTH_ORDER.forEach((worse, i) => {
      for (const better of HEALTH_ORDER.slice(0, i)) {
        expect(worstOf(better, worse)).toBe(worse);
        expect(worstOf(worse, better)).toBe(worse);
      }
    });
  });
});

describe('replicaHealth', () => {
  const cases: { name: string; spec: HealthSpec; probes: Parameters<typeof replicaHealth>[1]; running?: boolean; want: ReplicaHealth }[] = [
    { name: 'not running', spec: ALL, probes: { startup: state('passing'), readiness: state('passing') }, running: false,
      want: { health: 'Unhealthy', started: false, ready: false, live: false, message: 'not running' } },
    { name: 'no probes: ready when running', spec: {}, probes: {},
      want: { health: 'Healthy', started: true, ready: true, live: true, message: 'running' } },
    { name: 'startup not probed yet gates everything', spec: ALL, probes: { readiness: state('passing'), liveness: state('failing') },
      want: { health: 'Progressing', started: false, ready: false, live: true, message: 'startup: not probed yet' } },
    { name: 'startup unknown after a failure', spec: ALL, probes: { startup: state('unknown', 'connect ECONNREFUSED 10.0.0.1:80') },
      want: { health: 'Progressing', started: false, ready: false, live: true, message: 'startup: connect ECONNREFUSED 10.0.0.1:80' } },
    { name: 'startup failing: restart it', spec: ALL, probes: { startup: state('failing', 'timeout after 1000 ms') },
      want: { health: 'Unhealthy', started: false, ready: false, live: false, message: 'startup: timeout after 1000 ms' } },
    { name: 'started, readiness not probed yet', spec: ALL, probes: { startup: state('passing') },
      want: { health: 'Progressing', started: true, ready: false, live: true, message: 'readiness: not probed yet' } },
    { name: 'readiness unknown', spec: { readiness: PROBE }, probes: { readiness: state('unknown') },
      want: { health: 'Progressing', started: true, ready: false, live: true, message: 'readiness: HTTP 500' } },
    { name: 'readiness failing', spec: { readiness: PROBE }, probes: { readiness: state('failing') },
      want: { health: 'Degraded', started: true, ready: false, live: true, message: 'readiness: HTTP 500' } },
    { name: 'readiness passing', spec: ALL, probes: { startup: state('passing'), readiness: state('passing'), liveness: state('passing') },
      want: { health: 'Healthy', started: true, ready: true, live: true, message: 'readiness: HTTP 200' } },
    { name: 'liveness failing beats readiness failing', spec: ALL, probes: { startup: state('passing'), readiness: state('failing'), liveness: state('failing', 'exit 1: dead') },
      want: { health: 'Unhealthy', started: true, ready: false, live: false, message: 'liveness: exit 1: dead' } },
    { name: 'liveness failing, readiness passing: still ready until restarted (Kubernetes)', spec: { readiness: PROBE, liveness: PROBE },
      probes: { readiness: state('passing'), liveness: state('failing') },
      want: { health: 'Unhealthy', started: true, ready: true, live: false, message: 'liveness: HTTP 500' } },
    { name: 'liveness failing without readiness probe', spec: { liveness: PROBE }, probes: { liveness: state('failing') },
      want: { health: 'Unhealthy', started: true, ready: true, live: false, message: 'liveness: HTTP 500' } },
    { name: 'liveness unknown counts as live', spec: { liveness: PROBE }, probes: { liveness: state('unknown') },
      want: { health: 'Healthy', started: true, ready: true, live: true, message: 'running' } },
    { name: 'a state of a probe no longer in the spec is ignored', spec: {}, probes: { startup: state('failing'), readiness: state('failing'), liveness: state('failing') },
      want: { health: 'Healthy', started: true, ready: true, live: true, message: 'running' } },
  ];

  it.each(cases)('$name', ({ spec, probes, running, want }) => {
    expect(replicaHealth(spec, probes, running ?? true)).toEqual(want);
  });
});
