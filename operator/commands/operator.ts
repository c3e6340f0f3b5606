/**
 * The running operator of `berth run`: builds the adapters (registry sync, proxies, drainer, metrics, alerts, sync
 * reporter, review runner), registers them as listeners of the loop, the monitor and the reconciler, and closes
 * everything through one ordered list of closers.
 */
import { alertListener, drainListener, healthLogListener, healthWakeListener, metricsListener, proxiesListener, registryListener, reviewListener, syncReportListener } from './adapters.ts';
import { createAlerter, type Alerter } from '../alerts/alerter.ts';
import type { Flags } from '../settings/flags.ts';
import { startGc } from '../healing/gc-runner.ts';
import { Closers, OperatorListeners, appliedRevisionWatch, closer, type HealthListener, type PassListener } from './listeners.ts';
import { loadDesired } from '../manifests/index.ts';
import { BerthError } from '../model/errors.ts';
import { createDrainer, type Drainer } from '../proxy/drain.ts';
import type { Dataplane } from '../dataplane/remote.ts';
import { dataplaneOf, withProxyRoute } from './dataplane.ts';
import { startLoop, type Loop } from '../reconciler/loop.ts';
import type { PassResult, Reconciler } from '../reconciler/reconciler.ts';
import { registryRoutes } from '../registry/api.ts';
import { Registry } from '../registry/registry.ts';
import { createGitHubClient, type GitHubClient } from '../review/github.ts';
import { Reviewer, type PlannerDeps, type RoundReport } from '../review/reviewer.ts';
import { DashboardPlans } from '../review/dashboard-plans.ts';
import { RevisionPlans } from '../status/revision-plans.ts';
import { plansRoute } from '../server/plans-route.ts';
import { commitRoute } from '../server/commit-route.ts';
import { startReviewRunner, type ReviewRunner } from '../review/runner.ts';
import { SyncReporter } from '../review/sync-report.ts';
import { clusterView } from '../runtime/cluster.ts';
import { createDockerGc } from '../runtime/docker-gc.ts';
import { trafficLimits } from './traffic-limits.ts';
import { apiSecurity } from './api-security.ts';
import { Metrics } from '../server/metrics.ts';
import { accessSnapshot, fetchAccess } from '../dataplane/access-metrics.ts';
import { timedSource } from '../metrics/source.ts';
import { Autoscaler } from '../autoscale/controller.ts';
import { watchWakeups } from '../dataplane/wakeups.ts';
import { startServer, type Server, type ServerDeps } from '../server/server.ts';
import type { RunJobDeps } from '../server/run-job-route.ts';
import { DriftPauses } from '../healing/drift-pause.ts';
import { ClientSlots } from '../server/client-slots.ts';
import type { StatusWatchDeps } from '../server/status-watch.ts';
import { uiFiles } from '../server/ui-route.ts';
import { historyRoute } from '../server/history-route.ts';
import { SeriesSampler, usageIntervalFor } from '../metrics/series.ts';
import { USAGE_INTERVAL_MS } from '../metrics/usage.ts';
import { seriesRoute } from '../server/series-route.ts';
import { historyFrom } from './history.ts';
import type { StatusDoc } from '../status/report.ts';
import { Logs } from '../logs/service.ts';
import { formatDuration } from '../manifests/quantity.ts';
import { settingsFor, type RunSettings } from '../settings/settings.ts';
import type { GitSource } from '../source/source.ts';
import type { Logger } from '../util/log.ts';
import type { Redactor } from '../util/redact.ts';
import type { ImageAccess } from '../images/access.ts';
import { startImageUpdates } from './image-updates.ts';
import { externalsFile, persistExternals } from '../registry/persist.ts';
import { clusterOf, connectEngine, connectSource, createMonitor, loadOptions, reconciler, registryAccess, secretStore, secretsOf, type Engines } from './shared.ts';

