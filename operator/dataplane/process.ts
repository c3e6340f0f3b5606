/**
 * The proxy process (`berth proxy`): the data plane of one instance, apart from the operator so that stopping,
 * upgrading or killing the operator leaves every published port and Route serving. It serves the persisted
 * configuration at once, then whatever an operator pushes on the control socket. It stops on SIGTERM/SIGINT, and on
 * its own when its pid file no longer names it (the state dir was removed, or another proxy process took over): a
 * proxy nobody can find any more would only hold ports. With --proxy-workers N > 1 the listeners live in N cluster
 * workers (workers.ts) and this process keeps the socket, the pid file and the persisted configuration.
 */
import fs from 'node:fs/promises';
import { BerthError } from '../model/errors.ts';
import { ProxyManager, type ListenerInfo } from '../proxy/proxies.ts';
import { Registry } from '../registry/registry.ts';
import { ConnectionGuard, type GateStats } from '../server/conn-guard.ts';
import { connectionBudget, readNoFileLimit } from '../server/fd-budget.ts';
import type { Logger } from '../util/log.ts';
import { controlRequest } from './control-client.ts';
import { startControlServer } from './control-server.ts';
import { alive, ensureKey, readPid, writeAtomic } from './files.ts';
import { DataplaneMirror, readConfigFile } from './mirror.ts';
import { dataplanePaths, socketPathProblem, type DataplaneConfig, type DataplaneHealth, type DataplanePaths, type ProxySettings } from './protocol.ts';
import { WorkerPool } from './workers.ts';

export interface DataplaneProcess {
  /** Resolves with the reason when the process should stop on its own. */
  done: Promise<string>;
  close(): Promise<void>;
}

/** How often the pid file is checked (and listeners that could not open are tried again). */
const PID_CHECK_MS = 2_000;

/** Starts the data plane in this process; E_CONFIG when a proxy process of the instance already answers. */
export async function startDataplaneProcess(s: ProxySettings, log: Logger): Promise<DataplaneProcess> {
  process.umask(0o077); // the socket, pid and config files are the user's alone from the moment they exist
  const paths = dataplanePaths(s.stateDir, s.instance);
  const problem = socketPathProblem(paths);
  if (problem) throw new BerthError('E_CONFIG', problem);
  const key = await ensureKey(paths.key);
  const running = await answering(paths, key);
  if (running) throw new BerthError('E_CONFIG', `a proxy process of instance ${s.instance} is already running (pid ${running.pid})`);
  await writeAtomic(paths.pid, String(process.pid)); // before the socket answers: whoever sees it answer finds this pid
  const core = s.workers > 1 ? await clusterCore(s, paths.config, log) : await singleCore(s, paths.config, log);
  const startedAt = new Date().toISOString();
  const settings = { proxyHost: s.proxyHost, idleTimeoutMs: s.idleTimeoutMs, maxConnections: s.maxConnections, maxConnectionsPerClient: s.maxConnectionsPerClient };
  const health = (): DataplaneHealth => ({
    pid: process.pid, instance: s.instance, settings, startedAt, configuredAt: core.since(), listeners: core.listenerCount(), workers: core.workers(),
  });
  const control = await startControlServer({
    socket: paths.socket, key, log, apply: (c) => core.apply(c), list: () => core.list(), openTo: (a) => core.openTo(a), gates: () => core.gates(), health,
    ...(core.workerStats ? { workers: core.workerStats } : {}), ...(core.metrics ? { metrics: core.metrics } : {}),
  }).catch(async (err: unknown) => {
    await core.close(); // a data plane no operator can reach must not hold the ports
    throw err;
  });
  log.info('proxy process running', { instance: s.instance, pid: process.pid, socket: paths.socket, workers: core.workers(), listeners: core.listenerCount() });
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      void readPid(paths.pid).then((pid) => {
        if (pid !== process.pid) return resolve(`the pid file ${paths.pid} no longer names this process`);
        return core.retryFailed();
      });
    }, PID_CHECK_MS);
  });
  return {
    done,
    async close() {
      clearInterval(timer);
      await control.close();
      await core.close();
      if ((await readPid(paths.pid)) === process.pid) await Promise.all([fs.rm(paths.pid, { force: true }), fs.rm(paths.socket, { force: true })]);
      log.info('proxy process stopped', { instance: s.instance, pid: process.pid });
    },
  };
}

