/**
 * The control server of a proxy process: HTTP on the unix socket `<state-dir>/proxy-<instance>.sock` (mode 0600).
 * Every request carries the key of `<state-dir>/proxy-<instance>.key`, checked before anything is read: the socket's
 * mode alone is not enough when several users share a state dir. Bodies are bounded in size, count and time, and a
 * request as a whole by the server's request timeout, like every listener of berth. `GET /wakeups?wait=<ms>` is a
 * long poll (at most MAX_WAKE_WAIT_MS) for the services a held request waits for (operator/proxy/wake.ts).
 */
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { accessSnapshot } from '../proxy/access-stats.ts';
import { send } from '../registry/http-util.ts';
import { answerRefusal, BodyReader } from '../server/body-reader.ts';
import type { GateStats } from '../server/conn-guard.ts';
import type { ListenerInfo } from '../proxy/proxies.ts';
import type { Logger } from '../util/log.ts';
import { MAX_WAKE_WAIT_MS, wakeSignals, type WakeSignals } from '../proxy/wake.ts';
import { CONTROL_TIMEOUT_MS, KEY_HEADER, MAX_CONFIG_BYTES, checkConfig, keyHeader, type DataplaneConfig, type DataplaneHealth, type WakeupsAnswer } from './protocol.ts';

export interface ControlDeps {
  socket: string;
  key: string;
  log: Logger;
  /** Applies a configuration; resolves once the listeners follow it. */
  apply(config: DataplaneConfig): Promise<void>;
  list(): ListenerInfo[] | Promise<ListenerInfo[]>;
  openTo(address: string): number | Promise<number>;
  gates(): GateStats[] | Promise<GateStats[]>;
  /** Per-worker listener stats of a proxy process with cluster workers (absent without workers). */
  workers?(): Promise<unknown[]>;
  /** The access counters summed over the cluster workers (absent without workers: this process's own are answered). */
  metrics?(): Promise<unknown>;
  health(): DataplaneHealth;
  /** Where `GET /wakeups` waits; default the process's table (wake.ts), which cluster workers report to as well. */
  wakes?: WakeSignals;
}

export interface ControlServer {
  close(): Promise<void>;
}

/** At most this many control connections at once (one operator uses one or two). */
const MAX_CONTROL_CONNECTIONS = 16;

/** Listens on the socket (a stale socket file of a dead process is replaced; the caller checked nothing answers). */
export async function startControlServer(deps: ControlDeps): Promise<ControlServer> {
  const bodies = new BodyReader({ maxBodies: 2, maxBodiesPerClient: 2, maxBufferedBytes: 2 * MAX_CONFIG_BYTES, timeoutMs: CONTROL_TIMEOUT_MS });
  const expected = Buffer.from(keyHeader(deps.key));
  const wakes = deps.wakes ?? wakeSignals;
  const server = http.createServer({ requestTimeout: CONTROL_TIMEOUT_MS, headersTimeout: CONTROL_TIMEOUT_MS / 2 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.log.error('proxy control request failed', { url: req.url, error: String(err) });
      send(res, 500, { error: 'internal error' });
    });
  });
  server.maxConnections = MAX_CONTROL_CONNECTIONS;
  server.keepAliveTimeout = 1_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const given = Buffer.from(String(req.headers[KEY_HEADER] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.setHeader('connection', 'close');
      return send(res, 401, { error: 'the proxy control key is missing or wrong', code: 'E_UNAUTHORIZED' });
    }
    const url = new URL(req.url ?? '/', 'http://proxy');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /healthz') return send(res, 200, deps.health());
    if (route === 'GET /metrics') return send(res, 200, deps.metrics ? await deps.metrics() : accessSnapshot());
    if (route === 'GET /listeners') return send(res, 200, { listeners: await deps.list(), gates: await deps.gates(), ...(deps.workers ? { workers: await deps.workers() } : {}) });
    if (route === 'GET /connections') {
      const address = url.searchParams.get('address');
      if (!address || address.length > 300) return send(res, 400, { error: 'address=host:port is required' });
      return send(res, 200, { address, open: await deps.openTo(address) });
    }
    if (route === 'PUT /config') return putConfig(req, res);
    if (route === 'GET /wakeups') return wakeups(url, res);
    send(res, 404, { error: `no route ${route}` });
  }

  /**
   * Long poll: answers `{ services }` as soon as a service has a pending wake, or `{ services: [] }` after `wait` ms
   * (at most MAX_WAKE_WAIT_MS; 0 or absent: at once). A poller that leaves first takes nothing.
   */
  async function wakeups(url: URL, res: ServerResponse): Promise<void> {
    const raw = url.searchParams.get('wait');
    const wait = raw === null ? 0 : Number(raw);
    if (!Number.isFinite(wait) || wait < 0) return send(res, 400, { error: 'wait must be a number of milliseconds >= 0' });
    const poll = wakes.wait(Math.min(wait, MAX_WAKE_WAIT_MS));
    res.once('close', poll.cancel);
    const services = await poll.services;
    res.off('close', poll.cancel);
    if (res.destroyed) {
      for (const service of services) wakes.note(service); // taken for a poller that left meanwhile: pending again
      return;
    }
    const answer: WakeupsAnswer = { services };
    send(res, 200, answer);
  }

  async function putConfig(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await bodies.read(req, MAX_CONFIG_BYTES);
    if (!body.ok) return answerRefusal(res, body);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.body.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'invalid JSON' });
    }
    const checked = checkConfig(parsed);
    if (!checked.ok) return send(res, 400, { error: checked.error });
    await deps.apply(checked.config);
    send(res, 200, { listeners: (await deps.list()).length });
  }

  await fs.rm(deps.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.socket, () => { server.off('error', reject); resolve(); });
  });
  await fs.chmod(deps.socket, 0o600);
  return {
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