/** A running operator: loop, HTTP server and the reconciler behind them. */
export interface Operator {
  url: string;
  reconciler: Reconciler;
  /** Asks the loop for a pass. */
  trigger(reason: string): void;
  /** Resolves when no review round and no after-merge GitHub call is running or queued. */
  reviewIdle(): Promise<void>;
  /** Closes everything, in order, and flushes the status. */
  stop(): Promise<void>;
}

export interface OperatorHooks {
  onPass?: (r: PassResult, trigger: string) => void;
  onReview?: (r: RoundReport, reason: string) => void;
  /** The clock passes plan against (schedules, backoff, windows); absent: the system clock. Tests move it. */
  now?: () => Date;
}

/** Starts the loop and the HTTP server for `berth run` (also used by `npm start`, tests and benchmarks). */
export async function startOperator(flags: Flags, baseLog: Logger, hooks: OperatorHooks = {}): Promise<Operator> {
  return runOperator(settingsFor('run', flags), baseLog, hooks);
}

/** startOperator with settings parsed already. */
export async function runOperator(s: RunSettings, baseLog: Logger, hooks: OperatorHooks = {}): Promise<Operator> {
  const redact = secretsOf(s, s);
  const log = redact.logger(baseLog);
  const security = await apiSecurity(s, log, redact); // refuses an exposed listener before anything starts
  let loop: Loop | null = null;
  const wake = (reason: string): void => loop?.trigger(reason);
  const images = registryAccess(s, log, redact);
  // One prom-client registry per operator; its series read the parts below when /metrics is scraped (server/metrics.ts).
  const metrics = new Metrics({
    containerStats: (ids) => runtime.containerStats(ids), access: () => accessSnapshot([proxies.paths])(), autoscale: () => autoscaler.status(), logs: () => logs.report(),
    usageIntervalMs: usageIntervalFor(s.seriesStepMs, USAGE_INTERVAL_MS),
  });
  const [git, engines] = await Promise.all([connectSource(s), connectEngine(s, s.nodeGraceMs, log, () => wake('node state changed'), images)]);
  const source = timedSource(git, (seconds, err) => metrics.recordFetch(seconds, err));
  const { docker, runtime, pool } = engines;
  pool.start();
  const listeners = new OperatorListeners();
  const alerter = s.alertWebhooks.length ? createAlerter({ urls: s.alertWebhooks, muteMs: s.alertMuteMs, log, instance: s.instance }) : null;
  const limits = trafficLimits(s.traffic, log); // the API server's budget; the proxy process gets the rest (dataplane.ts)
  const registry = new Registry({});
  const proxies = dataplaneOf(s, registry, log, limits); // the data plane is its own process: it outlives this one
  // A new proxy process takes seconds to load: it starts beside the first pass, which does not wait for it (listeners
  // get their configuration once it answers); runOperator still returns with it answering.
  const dataplaneStarted = proxies.start();
  dataplaneStarted.catch(() => undefined);
  const drainer = createDrainer({ registry, openTo: (address) => proxies.openTo(address), settled: () => proxies.flush(), timeoutMs: s.drainTimeoutMs, log: (msg, fields) => log.info(msg, fields) });
  const monitor = createMonitor(s.stateDir, runtime, log, (c) => listeners.onHealthChange(c), (p) => metrics.recordProbe(p));
  // Every managed container's output and berth's events, in the store under --state-dir (logs/service.ts).
  const logs = new Logs({ stateDir: s.stateDir, instance: s.instance, runtime, log, redact: (t) => redact.text(t), ...s.logs, ...(hooks.now ? { now: () => hooks.now!().getTime() } : {}) });
  listeners.onPass(logs).onEvent(logs).onHealth(logs);
  const github = s.github ? createGitHubClient({ ...s.github, log }) : null;
  const sync = github ? new SyncReporter({ github, instance: s.instance, log }) : null;
  const cluster = clusterOf(pool, runtime, { usage: (ids) => runtime.memoryUsage(ids), memoryHighMark: s.memoryHighMark, settle: () => pool.settleNew() });
  const autoscaler = new Autoscaler({
    stats: (ids) => runtime.containerStats(ids), traffic: () => fetchAccess(proxies.paths), health: (id) => monitor.health(id),
    trigger: wake, log, intervalMs: s.autoscaleIntervalMs,
  });
  autoscaler.start();
  // Requests the proxy process holds for a service at zero wake it at once (long poll on its control socket).
  const wakeups = watchWakeups(proxies.paths, (services) => autoscaler.wake(services));
  // berth pause-drift: per-Service pauses of drift correction, kept under --state-dir (healing/drift-pause.ts).
  const driftPauses = DriftPauses.open(s.stateDir, s.instance, log);
  const rec = reconciler(s, source, runtime, log, {
    keepLastGood: true, drift: s.drift, statusIntervalMs: s.statusIntervalMs, monitor, cluster, redact, images, secrets: secretStore(s, redact), autoscaler,
    notify: (e) => listeners.onReconcilerEvent(e), beforeStop: (id) => drainer.drain(id), onLateFetch: () => wake('late fetch finished'),
    ...(hooks.now ? { now: hooks.now } : {}), logsStatus: () => logs.statusSection(), driftPauses,
  });
  const planner = plannerOf(s, source, engines, images);
  const plans = new DashboardPlans({ planner, plans: new RevisionPlans({ source, instance: s.instance, log, redact: (t) => redact.text(t) }), status: () => rec.status, redact: (t) => redact.text(t), ...(s.github ? { githubRepo: s.github.repo } : {}) });
  listeners.onEvent(plans);
  const changes = new Set<(topic: string) => void>(); // what the dashboard reads again that the status does not carry
  const onRound = (r: RoundReport, reason: string) => { plans.onRound(r); for (const fn of changes) fn('reviews'); hooks.onReview?.(r, reason); };
  const reviews = github || s.reviewBranches.length ? startReviews(s, planner, log, { github, sync, onRound }) : null;
  const gc = startGc({ runtime: createDockerGc(docker), instance: s.instance, log, schedule: s.gcSchedule, protect: (id) => rec.protects(id), pulledRepositories: () => rec.pulledRepositories() });
  const ttlTimer = setInterval(() => registry.tick(), 1000);
  ttlTimer.unref();
  listeners.onPass(security.auditListener);
  const imageUpdates = s.imageUpdates === 'off' ? null : startImageUpdates({
    source, branch: s.branch, lister: images.client, log, mode: s.imageUpdates, ...(github ? { github } : {}),
  }, wake);
  if (imageUpdates) listeners.onPass(imageUpdates);
  registerListeners(listeners, { log, wake, registry: registryListener(registry, drainer, monitor), alerter, redact, sync, reviews, metrics, drainer, proxies, hooks });
  // after the registry listener: the first applied revision tells the registry which services take external endpoints
  const externals = persistExternals(registry, externalsFile(s.stateDir, s.instance), log);
  listeners.onPass({ afterPass: (r) => { if (r.desired && r.observed) void externals.restore(); } });
  const started = startLoop(rec, { intervalMs: s.intervalMs, log, runtime, instance: s.instance, ...(hooks.now ? { now: () => hooks.now!().getTime() } : {}), onPass: (r, trigger, ms) => listeners.afterPass(r, trigger, ms) });
  loop = started;
  const closers = new Closers().add(
    closer(() => pool.stop()), closer(() => wakeups.stop()), closer(() => autoscaler.stop()), closer(() => started.stop()), closer(() => rec.flushStatus()), closer(() => plans.idle()), closer(() => reviews?.stop()), closer(() => sync?.idle()),
    closer(() => proxies.close()), closer(() => monitor.stop()), closer(() => imageUpdates?.stop()), closer(() => gc.stop()), closer(() => clearInterval(ttlTimer)), closer(() => externals.close()), closer(() => security.close()), closer(() => logs.stop()),
  );
  const runJob = runJobDeps(rec, listeners, (reason) => started.trigger(reason));
  const statusWatch = statusWatchDeps(rec, listeners, changes);
  const history = historyRoute({ read: (limit) => historyFrom(git, s.instance, limit) });
  // GET /v1/series: every --series-step a point per Service from the sources /metrics reads (metrics/series.ts).
  const seriesSampler = new SeriesSampler({
    services: () => Object.keys(rec.status?.services ?? {}), access: accessSnapshot([proxies.paths]),
    usage: async () => ((await metrics.usage?.current()) ?? []).map(([t, stats]) => ({ id: t.id, service: t.labels.service, stats })),
  }, { stepMs: s.seriesStepMs });
  seriesSampler.start();
  closers.add(closer(() => seriesSampler.stop()));
  const series = seriesRoute({ series: (key, sinceMs) => seriesSampler.series(key, sinceMs), known: (key) => rec.status?.services[key] !== undefined, stepMs: s.seriesStepMs });
  const plansApi = plansRoute({ recorded: (rev) => plans.recorded(rev), head: () => plans.headPlan(), reviews: () => plans.reviews() });
  const driftPause = { store: driftPauses, hasService: (key: string) => rec.hasService(key), trigger: (reason: string) => started.trigger(reason), event: (e: Parameters<Logs['action']>[0]) => logs.action(e) };
  const server = await serve(s, { log, metrics, runJob, driftPause, action: (e) => logs.action(e), statusWatch, history, series, plans: plansApi, commits: commitRoute((sha) => git.commitInfo(sha)), ui: uiFiles(), logs: { store: () => logs.openStore(), followers: new ClientSlots(64, 8) }, status: () => rec.status, trigger: webhookTrigger(started, reviews, s.reviewBranches.length > 0), routes: withProxyRoute(registryRoutes(registry, limits.registry), proxies), limits: { ...limits.server, gates: () => [...limits.server.gates(), ...proxies.gates()] }, guard: security.guard, audit: security.audit, tls: security.tls }, closers);
  closers.add(closer(() => server.close()));
  try {
    await dataplaneStarted;
  } catch (err) {
    await closers.close();
    throw err;
  }
  log.info('berth running', { repo: source.description, branch: s.branch, path: s.manifests.path, instance: s.instance, interval: formatDuration(s.intervalMs), listen: server.url, drift: s.drift });
  return {
    url: server.url,
    reconciler: rec,
    trigger: (reason) => started.trigger(reason),
    async reviewIdle() {
      await sync?.idle();
      await reviews?.idle();
    },
    stop: () => closers.close(),
  };
}

