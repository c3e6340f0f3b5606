/** Composition root: the only place dockerode and the git adapter are constructed. One function per command. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { createAlerter } from './alerts/alerter.ts';
import { healthAlert, reconcilerAlert } from './alerts/events.ts';
import { startGc } from './healing/gc-runner.ts';
import { HealthMonitor, type HealthChange } from './health/monitor.ts';
import { createDockerGc } from './runtime/docker-gc.ts';
import { registryRoutes } from './registry/api.ts';
import { Registry } from './registry/registry.ts';
import { syncRegistry, syncReplica } from './registry/sync.ts';
import { createDrainer } from './proxy/drain.ts';
import { ProxyManager } from './proxy/proxies.ts';
import { send } from './registry/http-util.ts';
import { readStatusDoc } from './status/read.ts';
import { checkSourceFlags, helpText, manifestLimits, parseDuration, parseListen, type Flags, type Parsed } from './config.ts';
import { renderJson, renderText } from './diff/render.ts';
import { renderPlanMarkdown } from './review/markdown.ts';
import { escapeText } from './review/escape.ts';
import { createGitHubClient, type GitHubClient } from './review/github.ts';
import { Reviewer } from './review/reviewer.ts';
import { reviewBranchMatcher } from './review/branches.ts';
import { startReviewRunner } from './review/runner.ts';
import { SyncReporter } from './review/sync-report.ts';
import { loadDesired, type LoadOptions } from './manifests/index.ts';
import { BerthError, ValidationError, asBerthError, formatIssue, type ManifestIssue } from './model/errors.ts';
import type { DesiredState } from './model/state.ts';
import { Reconciler, type Cluster, type DriftMode, type PassResult, type ReconcilerEvent } from './reconciler/reconciler.ts';
import { clusterView } from './runtime/cluster.ts';
import { planRevision } from './reconciler/plan-revision.ts';
import type { RoundReport } from './review/reviewer.ts';
import { startLoop } from './reconciler/loop.ts';
import { createDockerRuntime, dockerOptionsFromEndpoint } from './runtime/docker.ts';
import { DEFAULT_SOCKET } from './runtime/docker-options.ts';
import { dockerNodeConnection, nodeDockerOptions } from './runtime/docker-node.ts';
import { createMultiRuntime, type MultiRuntime } from './runtime/multi.ts';
import { NodePool } from './runtime/node-pool.ts';
import type { NodeSpec } from './model/manifest.ts';
import type { ContainerRuntime } from './runtime/runtime.ts';
import { Metrics } from './server/metrics.ts';
import { startServer } from './server/server.ts';
import { trafficLimits } from './server/limits.ts';
import { fsSnapshot } from './source/fs-snapshot.ts';
import { openGitSource } from './source/git-source.ts';
import type { GitSource } from './source/source.ts';
import { renderStatusText } from './status/render.ts';
import type { StatusDoc } from './status/report.ts';
import { createLogger, silentLogger, type Level, type Logger } from './util/log.ts';
import { Redactor } from './util/redact.ts';

/** The package version (package.json beside operator/). */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `berth status`: the server or the status branch could not be reached (distinct from 1, not ready). */
export const EXIT_UNREACHABLE = 3;

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** Runs one parsed command; resolves to the process exit code. */
export async function main(p: Parsed, io: Io): Promise<number> {
  if (p.version) {
    io.out(`berth ${VERSION}`);
    return 0;
  }
  if (p.help || p.command === null) {
    io.out(helpText(p.command ?? undefined));
    return 0;
  }
  switch (p.command) {
    case 'validate': return validate(p, io);
    case 'status': return status(p.flags, io);
    case 'plan': return plan(p.flags, io);
    case 'apply': return apply(p.flags, io);
    case 'run': return run(p.flags, io);
  }
}

function logger(flags: Flags): Logger {
  return createLogger({ level: flags['log-level'] as Level, json: flags['log-format'] === 'json' });
}

/**
 * Connects to the engines: the node pool (the --docker engine as node `local` until the revision declares Nodes) and
 * one runtime over all of them. An unreachable engine at start-up is a one-line E_DOCKER error.
 */
