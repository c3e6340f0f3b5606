/**
 * The operator's handle on its data plane, the proxy process of the instance: attaches to the one already running
 * (restarting the operator never restarts the proxies) or starts one detached; pushes the full configuration (listener
 * inputs of the last pass, endpoints of the registry) after each pass and each registry change, debounced, coalesced,
 * one request in flight; supervises it: a process that stops answering is replaced, with backoff, and gets the
 * configuration again. Closing the handle leaves the process running: it is the data plane.
 */
import path from 'node:path';
import type { ListenerInfo, ListenerInputs } from '../proxy/proxies.ts';
import type { Registry } from '../registry/registry.ts';
import type { GateStats } from '../server/conn-guard.ts';
import type { Logger } from '../util/log.ts';
import { controlRequest, type ControlTarget } from './control-client.ts';
import { alive, ensureKey, isProxyProcess } from './files.ts';
import { launchProxy } from './launch.ts';
import { answering } from './process.ts';
import { dataplanePaths, proxyArgs, settingsDiff, socketPathProblem, type DataplaneConfig, type DataplaneHealth, type DataplanePaths, type ProxyProcessSettings } from './protocol.ts';

export type DataplaneState = 'starting' | 'running' | 'restarting';

/** What `GET /v1/proxies` says of the proxy process. */
export interface DataplaneInfo {
  pid: number | null;
  state: DataplaneState;
  /** Times the operator had to start it again after it stopped answering. */
  restarts: number;
  socket: string;
  /** The last failure to reach or start it, while it is not running. */
  error?: string;
}

export interface DataplaneOptions {
  stateDir: string;
  instance: string;
  registry: Registry;
  log: Logger;
  /** The settings the proxy process is started with (an attached one running with others is warned about). */
  settings: ProxyProcessSettings;
  /** More flags of `berth proxy` (logging). */
  args?: string[];
  /** Changes within this long go out in one push; default 5 ms. */
  debounceMs?: number;
  /** Health check period; default 500 ms. */
  checkMs?: number;
  /** A started process must answer within this long; default 15 s. */
  startTimeoutMs?: number;
  /** Starts the process; default launchProxy (detached). */
  launch?: (args: string[], logFile: string) => Promise<number>;
}

/** Consecutive unanswered health checks after which a living process is taken for hung and replaced. */
const MAX_MISSES = 3;
const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000];
/** flush() waits at most this long: a drain must never hang on a dead data plane. */
const FLUSH_TIMEOUT_MS = 5_000;

export class Dataplane {
  readonly paths: DataplanePaths;
  private target!: ControlTarget;
  private desired: ListenerInputs | null = null;
  private generation = 0;
  private acked = 0;
  private timer: NodeJS.Timeout | null = null;
  private inflight = false;
  private waiters: { generation: number; resolve: () => void }[] = [];
  private pid: number | null = null;
  private state: DataplaneState = 'starting';
  private restarts = 0;
  private misses = 0;
  private error: string | undefined;
  private gateStats: GateStats[] = [];
  private recovering: Promise<void> | null = null;
  private checkTimer: NodeJS.Timeout | undefined;
  private unsubscribe: () => void = () => {};
  private closed = false;
  /** A health check is running (a slow answer must not start a second one that counts the same miss). */
  private checking = false;

  constructor(private readonly opts: DataplaneOptions) {
    this.paths = dataplanePaths(opts.stateDir, opts.instance);
  }

  /** Attaches to or starts the proxy process (bounded wait; on failure the supervisor keeps trying) and starts supervising. */
  async start(): Promise<void> {
    this.target = { socket: this.paths.socket, key: await ensureKey(this.paths.key) };
    this.unsubscribe = this.opts.registry.subscribe(() => this.changed());
    try {
      await this.connect();
    } catch (err) {
      this.error = (err as Error).message;
      this.opts.log.error('proxy process not running; retrying', { error: this.error, log: this.paths.log });
      void this.recover();
    }
    this.checkTimer = setInterval(() => void this.check(), this.opts.checkMs ?? 500);
    this.checkTimer.unref();
  }