interface Parts {
  log: Logger;
  wake: (reason: string) => void;
  registry: PassListener & HealthListener;
  alerter: Alerter | null;
  redact: Redactor;
  sync: SyncReporter | null;
  reviews: ReviewRunner | null;
  metrics: Metrics;
  drainer: Drainer;
  proxies: Dataplane;
  hooks: OperatorHooks;
}

/** The adapters of the parts, in the order each hears a health change, a reconciler event and a pass. */
function registerListeners(listeners: OperatorListeners, p: Parts): void {
  const alerts = p.alerter ? [alertListener(p.alerter, p.redact)] : [];
  const sync = p.sync ? [syncReportListener(p.sync)] : [];
  listeners.onHealth(healthLogListener(p.log), p.registry, healthWakeListener(p.wake), ...alerts);
  listeners.onEvent(...alerts, ...sync);
  listeners.onPass(metricsListener(p.metrics), drainListener(p.drainer), p.registry, proxiesListener(p.proxies), ...sync);
  if (p.reviews) listeners.onPass(appliedRevisionWatch(reviewListener(p.reviews)));
  listeners.onPass({ afterPass: (r, trigger) => p.hooks.onPass?.(r, trigger) });
}

/** The review runner: pull request plans (with --github-repo) and plain-git review branches. */
function startReviews(s: RunSettings, planner: PlannerDeps, log: Logger, extra: { github: GitHubClient | null; sync: SyncReporter | null; onRound: OperatorHooks['onReview'] }): ReviewRunner {
  const reviewer = new Reviewer({ ...planner, log, github: extra.github ?? undefined, reviewBranches: s.reviewBranches, baseBranch: s.branch });
  return startReviewRunner(reviewer, log, { onRound: extra.onRound, before: async () => extra.sync?.idle(), intervalMs: s.intervalMs });
}