async function connectEngine(flags: Flags, log: Logger = silentLogger, onNodeChange?: () => void): Promise<{ docker: Docker; runtime: MultiRuntime; pool: NodePool }> {
  const endpoint = flags.docker as string | undefined;
  const docker = new Docker(dockerOptionsFromEndpoint(endpoint));
  const local: NodeSpec = { endpoint: endpoint ?? process.env.DOCKER_HOST ?? `unix://${DEFAULT_SOCKET}`, labels: {}, capacity: {}, unschedulable: false };
  const pool = new NodePool({
    local, log, graceMs: parseDuration(String(flags['node-grace'] ?? '10s'), 'node-grace'), pingMs: 1_000,
    // the local node reuses the --docker client; declared nodes get their own (TLS files read here, on the operator host)
    connect: (name, spec) => dockerNodeConnection(spec === local ? docker : new Docker(nodeDockerOptions(name, spec))),
    onChange: () => onNodeChange?.(),
  });
  const runtime = createMultiRuntime(pool, log);
  await createDockerRuntime(docker).ping();
  await pool.pingAll();
  return { docker, runtime, pool };
}

/** The health monitor (probes) of run and apply; `onChange` hears every transition. */
function createMonitor(flags: Flags, runtime: ContainerRuntime, log: Logger, onChange?: (c: HealthChange) => void): HealthMonitor {
  return new HealthMonitor({ runtime, log, scriptDir: path.join(String(flags['state-dir']), 'scripts'), onChange });
}

async function connectSource(flags: Flags): Promise<GitSource> {
  return openGitSource({ repo: String(flags.repo), branch: String(flags.branch ?? 'main'), cacheDir: String(flags['state-dir']) });
}

function manifestsPath(flags: Flags): string {
  return String(flags.path ?? '.');
}

/** How every command loads a revision: the manifests path, the size limits and the host paths Volumes may mount. */
function loadOptions(flags: Flags, instance = String(flags.instance)): LoadOptions {
  return { instance, path: manifestsPath(flags), allowHostPaths: flags['allow-host-path'] as string[] | undefined, ...manifestLimits(flags) };
}

async function validate(p: Parsed, io: Io): Promise<number> {
  const dir = p.positionals[0];
  if (!dir || p.positionals.length > 1) throw new BerthError('E_CONFIG', 'usage: berth validate <dir> (one directory)');
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new BerthError('E_CONFIG', `validate: ${dir} is not a directory`);
  try {
    const desired = await loadDesired(fsSnapshot(dir), loadOptions(p.flags, 'validate'));
    io.out(`${dir}: ${desired.services.length} service(s), ${desired.volumes.length} volume(s): valid`);
    return 0;
  } catch (err) {
    if (err instanceof ValidationError) {
      io.err(err.issues.map(formatIssue).join('\n'));
      return 1;
    }
    throw err;
  }
}

async function plan(flags: Flags, io: Io): Promise<number> {
  checkSourceFlags(flags);
  const [source, { runtime, pool }] = await Promise.all([connectSource(flags), connectEngine(flags)]);
  const revision = flags.revision ? await source.resolve(String(flags.revision)) : await source.head();
  const format = flags.json ? 'json' : String(flags.format ?? 'text');
  const instance = String(flags.instance);
  const loaded = await loadOrIssues(source, revision, flags);
  if (!('desired' in loaded)) {
    if (format === 'markdown') io.out(renderPlanMarkdown({ instance, revision, plan: null, issues: loaded.issues }));
    else io.err(`revision ${revision.slice(0, 12)} is invalid:\n${loaded.issues.map(formatIssue).join('\n')}`);
    return 1;
  }
  const { desired } = loaded;
  const cluster = async (d: DesiredState) => {
    for (const f of pool.sync(d.nodes)) io.err(`node ${f.name}: ${f.error}`);
    await pool.pingAll();
    return clusterView(pool, runtime);
  };
  const status = await readStatusDoc(source, instance).catch(() => null);
  const { plan: result, unschedulable } = await planRevision({ source, runtime, instance, load: (snap) => loadDesired(snap, loadOptions(flags)), cluster }, desired, status);
  pool.stop();
  const waiting = [...unschedulable].map(([svc, why]) => `${svc}: ${why}`);
  if (format === 'json') io.out(JSON.stringify({ ...(JSON.parse(renderJson(result)) as object), unschedulable: Object.fromEntries(unschedulable) }, null, 2));
  else if (format === 'markdown') io.out(renderPlanMarkdown({ instance, revision, plan: result }) + (waiting.length ? `\n\n**Unschedulable**\n\n${waiting.map((w) => `- ${escapeText(w)}`).join('\n')}` : ''));
  else io.out(renderText(result) + (waiting.length ? `\nunschedulable:\n${waiting.map((w) => `  ${w}`).join('\n')}` : ''));
  if (flags['detailed-exitcode']) return result.actions.length || waiting.length ? 2 : 0;
  return 0;
}

