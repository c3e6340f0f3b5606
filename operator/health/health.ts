/** The health of one replica from its probe states (pure); the Health scale itself is model/health.ts. */
import type { HealthSpec, ProbeKind } from '../model/manifest.ts';
import type { ProbeState } from './probe-state.ts';
import type { Health, ReplicaHealth } from '../model/health.ts';

export { HEALTH_ORDER, worstOf, type Health, type ReplicaHealth } from '../model/health.ts';

/** Current state of each probe of a replica; absent = not probed yet. */
export interface ReplicaProbes {
  startup?: ProbeState;
  readiness?: ProbeState;
  liveness?: ProbeState;
}


/**
 * The health of one replica, with Kubernetes semantics.
 * running: the container is running; spec: the service's HealthSpec; probes: current states (absent = not probed yet).
 * Not running → Unhealthy. Startup not yet passing → Progressing (live, not ready); startup failing → Unhealthy, not live.
 * Once started: liveness failing → Unhealthy, not live; readiness (independent of liveness, as in Kubernetes) decides
 * `ready`: none → ready; unknown → Progressing; failing → Degraded; passing → Healthy.
 */
export function replicaHealth(spec: HealthSpec, probes: ReplicaProbes, running: boolean): ReplicaHealth {
  if (!running) return { health: 'Unhealthy', started: false, ready: false, live: false, message: 'not running' };
  if (spec.startup) {
    const startup = probes.startup;
    if (startup?.status === 'failing') {
      return { health: 'Unhealthy', started: false, ready: false, live: false, message: describe('startup', startup) };
    }
    if (startup?.status !== 'passing') {
      return { health: 'Progressing', started: false, ready: false, live: true, message: describe('startup', startup) };
    }
  }
  const readiness = readinessHealth(spec, probes.readiness);
  const liveness = probes.liveness;
  if (spec.liveness && liveness?.status === 'failing') {
    return { health: 'Unhealthy', started: true, ready: readiness.ready, live: false, message: describe('liveness', liveness) };
  }
  return { health: readiness.health, started: true, ready: readiness.ready, live: true, message: readiness.message };
}

function readinessHealth(spec: HealthSpec, state: ProbeState | undefined): { health: Health; ready: boolean; message: string } {
  if (!spec.readiness) return { health: 'Healthy', ready: true, message: 'running' };
  const message = describe('readiness', state);
  switch (state?.status) {
    case 'passing': return { health: 'Healthy', ready: true, message };
    case 'failing': return { health: 'Degraded', ready: false, message };
    default: return { health: 'Progressing', ready: false, message };
  }
}

/** 'readiness: HTTP 500'; 'startup: not probed yet' before the first result. */
function describe(kind: ProbeKind, state: ProbeState | undefined): string {
  return state?.lastMessage ? `${kind}: ${state.lastMessage}` : `${kind}: not probed yet`;
}