/** How review rounds and the dashboard's head plan plan a revision: like `berth plan`, against the engines in force. */
function plannerOf(s: RunSettings, source: GitSource, { runtime, pool }: Engines, images: ImageAccess): PlannerDeps {
  return {
    source, runtime, instance: s.instance,
    load: (snapshot) => loadDesired(snapshot, loadOptions(s.manifests, s.instance)),
    // The nodes in force, never a pull request's own Node manifests: planning connects to nothing a head names.
    cluster: async () => clusterView(pool, runtime),
    images: images.resolver,
  };
}

/** GET /v1/status/watch: the status after each pass, to every watcher (the dashboard). */
function statusWatchDeps(rec: Reconciler, listeners: OperatorListeners, changes: Set<(topic: string) => void>): StatusWatchDeps {
  const watchers = new Set<(doc: StatusDoc) => void>();
  listeners.onPass({ afterPass: (r) => { for (const w of watchers) w(r.status); } });
  return {
    current: () => rec.status,
    subscribe: (fn) => {
      watchers.add(fn);
      return () => watchers.delete(fn);
    },
    changes: (fn) => {
      changes.add(fn);
      return () => changes.delete(fn);
    },
    slots: new ClientSlots(64, 16),
  };
}

/** berth run-job (POST /v1/cronjobs/<ns>/<name>/run): asks the reconciler, wakes the loop, waits for a pass that started the run. */
function runJobDeps(rec: Reconciler, listeners: OperatorListeners, trigger: (reason: string) => void): RunJobDeps {
  const waiters = new Set<() => void>();
  listeners.onPass({ afterPass: () => { for (const w of [...waiters]) w(); } });
  return {
    ask: (key) => rec.requestRun(key),
    trigger,
    started: (key, run) => rec.status?.cronJobs?.[key]?.runs.some((r) => r.run === run && r.attempts.length > 0) === true,
    untilPass: (started, ms) => new Promise<boolean>((resolve) => {
      const done = (v: boolean): void => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(v);
      };
      const check = (): void => { if (started()) done(true); };
      const timer = setTimeout(() => done(false), ms);
      waiters.add(check);
    }),
  };
}

/** The HTTP server on --listen; when it cannot listen, everything started so far is closed and the error is E_CONFIG. */
async function serve(s: RunSettings, opts: Omit<ServerDeps, 'webhookSecret'>, closers: Closers): Promise<Server> {
  return startServer(s.listen.host, s.listen.port, { ...opts, webhookSecret: s.webhookSecret }).catch(async (err) => {
    await closers.close();
    throw new BerthError('E_CONFIG', `cannot listen on ${s.listen.address}: ${(err as Error).message}`);
  });
}

/** A pull_request event only asks for a review round; a push also moves review branches (plain git). */
function webhookTrigger(loop: Loop, reviews: ReviewRunner | null, reviewBranches: boolean): (reason: string, event?: string) => void {
  return (reason, event) => {
    if (event === 'pull_request' && reviews) return reviews.trigger(reason);
    loop.trigger(reason);
    if (reviewBranches) reviews?.trigger(reason);
  };
}
