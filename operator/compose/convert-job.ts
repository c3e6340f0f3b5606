/**
 * compose's `depends_on: { migrate: { condition: service_completed_successfully } }`: `docker compose up` runs
 * `migrate` to completion and starts the dependent only once it exited 0. berth converts such a service into a Job
 * (run once per spec hash) and the dependent's `depends_on` entry into a `dependsOn` naming it, which holds the
 * dependent's rollout until the Job's run of the revision succeeded (diff.ts jobHolds).
 *
 * The Job's container fields are converted as a Service's (convert-service.ts); then the fields of a long-running
 * service are mapped or refused at their compose line: `restart` -> backoffLimit (no: 0, on-failure: berth's retries;
 * always / unless-stopped never let it complete), `deploy.replicas` / `scale` N -> N containers at once that must all
 * exit 0 (compose starts N and waits for every one), `ports` / `expose`, `healthcheck`, `deploy.update_config`,
 * `container_name` and its own `depends_on` refused.
 */
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import type { ServiceContext } from './context.ts';
import { composeInt } from './units.ts';

/** The one condition that makes a compose service run to completion. */
export const COMPLETED = 'service_completed_successfully';

/**
 * The services some (converted) service depends on with condition service_completed_successfully: name -> the first
 * such dependent. `skipped` are the services left out by their profiles: their dependencies do not count.
 */
export function completedDependencies(services: Obj, skipped: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, raw] of Object.entries(services)) {
    if (skipped.has(name) || !isObj(raw) || !isObj(raw.depends_on)) continue;
    for (const [dep, opts] of Object.entries(raw.depends_on)) {
      if (isObj(opts) && opts.condition === COMPLETED && !out.has(dep)) out.set(dep, name);
    }
  }
  return out;
}

/**
 * Turns the Service spec converted from a compose service into a Job spec, in place (ctx.spec). `dependent` is the service that
 * waits for it (named in the messages).
 */
export function toComposeJob(ctx: ServiceContext, dependent: string): void {
  const spec = ctx.spec;
  const why = `${ctx.name} runs to completion (${dependent} depends on it with condition ${COMPLETED}, so it is a berth Job)`;
  const refuse = (field: string, message: string): void => {
    if (spec[field] === undefined) return;
    refuseAt(ctx, ['spec', field], `${why}: ${message}`);
    delete spec[field];
  };
  restartToBackoff(ctx, why);
  replicasToCompletions(ctx, why);
  // A published port is also the loadBalancer: one refusal, at ports.
  const lb = ctx.map.resolve(['spec', 'loadBalancer'], ctx.base);
  const fromPorts = spec.ports !== undefined && (lb[2] === 'ports' || lb[2] === 'expose');
  refuse('ports', 'it gets no traffic and publishes no port: drop ports and expose');
  if (fromPorts) delete spec.loadBalancer;
  refuse('loadBalancer', 'it gets no traffic and publishes no port: drop ports and expose');
  refuse('health', 'its dependents wait for it to exit 0, not for a healthcheck: drop healthcheck');
  refuse('update', 'nothing is rolled: a changed service is a new run of the Job; drop deploy.update_config');
  refuse('containerName', 'berth names each of its containers per run and attempt (berth.<instance>.<namespace>.<job>.job-<run>.<completion>.<attempt>): drop container_name');
  if (spec.dependsOn !== undefined) {
    ctx.error(['depends_on'], `${why}: depends_on on a service run to completion is not supported yet (a berth Job starts at once, without waiting for other services): drop it, and retry until they are up with restart: on-failure`, 'key');
    delete spec.dependsOn;
  }
}

/** restart: no (compose's default) -> backoffLimit 0, on-failure -> berth's retries (default 6), always -> refused. */
function restartToBackoff(ctx: ServiceContext, why: string): void {
  const restart = ctx.spec.restart;
  if (restart === undefined) return;
  const at = ctx.map.resolve(['spec', 'restart', 'policy'], ctx.base);
  delete ctx.spec.restart;
  const policy = isObj(restart) ? restart.policy : undefined;
  if (policy === 'never') ctx.spec.backoffLimit = 0;
  else if (policy === 'always') {
    ctx.project.problems.push({ path: at, message: `${why}: a restart policy that restarts it after it exited 0 (always, unless-stopped, deploy.restart_policy.condition any) never lets it complete; use no (run once) or on-failure (retried with backoff)`, severity: 'error', target: 'value' });
    return;
  }
  ctx.map.add(['spec', 'backoffLimit'], at);
}

/** deploy.replicas / scale N: N containers started together, every one must exit 0 (completions = parallelism = N). */
function replicasToCompletions(ctx: ServiceContext, why: string): void {
  const replicas = ctx.spec.replicas;
  if (replicas === undefined) return;
  const at = ctx.map.resolve(['spec', 'replicas'], ctx.base);
  delete ctx.spec.replicas;
  const n = typeof replicas === 'number' ? replicas : composeInt(replicas);
  if (n === 0) {
    ctx.project.problems.push({ path: at, message: `${why}: with 0 replicas it never runs, and its dependents would wait for it forever`, severity: 'error', target: 'value' });
    return;
  }
  // Not a number: completions alone, for one schema error at the line.
  ctx.spec.completions = n ?? replicas;
  ctx.map.add(['spec', 'completions'], at);
  if (n === undefined) return;
  ctx.spec.parallelism = n;
  ctx.map.add(['spec', 'parallelism'], at);
}

function refuseAt(ctx: ServiceContext, berth: readonly PathSegment[], message: string): void {
  ctx.project.problems.push({ path: ctx.map.resolve(berth, ctx.base), message, severity: 'error', target: 'key' });
}