/** The desired state of a revision, or its validation issues. */
async function loadOrIssues(source: GitSource, revision: string, flags: Flags): Promise<{ desired: DesiredState } | { issues: ManifestIssue[] }> {
  try {
    return { desired: await loadDesired(await source.snapshot(revision), loadOptions(flags)) };
  } catch (err) {
    if (err instanceof ValidationError) return { issues: err.issues };
    throw err;
  }
}

/** Every secret the operator holds, so that no log line, status or alert carries one. */
function secretsOf(flags: Flags): Redactor {
  const r = new Redactor().add(flags['webhook-secret'] as string | undefined).addUrlCredentials(flags.repo as string | undefined);
  const tokenEnv = flags['github-token-env'] as string | undefined;
  if (tokenEnv) r.add(process.env[tokenEnv]);
  for (const url of (flags['alert-webhook'] as string[] | undefined) ?? []) r.add(url);
  return r;
}

function reconciler(flags: Flags, source: GitSource, runtime: ContainerRuntime, log: Logger, extra: { keepLastGood: boolean; monitor?: HealthMonitor; notify?: (e: ReconcilerEvent) => void; beforeStop?: (id: string) => Promise<void>; cluster?: Cluster; onLateFetch?: () => void; redact?: Redactor }): Reconciler {
  const instance = String(flags.instance);
  return new Reconciler({
    cluster: extra.cluster,
    onLateFetch: extra.onLateFetch,
    redact: extra.redact,
    statusIntervalMs: flags['status-interval'] ? parseDuration(String(flags['status-interval']), 'status-interval') : undefined,
    beforeStop: extra.beforeStop,
    monitor: extra.monitor,
    notify: extra.notify,
    source, runtime, log, instance,
    load: (snapshot) => loadDesired(snapshot, loadOptions(flags)),
    sourceInfo: { repo: source.description, branch: String(flags.branch), path: manifestsPath(flags) },
    drift: flags.drift as DriftMode,
    writeStatus: true,
    keepLastGood: extra.keepLastGood,
  });
}

/** The engines of the node pool as a pass needs them (`berth run` and `berth apply` alike). */
function clusterOf(pool: NodePool, runtime: MultiRuntime, extra: Pick<Cluster, 'usage' | 'memoryHighMark' | 'settle'> = {}): Cluster {
  return { sync: (nodes) => pool.sync(nodes), view: () => clusterView(pool, runtime), ...extra };
}

async function apply(flags: Flags, io: Io): Promise<number> {
  checkSourceFlags(flags);
  const redact = secretsOf(flags);
  const log = redact.logger(logger(flags));
  const [source, { runtime, pool }] = await Promise.all([connectSource(flags), connectEngine(flags, log)]);
  const monitor = createMonitor(flags, runtime, log);
  // One pass: the revision's Nodes are pinged once before placement (berth run's pool pings them every second).
  const cluster = clusterOf(pool, runtime, { settle: () => pool.pingAll() });
  const rec = reconciler(flags, source, runtime, log, { keepLastGood: false, monitor, redact, cluster });
  const r = await rec.pass({ revision: flags.revision as string | undefined });
  await rec.flushStatus();
  monitor.stop();
  pool.stop();
  if (r.error instanceof ValidationError) io.err(r.error.issues.map(formatIssue).join('\n'));
  else if (r.error) io.err(`berth: ${r.error.code}: ${r.error.message}`);
  if (r.plan) io.out(renderText(r.plan));
  io.out(renderStatusText(r.status));
  return r.converged ? 0 : 1;
}