  /** The listener inputs of a pass: pushed with the registry's endpoints (nothing is pushed before the first). */
  setDesired(desired: ListenerInputs): void {
    this.desired = { services: desired.services, routes: desired.routes };
    this.changed();
  }

  /** Resolves once every change made before the call reached the proxy process (at most FLUSH_TIMEOUT_MS). */
  flush(): Promise<void> {
    if (this.acked >= this.generation || this.desired === null) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { generation: this.generation, resolve: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      }, FLUSH_TIMEOUT_MS);
      this.waiters.push(waiter);
    });
  }

  /** The listeners of the proxy process; empty while it does not answer. */
  async list(): Promise<ListenerInfo[]> {
    try {
      const r = await controlRequest(this.target, 'GET', '/listeners', undefined, 2_000);
      return r.status === 200 ? (r.body as { listeners: ListenerInfo[] }).listeners : [];
    } catch {
      return [];
    }
  }

  /** Connections/requests the proxy process has open to `address`; 0 when it does not answer (nothing is open then). */
  async openTo(address: string): Promise<number> {
    try {
      const r = await controlRequest(this.target, 'GET', `/connections?address=${encodeURIComponent(address)}`, undefined, 2_000);
      return r.status === 200 ? Number((r.body as { open: number }).open) || 0 : 0;
    } catch {
      return 0;
    }
  }

  /** The connection gates of the proxy's listeners as of the last health check (for /metrics). */
  gates(): GateStats[] {
    return this.gateStats;
  }

  info(): DataplaneInfo {
    return { pid: this.pid, state: this.state, restarts: this.restarts, socket: this.paths.socket, ...(this.state !== 'running' && this.error ? { error: this.error } : {}) };
  }

  /** Stops pushing and supervising. The proxy process keeps serving. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    clearInterval(this.checkTimer);
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w.resolve();
    await this.recovering?.catch(() => undefined);
    if (this.pid !== null) this.opts.log.info('proxy process keeps serving', { pid: this.pid, stop: `berth proxy --stop --state-dir ${path.resolve(this.opts.stateDir)} --instance ${this.opts.instance}` });
  }

  private changed(): void {
    this.generation++;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.inflight || this.closed || this.desired === null || this.state !== 'running') return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inflight = true;
      void this.push().finally(() => {
        this.inflight = false;
        if (this.generation > this.acked) this.schedule();
      });
    }, this.opts.debounceMs ?? 5);
  }

  private async push(): Promise<void> {
    const generation = this.generation;
    try {
      const r = await controlRequest(this.target, 'PUT', '/config', this.config());
      if (r.status !== 200) throw new Error(`PUT /config answered ${r.status}: ${JSON.stringify(r.body)}`);
      this.acked = generation;
      for (const w of [...this.waiters]) if (w.generation <= generation) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(); }
    } catch (err) {
      this.opts.log.error('proxy process: configuration not delivered', { error: (err as Error).message });
      void this.check();
    }
  }

  private config(): DataplaneConfig {
    const d = this.desired!;
    // each service's loadBalancer and its ports[].publish (as port, protocol, publish), and its wake (a Route backend
    // that may be at zero is kept for it): nothing else of its spec
    const services = d.services.flatMap((s) => {
      const ports = (s.spec.ports ?? []).filter((p) => p.publish).map((p) => ({ port: p.port, protocol: p.protocol, publish: p.publish }));
      if (!s.spec.loadBalancer && ports.length === 0 && !s.wake) return [];
      const wake = s.wake ? { wake: { queue: s.wake.queue, timeoutMs: s.wake.timeoutMs } } : {};
      return [{ key: s.key, spec: { ...(s.spec.loadBalancer ? { loadBalancer: s.spec.loadBalancer } : {}), ...(ports.length ? { ports } : {}) }, ...wake }];
    });
    const endpoints: DataplaneConfig['endpoints'] = {};
    for (const { name } of this.opts.registry.services()) {
      endpoints[name] = this.opts.registry.endpoints(name).map((e) => ({ id: e.id, address: e.address, port: e.port, weight: e.weight, ready: e.ready, ...(e.source === 'external' ? { external: true as const } : {}) }));
    }
    return { services, routes: [...d.routes], endpoints };
  }

  /** Attaches to the process answering on the socket, or starts one and waits until it answers. */
  private async connect(): Promise<void> {
    const running = await answering(this.paths, this.target.key);
    if (running) return this.attach(running, 'attached');
    const problem = socketPathProblem(this.paths);
    if (problem) throw new Error(problem);
    const pid = await (this.opts.launch ?? launchProxy)(['--state-dir', path.resolve(this.opts.stateDir), '--instance', this.opts.instance, ...proxyArgs(this.opts.settings), ...(this.opts.args ?? [])], this.paths.log);
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 15_000);
    for (;;) {
      const h = await answering(this.paths, this.target.key, 1_000);
      if (h) return this.attach(h, 'started');
      if (!alive(pid)) throw new Error(`proxy process ${pid} exited at start; see ${this.paths.log}`);
      if (Date.now() > deadline) throw new Error(`proxy process ${pid} did not answer within ${this.opts.startTimeoutMs ?? 15_000} ms; see ${this.paths.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private attach(h: DataplaneHealth, how: 'attached' | 'started'): void {
    const changedPid = h.pid !== this.pid;
    this.pid = h.pid;
    this.state = 'running';
    this.misses = 0;
    this.error = undefined;
    if (changedPid) this.opts.log.info(`proxy process ${how}`, { pid: h.pid, socket: this.paths.socket, listeners: h.listeners, configuredAt: h.configuredAt });
    const differ = h.settings ? settingsDiff(h.settings, this.opts.settings) : [];
    if (changedPid && differ.length) {
      this.opts.log.warn('the proxy process runs with other flags than this operator\'s; `berth proxy --stop` once to start it with these', { pid: h.pid, differ: differ.join(','), running: h.settings, wanted: this.opts.settings });
    }
    this.changed(); // a process new to this operator gets the whole configuration
  }

  /** One health check: a new pid is attached (and configured); a dead or hung process is replaced. */
  private async check(): Promise<void> {
    if (this.closed || this.recovering || this.checking || this.state !== 'running') return;
    this.checking = true;
    try {
      await this.checkOnce();
    } finally {
      this.checking = false;
    }
  }

  private async checkOnce(): Promise<void> {
    const h = await answering(this.paths, this.target.key, 1_000);
    if (this.closed || this.recovering) return;
    if (h) {
      if (h.pid !== this.pid) this.attach(h, 'attached');
      this.misses = 0;
      await this.refreshGates();
      return;
    }
    this.misses++;
    const dead = this.pid === null || !alive(this.pid) || !isProxyProcess(this.pid, this.opts.instance);
    if (!dead && this.misses < MAX_MISSES) return;
    if (!dead && this.pid !== null) {
      this.opts.log.error('proxy process does not answer; replacing it', { pid: this.pid });
      try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    } else {
      this.opts.log.error('proxy process gone; starting it again', { pid: this.pid });
    }
    void this.recover();
  }

  private async refreshGates(): Promise<void> {
    try {
      const r = await controlRequest(this.target, 'GET', '/listeners', undefined, 1_000);
      if (r.status === 200) this.gateStats = (r.body as { gates: GateStats[] }).gates ?? [];
    } catch {
      // the next check decides
    }
  }

  /** Starts the process again until it answers, with backoff. */
  private recover(): Promise<void> {
    if (this.recovering) return this.recovering;
    this.state = 'restarting';
    this.recovering = (async () => {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.connect();
          this.restarts++;
          return;
        } catch (err) {
          this.error = (err as Error).message;
          this.opts.log.error('proxy process: start failed; retrying', { attempt: attempt + 1, error: this.error });
          await new Promise((r) => setTimeout(r, BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]));
        }
      }
    })().finally(() => { this.recovering = null; });
    return this.recovering;
  }
}
