/**
 * The proxy process (`berth proxy`): the data plane of one instance, apart from the operator so that stopping,
 * upgrading or killing the operator leaves every published port and Route serving. It serves the persisted
 * configuration at once, then whatever an operator pushes on the control socket. It stops on SIGTERM/SIGINT, and on
 * its own when its pid file no longer names it (the state dir was removed, or another proxy process took over): a
 * proxy nobody can find any more would only hold ports.
 */
import fs from 'node:fs/promises';
import { BerthError } from '../model/errors.ts';
import { ProxyManager } from '../proxy/proxies.ts';
import { Registry } from '../registry/registry.ts';
import { ConnectionGuard } from '../server/conn-guard.ts';
import { connectionBudget, readNoFileLimit } from '../server/fd-budget.ts';
import type { ProxySettings } from '../settings/proxy-settings.ts';
import type { Logger } from '../util/log.ts';
import { controlRequest } from './control-client.ts';
import { startControlServer } from './control-server.ts';
import { alive, ensureKey, readPid, writeAtomic } from './files.ts';
import { DataplaneMirror } from './mirror.ts';
import { dataplanePaths, socketPathProblem, type DataplaneHealth, type DataplanePaths } from './protocol.ts';

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
  const maxConnections = s.maxConnections === 'auto' ? connectionBudget(readNoFileLimit()) : s.maxConnections;
  const guard = new ConnectionGuard({ maxConnections, maxPerClient: Math.min(s.maxConnectionsPerClient, maxConnections) });
  const registry = new Registry();
  const proxies = new ProxyManager({ registry, defaultHost: s.proxyHost, log, guard, idleTimeoutMs: s.idleTimeoutMs });
  const mirror = new DataplaneMirror(registry, proxies, paths.config, log);
  await writeAtomic(paths.pid, String(process.pid)); // before the socket answers: whoever sees it answer finds this pid
  await mirror.load();
  const startedAt = new Date().toISOString();
  const settings = { proxyHost: s.proxyHost, idleTimeoutMs: s.idleTimeoutMs, maxConnections: s.maxConnections, maxConnectionsPerClient: s.maxConnectionsPerClient };
  const health = (): DataplaneHealth => ({ pid: process.pid, instance: s.instance, settings, startedAt, configuredAt: mirror.since(), listeners: proxies.list().length });
  const control = await startControlServer({
    socket: paths.socket, key, log, apply: (c) => mirror.apply(c), list: () => proxies.list(), openTo: (a) => proxies.openTo(a),
    gates: () => guard.stats().listeners, health,
  }).catch(async (err: unknown) => {
    await proxies.close(); // a data plane no operator can reach must not hold the ports
    throw err;
  });
  log.info('proxy process running', { instance: s.instance, pid: process.pid, socket: paths.socket, maxConnections, listeners: proxies.list().length });
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      void readPid(paths.pid).then((pid) => {
        if (pid !== process.pid) return resolve(`the pid file ${paths.pid} no longer names this process`);
        return mirror.retryFailed();
      });
    }, PID_CHECK_MS);
  });
  return {
    done,
    async close() {
      clearInterval(timer);
      await control.close();
      await proxies.close();
      if ((await readPid(paths.pid)) === process.pid) await Promise.all([fs.rm(paths.pid, { force: true }), fs.rm(paths.socket, { force: true })]);
      log.info('proxy process stopped', { instance: s.instance, pid: process.pid });
    },
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