/** A running operator: loop, HTTP server and the reconciler behind them. */
export interface Operator {
  url: string;
  reconciler: Reconciler;
  trigger(reason: string): void;
  /** Resolves when no review round and no after-merge GitHub call is running or queued. */
  reviewIdle(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the loop and the HTTP server for `berth run` (also used by `npm start`, tests and benchmarks). */
export async function startOperator(flags: Flags, baseLog: Logger, hooks: { onPass?: (r: PassResult, trigger: string) => void; onReview?: (r: RoundReport, reason: string) => void } = {}): Promise<Operator> {
  checkSourceFlags(flags);
  const redact = secretsOf(flags);
  const log = redact.logger(baseLog);
  const intervalMs = parseDuration(String(flags.interval), 'interval');
  const listen = parseListen(String(flags.listen));
  const instance = String(flags.instance);
  let wakeForNodes: () => void = () => undefined;
  const [source, { docker, runtime, pool }] = await Promise.all([connectSource(flags), connectEngine(flags, log, () => wakeForNodes())]);
  pool.start();
  const cluster = clusterOf(pool, runtime, {
    usage: (ids) => runtime.memoryUsage(ids), memoryHighMark: parseFraction(String(flags['memory-high-mark']), 'memory-high-mark'),
  });
  const urls = (flags['alert-webhook'] as string[] | undefined) ?? [];
  const alerter = urls.length ? createAlerter({ urls, muteMs: parseDuration(String(flags['alert-mute']), 'alert-mute'), log, instance }) : null;
  let wake: (reason: string) => void = () => undefined;
  const limits = trafficLimits(flags, log); // one connection budget for the API server and every proxy
  const registry = new Registry({});
  const proxies = new ProxyManager({ registry, defaultHost: String(flags['proxy-host']), log, ...limits.proxies });
  const drainer = createDrainer({
    registry, openTo: (address) => proxies.openTo(address), timeoutMs: parseDuration(String(flags['drain-timeout']), 'drain-timeout'),
    log: (msg, fields) => log.info(msg, fields),
  });
  const monitor = createMonitor(flags, runtime, log, (c) => {
    if (c.before && c.before.health !== c.after.health) log.info(`health ${c.before.health} -> ${c.after.health}`, { container: c.name, service: c.service, replica: c.replica, message: c.after.message });
    if ((!c.before || c.before.ready !== c.after.ready) && !drainer.draining(c.containerId)) syncReplica(registry, c.container, c.desired, c.after);
    if (c.before && (!c.after.live || c.before.ready !== c.after.ready)) wake(`health ${c.after.health} ${c.name}`);
    const a = healthAlert(c);
    if (a) void alerter?.send(redact.deep(a));
  });
  const github = connectGitHub(flags, log);
  const sync = github ? new SyncReporter({ github, instance, log }) : null;
  const notify = (e: ReconcilerEvent): void => {
    const a = reconcilerAlert(e);
    if (a) void alerter?.send(redact.deep(a));
    sync?.onEvent(e);
  };
  const rec = reconciler(flags, source, runtime, log, { keepLastGood: true, monitor, notify, beforeStop: (id) => drainer.drain(id), cluster, redact, onLateFetch: () => wake('late fetch finished') });
  const reviewBranches = (flags['review-branches'] as string[] | undefined) ?? [];
  if (reviewBranches.length) reviewBranchMatcher(reviewBranches); // a bad pattern is an E_CONFIG at start-up
  const reviews = github || reviewBranches.length
    ? startReviewRunner(new Reviewer({
      source, runtime, instance, log, github: github ?? undefined, reviewBranches, baseBranch: String(flags.branch ?? 'main'),
      load: (snapshot) => loadDesired(snapshot, loadOptions(flags)),
      // The nodes in force, never a pull request's own Node manifests: planning connects to nothing a head names.
      cluster: async () => clusterView(pool, runtime),
    }), log, { onRound: hooks.onReview, before: async () => sync?.idle(), intervalMs })
    : null;
  let lastApplied: string | null | undefined;
  const gc = startGc({ runtime: createDockerGc(docker), instance, log, schedule: String(flags['gc-schedule']), protect: (id) => rec.protects(id) });
  const metrics = new Metrics();
  const ttlTimer = setInterval(() => registry.tick(), 1000);
  ttlTimer.unref();
  // A draining replica stays out of the load balancers whatever its probes say.
  const readiness = (id: string) => (drainer.draining(id) ? { ready: false } : monitor.health(id));
  const loop = startLoop(rec, {
    intervalMs, log, runtime, instance: String(flags.instance),
    onPass: (r, trigger, ms) => {
      metrics.recordPass(r, ms / 1000);
      if (r.observed) drainer.retain(new Set(r.observed.containers.map((c) => c.id)));
      if (r.desired && r.observed) syncRegistry(registry, r.desired, r.observed, readiness);
      if (r.desired) void proxies.sync(r.desired);
      sync?.onPass(r);
      // Plans are against the applied revision: review again when it moves (and after the first pass).
      if (r.status.revision.applied !== lastApplied) reviews?.trigger(`applied ${r.status.revision.applied?.slice(0, 12)}`);
      lastApplied = r.status.revision.applied;
      hooks.onPass?.(r, trigger);
    },
  });
  wake = (reason) => loop.trigger(reason);
  wakeForNodes = () => loop.trigger('node state changed');
  const server = await startServer(listen.host, listen.port, {
    log, metrics, status: () => rec.status,
    // A pull_request event only asks for a review round; a push also moves review branches (plain git).
    trigger: (reason, event) => {
      if (event === 'pull_request' && reviews) return reviews.trigger(reason);
      loop.trigger(reason);
      if (reviewBranches.length) reviews?.trigger(reason);
    },
    webhookSecret: flags['webhook-secret'] as string | undefined,
    routes: withProxyRoute(registryRoutes(registry, limits.registry), proxies),
    limits: limits.server,
  }).catch(async (err) => {
    pool.stop();
    await loop.stop();
    await reviews?.stop();
    await proxies.close();
    monitor.stop();
    gc.stop();
    clearInterval(ttlTimer);
    throw new BerthError('E_CONFIG', `cannot listen on ${flags.listen}: ${(err as Error).message}`);
  });
  log.info('berth running', { repo: source.description, branch: flags.branch, path: flags.path, instance: flags.instance, interval: flags.interval, listen: server.url, drift: flags.drift });
  return {
    url: server.url,
    reconciler: rec,
    trigger: (reason) => loop.trigger(reason),
    async reviewIdle() {
      await sync?.idle();
      await reviews?.idle();
    },
    async stop() {
      pool.stop();
      await loop.stop();
      await rec.flushStatus();
      await reviews?.stop();
      await sync?.idle();
      await proxies.close();
      monitor.stop();
      gc.stop();
      clearInterval(ttlTimer);
      await server.close();
    },
  };
}

/** `90%` or `0.9` -> 0.9; E_CONFIG outside (0, 1]. */
function parseFraction(value: string, flag: string): number {
  const n = value.endsWith('%') ? Number(value.slice(0, -1)) / 100 : Number(value);
  if (!(n > 0 && n <= 1)) throw new BerthError('E_CONFIG', `--${flag}: "${value}" must be a fraction in (0, 1] or a percentage such as 90%`);
  return n;
}

/** The GitHub client of --github-repo, with the token from the variable --github-token-env names; null without the flag. */
function connectGitHub(flags: Flags, log: Logger): GitHubClient | null {
  const repo = flags['github-repo'] as string | undefined;
  if (!repo) return null;
  const tokenEnv = String(flags['github-token-env']);
  const token = process.env[tokenEnv];
  if (!token) throw new BerthError('E_CONFIG', `--github-repo ${repo} needs a token in the environment variable ${tokenEnv} (--github-token-env)`);
  return createGitHubClient({ repo, token, apiUrl: String(flags['github-api-url']), log });
}

/** The registry API plus `GET /v1/proxies` (the listeners of loadBalancer.publish and Routes, with counters). */
function withProxyRoute(registryApi: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>, proxies: ProxyManager) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.url === '/v1/proxies' && req.method === 'GET') {
      send(res, 200, { proxies: proxies.list() });
      return true;
    }
    return registryApi(req, res);
  };
}

