/** `healthcheck`, `restart` and `deploy` of a compose service -> spec.health.readiness, spec.restart, replicas, resources, update, placement. */
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import type { ServiceContext } from './context.ts';
import { composeBool, composeBytes, composeDuration, composeInt } from './units.ts';

/** Compose's (Docker's) healthcheck defaults: interval 30s, timeout 30s, retries 3, start_period 0s. */
const HEALTH_DEFAULTS = { interval: '30s', timeout: '30s', failureThreshold: 3 };

/**
 * A healthcheck -> an exec readiness probe (run through the engine's exec API, as Docker runs it): a failing check
 * takes the replica out of traffic and gates rolling updates and dependents, as an unhealthy container does in
 * compose. start_period -> initialDelay (berth does not probe before it; Docker probes but ignores failures).
 */
export function convertHealthcheck(ctx: ServiceContext, hc: unknown): void {
  if (!isObj(hc)) return;
  const rel: PathSegment[] = ['healthcheck'];
  if (composeBool(hc.disable) === true) return;
  const test = hc.test;
  let command: string[] | undefined;
  if (typeof test === 'string') command = ['sh', '-c', test];
  else if (Array.isArray(test)) {
    const [form, ...args] = test.map(String);
    if (form === 'NONE') return;
    if (form === 'CMD' && args.length > 0) command = args;
    else if (form === 'CMD-SHELL' && args.length > 0) command = ['sh', '-c', args.join(' ')];
    else return ctx.error([...rel, 'test'], 'must be ["CMD", ...], ["CMD-SHELL", "..."], ["NONE"] or a shell command string');
  }
  if (!command) return ctx.error(rel, 'test is required (the image HEALTHCHECK is not read by berth)');
  const probe: Obj = { exec: { command } };
  ctx.set(['health', 'readiness'], probe, rel);
  ctx.mapTo(['health', 'readiness', 'exec'], [...rel, 'test']);
  ctx.mapTo(['health'], rel);
  const duration = (key: string, berth: string, dflt?: string): void => {
    if (hc[key] === undefined) {
      if (dflt !== undefined) probe[berth] = dflt;
      return;
    }
    const d = composeDuration(hc[key]);
    if (d === undefined) return ctx.error([...rel, key], `must be a duration such as 30s or 1m30s`);
    probe[berth] = d;
    ctx.mapTo(['health', 'readiness', berth], [...rel, key]);
  };
  duration('interval', 'interval', HEALTH_DEFAULTS.interval);
  // A compose timeout may exceed its interval, berth's may not: the default follows a shorter interval.
  const interval = typeof probe.interval === 'string' ? probe.interval : HEALTH_DEFAULTS.interval;
  duration('timeout', 'timeout', hc.interval === undefined ? HEALTH_DEFAULTS.timeout : shorter(interval, HEALTH_DEFAULTS.timeout));
  duration('start_period', 'initialDelay');
  if (hc.retries !== undefined) {
    probe.failureThreshold = composeInt(hc.retries) ?? hc.retries;
    ctx.mapTo(['health', 'readiness', 'failureThreshold'], [...rel, 'retries']);
  } else probe.failureThreshold = HEALTH_DEFAULTS.failureThreshold;
  if (hc.start_interval !== undefined) ctx.notYet([...rel, 'start_interval'], 'healthcheck.start_interval is');
}

/** The shorter of two berth durations (as formatDuration writes them). */
function shorter(a: string, b: string): string {
  return toMs(a) < toMs(b) ? a : b;
}

function toMs(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(d);
  if (!m) return Number.NaN;
  return Number(m[1] ?? 0) * 3_600_000 + Number(m[2] ?? 0) * 60_000 + Number(m[3] ?? 0) * 1000 + Number(m[4] ?? 0);
}

/** `restart`: no -> never (also when absent: compose's default), always and unless-stopped -> always, on-failure -> on-failure. */
export function convertRestart(ctx: ServiceContext, restart: unknown): void {
  if (restart === undefined) {
    ctx.set(['restart', 'policy'], 'never', ['restart']);
    return;
  }
  const r = String(restart);
  const policy = r === 'no' ? 'never' : r === 'always' || r === 'unless-stopped' ? 'always' : r === 'on-failure' ? 'on-failure' : undefined;
  if (r.startsWith('on-failure:')) return ctx.notYet(['restart'], 'a maximum retry count is', 'berth restarts with backoff, without a limit: write on-failure');
  if (!policy) return ctx.error(['restart'], 'must be no, always, on-failure or unless-stopped');
  ctx.set(['restart', 'policy'], policy, ['restart']);
}

const RESTART_CONDITIONS: Record<string, string> = { none: 'never', 'on-failure': 'on-failure', any: 'always' };