/** What serves the listeners: one ProxyManager in this process, or a pool of cluster workers (--proxy-workers > 1). */
interface Core {
  apply(config: DataplaneConfig): Promise<void>;
  list(): ListenerInfo[] | Promise<ListenerInfo[]>;
  openTo(address: string): number | Promise<number>;
  gates(): GateStats[] | Promise<GateStats[]>;
  since(): string | null;
  /** Listeners open or failed (sync: /healthz must answer even when a worker is slow). */
  listenerCount(): number;
  /** The worker pids; empty when this process serves the listeners itself. */
  workers(): number[];
  /** Each worker's pid and listener stats (cluster only). */
  workerStats?: () => Promise<unknown[]>;
  /** The workers' access counters added up (cluster only). */
  metrics?: () => Promise<unknown>;
  retryFailed(): Promise<void>;
  close(): Promise<void>;
}

/** The listeners in this process, serving the persisted configuration at once (`--proxy-workers 1`, as before workers). */
async function singleCore(s: ProxySettings, file: string, log: Logger): Promise<Core> {
  const maxConnections = s.maxConnections === 'auto' ? connectionBudget(readNoFileLimit()) : s.maxConnections;
  const guard = new ConnectionGuard({ maxConnections, maxPerClient: Math.min(s.maxConnectionsPerClient, maxConnections) });
  const registry = new Registry();
  const proxies = new ProxyManager({ registry, defaultHost: s.proxyHost, log, guard, idleTimeoutMs: s.idleTimeoutMs });
  const mirror = new DataplaneMirror(registry, proxies, file, log);
  await mirror.load();
  return {
    apply: (c) => mirror.apply(c), list: () => proxies.list(), openTo: (a) => proxies.openTo(a), gates: () => guard.stats().listeners,
    since: () => mirror.since(), listenerCount: () => proxies.list().length, workers: () => [], retryFailed: () => mirror.retryFailed(), close: () => proxies.close(),
  };
}

/** N cluster workers serving the same listeners; this process keeps the configuration and its file. */
async function clusterCore(s: ProxySettings, file: string, log: Logger): Promise<Core> {
  const pool = new WorkerPool(s.workers, log);
  const initial = await readConfigFile(file, log);
  await pool.start(initial);
  let configuredAt = initial ? new Date() : null;
  if (initial) log.info('proxy: serving the persisted configuration', { file, workers: pool.pids().length });
  let queue: Promise<void> = Promise.resolve();
  return {
    apply(config) {
      const run = async (): Promise<void> => {
        await pool.apply(config);
        configuredAt = new Date();
        await writeAtomic(file, JSON.stringify(config));
      };
      queue = queue.then(run, run);
      return queue;
    },
    workerStats: async () => (await pool.stats()).map((w) => ({ pid: w.pid, listeners: w.listeners.map((l) => ({ address: l.address, stats: l.stats })) })),
    metrics: () => pool.metrics(),
    list: () => pool.list(), openTo: (a) => pool.openTo(a), gates: () => pool.gates(),
    since: () => configuredAt?.toISOString() ?? null, listenerCount: () => pool.listenerCount(), workers: () => pool.pids(),
    retryFailed: () => Promise.resolve(), // each worker retries its own failed listeners
    close: () => pool.close(),
  };
}

/** The health of the proxy process answering on the socket with `key`, or null when none answers. */
export async function answering(paths: DataplanePaths, key: string, timeoutMs = 2_000): Promise<DataplaneHealth | null> {
  try {
    const r = await controlRequest({ socket: paths.socket, key }, 'GET', '/healthz', undefined, timeoutMs);
    return r.status === 200 ? (r.body as DataplaneHealth) : null;
  } catch {
    return null;
  }
}

/**
 * `berth proxy --stop`: SIGTERM to the pid of the pid file, only after the process on the socket confirmed that pid
 * (a stale pid file must never kill an unrelated process that got the same pid), then waits for it to exit.
 */
export async function stopDataplaneProcess(s: ProxySettings, timeoutMs = 10_000): Promise<{ outcome: 'stopped' | 'none' | 'refused'; message: string }> {
  const paths = dataplanePaths(s.stateDir, s.instance);
  const pid = await readPid(paths.pid);
  if (pid === null || !alive(pid)) return { outcome: 'none', message: `no proxy process of instance ${s.instance} is running` };
  const health = await answering(paths, await ensureKey(paths.key));
  if (health?.pid !== pid) return { outcome: 'refused', message: `pid ${pid} of ${paths.pid} does not answer as the proxy process; not signalled` };
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) return { outcome: 'refused', message: `proxy process ${pid} did not exit within ${timeoutMs} ms` };
  return { outcome: 'stopped', message: `proxy process ${pid} stopped` };
}