async function run(flags: Flags, _io: Io): Promise<number> {
  const log = logger(flags);
  const op = await startOperator(flags, log);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => { log.info('stopping', { signal: sig }); resolve(); };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await op.stop();
  return 0;
}

/** Exit 0 when Ready, 1 when not, EXIT_UNREACHABLE when there is no status to read. */
async function status(flags: Flags, io: Io): Promise<number> {
  let doc: StatusDoc;
  try {
    doc = await readStatus(flags);
  } catch (err) {
    io.err(`berth: ${asBerthError(err, 'E_CONFIG').message.split('\n')[0]}`);
    return EXIT_UNREACHABLE;
  }
  io.out(flags.json ? JSON.stringify(doc, null, 2) : renderStatusText(doc));
  return doc.conditions.find((c) => c.type === 'Ready')?.status === 'True' ? 0 : 1;
}

async function readStatus(flags: Flags): Promise<StatusDoc> {
  if (flags.repo) {
    const source = await openGitSource({ repo: String(flags.repo), branch: 'main', cacheDir: String(flags['state-dir']) }).catch((e) => { throw asBerthError(e, 'E_GIT'); });
    const doc = await readStatusDoc(source, String(flags.instance));
    if (!doc) throw new BerthError('E_GIT', `no status for instance "${flags.instance}" on branch berth/status of ${source.description}`);
    return doc;
  }
  const url = `${String(flags.server).replace(/\/$/, '')}/v1/status`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((e: Error) => {
    const code = (e.cause as { code?: string } | undefined)?.code;
    const why = code === 'ECONNREFUSED' ? 'nothing listens there' : code ?? e.message;
    throw new BerthError('E_CONFIG', `cannot reach berth at ${flags.server} (${why}): is \`berth run\` (or npm start) running? --server names another address`);
  });
  if (!res.ok) throw new BerthError('E_CONFIG', `berth at ${flags.server} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as StatusDoc;
}
