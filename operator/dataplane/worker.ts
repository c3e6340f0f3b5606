/**
 * One worker of a proxy process run with `--proxy-workers N` (N > 1): a node:cluster worker holding its own Registry
 * mirror and ProxyManager over the same listeners as its siblings (cluster shares the listening sockets). It has no
 * control socket, pid file or persisted file: the primary owns those and sends it every configuration over IPC, and
 * it answers the primary's queries. It exits when the primary tells it to or when the IPC channel closes (the primary
 * died): a worker nobody supervises must not hold the ports.
 */
import { accessSnapshot } from '../proxy/access-stats.ts';
import { ProxyManager } from '../proxy/proxies.ts';
import { wakeSignals } from '../proxy/wake.ts';
import { Registry } from '../registry/registry.ts';
import { ConnectionGuard } from '../server/conn-guard.ts';
import { connectionBudget, readNoFileLimit } from '../server/fd-budget.ts';
import type { Logger } from '../util/log.ts';
import { DataplaneMirror } from './mirror.ts';
import type { DataplaneConfig, ProxySettings } from './protocol.ts';

/** What the primary asks a worker; `id` pairs the answer with the question. */
export type ToWorker =
  | { id: number; op: 'config'; config: DataplaneConfig }
  | { id: number; op: 'connections'; address: string }
  | { id: number; op: 'listeners' }
  | { id: number; op: 'metrics' }
  | { id: number; op: 'close' };

/** A worker's answer (`id` 0 with `ready` once it listens for questions, or with `wake`: a request waits for that service). */
export interface FromWorker {
  id: number;
  ready?: boolean;
  wake?: string;
  ok?: boolean;
  value?: unknown;
  error?: string;
}

/** How often listeners that could not open are tried again (as the single-process data plane does). */
const RETRY_MS = 2_000;

/** Runs the worker until the primary closes it; resolves once its listeners are closed. */
export function runProxyWorker(s: ProxySettings, log: Logger): Promise<void> {
  // `auto` is a budget of this process's descriptors; an explicit count is the whole proxy process's, split over the workers.
  const maxConnections = s.maxConnections === 'auto' ? connectionBudget(readNoFileLimit()) : Math.max(1, Math.floor(s.maxConnections / s.workers));
  const guard = new ConnectionGuard({ maxConnections, maxPerClient: Math.min(s.maxConnectionsPerClient, maxConnections) });
  const registry = new Registry();
  const proxies = new ProxyManager({ registry, defaultHost: s.proxyHost, log, guard, idleTimeoutMs: s.idleTimeoutMs });
  const mirror = new DataplaneMirror(registry, proxies, '', log);
  const send = (m: FromWorker): void => {
    if (process.connected) process.send!(m);
  };
  // Held requests' wakes go to the primary, which answers GET /wakeups for every worker.
  wakeSignals.sink = (service) => send({ id: 0, wake: service });
  // A Ctrl-C reaches the whole process group: the primary decides when the workers stop, not the terminal.
  process.on('SIGINT', () => undefined);
  const timer = setInterval(() => void mirror.retryFailed(), RETRY_MS);
  return new Promise<void>((resolve) => {
    let closing = false;
    const close = async (): Promise<void> => {
      if (closing) return;
      closing = true;
      clearInterval(timer);
      await proxies.close();
      resolve();
    };
    process.on('message', (m: ToWorker) => {
      void answer(m).then((value) => send({ id: m.id, ok: true, value }), (err: unknown) => send({ id: m.id, ok: false, error: String(err) }));
    });
    process.once('disconnect', () => void close());
    async function answer(m: ToWorker): Promise<unknown> {
      if (m.op === 'config') {
        await mirror.apply(m.config, false);
        return proxies.list().length;
      }
      if (m.op === 'connections') return proxies.openTo(m.address);
      if (m.op === 'listeners') return { listeners: proxies.list(), gates: guard.stats().listeners };
      if (m.op === 'metrics') return accessSnapshot();
      await close();
      return null;
    }
    send({ id: 0, ready: true });
  });
}