/** `deploy` (the parts `docker compose up` honours, and Swarm's update and placement settings, which berth has). */
export function convertDeploy(ctx: ServiceContext, deploy: unknown): void {
  if (!isObj(deploy)) return;
  const rel = (...p: PathSegment[]): PathSegment[] => ['deploy', ...p];
  for (const [key, v] of Object.entries(deploy)) {
    if (key.startsWith('x-')) continue;
    if (key === 'mode') {
      if (v !== 'replicated') ctx.notYet(rel('mode'), `deploy.mode ${String(v)} is`);
    } else if (key === 'replicas') ctx.set(['replicas'], composeInt(v) ?? v, rel('replicas'));
    else if (key === 'resources') resources(ctx, v);
    else if (key === 'restart_policy' && isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'condition') {
          const policy = RESTART_CONDITIONS[String(x)];
          if (policy) ctx.set(['restart', 'policy'], policy, rel('restart_policy', 'condition'));
          else ctx.error(rel('restart_policy', 'condition'), 'must be none, on-failure or any');
        } else if (!k.startsWith('x-')) ctx.notYet(rel('restart_policy', k), `deploy.restart_policy.${k} is`, 'berth restarts with backoff 1s doubling to 5 min');
      }
    } else if (key === 'update_config' && isObj(v)) updateConfig(ctx, v);
    else if (key === 'placement' && isObj(v)) placement(ctx, v);
    else if (key === 'rollback_config') ctx.notYet(rel(key), 'deploy.rollback_config is', 'berth rolls back with update_config');
    else ctx.unsupported(rel(key));
  }
}

function resources(ctx: ServiceContext, v: unknown): void {
  if (!isObj(v)) return;
  for (const [key, x] of Object.entries(v)) {
    if (key === 'reservations') ctx.notYet(['deploy', 'resources', 'reservations'], 'deploy.resources.reservations are', 'berth schedules by limits');
    else if (key === 'limits' && isObj(x)) {
      for (const [k, val] of Object.entries(x)) {
        const at: PathSegment[] = ['deploy', 'resources', 'limits', k];
        if (k === 'cpus') ctx.set(['resources', 'cpu'], typeof val === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(val) ? Number(val) : val, at);
        else if (k === 'memory') {
          const bytes = composeBytes(val);
          if (bytes === undefined) ctx.error(at, 'must be bytes or a size such as 512m or 1g');
          else ctx.set(['resources', 'memory'], bytes, at);
        } else if (!k.startsWith('x-')) ctx.unsupported(at);
      }
      ctx.mapTo(['resources'], ['deploy', 'resources', 'limits']);
    } else if (!key.startsWith('x-')) ctx.unsupported(['deploy', 'resources', key]);
  }
}

function updateConfig(ctx: ServiceContext, v: Obj): void {
  const base: PathSegment[] = ['deploy', 'update_config'];
  ctx.mapTo(['update'], base);
  for (const [k, x] of Object.entries(v)) {
    const at = [...base, k];
    if (k === 'parallelism') {
      const n = composeInt(x);
      if (n === 0) ctx.notYet(at, 'parallelism 0 (all at once) is', 'give a number of replicas');
      else ctx.set(['update', 'parallelism'], n ?? x, at);
    } else if (k === 'order') ctx.set(['update', 'order'], x, at);
    else if (k === 'failure_action') ctx.set(['update', 'failureAction'], x, at);
    else if (k === 'max_failure_ratio') ctx.set(['update', 'maxFailureRatio'], typeof x === 'string' ? Number(x) : x, at);
    else if (k === 'monitor') {
      const d = composeDuration(x);
      if (d === undefined) ctx.error(at, 'must be a duration such as 5s');
      else ctx.set(['update', 'monitor'], d, at);
    } else if (k === 'delay') ctx.notYet(at, 'deploy.update_config.delay is', 'berth moves on once a new replica is ready and monitored');
    else if (!k.startsWith('x-')) ctx.unsupported(at);
  }
}

/** Swarm's `node.hostname` is berth's `node.name`; `node.labels.<k>` is the same; other attributes are refused. */
function placement(ctx: ServiceContext, v: Obj): void {
  const base: PathSegment[] = ['deploy', 'placement'];
  for (const [k, x] of Object.entries(v)) {
    const at = [...base, k];
    if (k === 'constraints' && Array.isArray(x)) {
      ctx.mapTo(['placement', 'constraints'], at);
      x.forEach((c, i) => {
        const expr = String(c).replace(/^(\s*)node\.hostname(?=\s*[!=]=)/, '$1node.name');
        if (!/^\s*node\.(labels\.|name\s*[!=]=)/.test(expr)) return ctx.notYet([...at, i], 'this constraint is', 'berth knows node.labels.<key> and node.hostname, with == and !=');
        ctx.push(['placement', 'constraints'], expr, [...at, i]);
      });
    } else if (k === 'max_replicas_per_node') ctx.set(['placement', 'maxPerNode'], composeInt(x) ?? x, at);
    else if (k === 'preferences') ctx.notYet(at, 'deploy.placement.preferences are', 'see x-berth.placement.topologySpread');
    else if (!k.startsWith('x-')) ctx.unsupported(at);
  }
}
