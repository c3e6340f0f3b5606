/**
 * The engines berth schedules onto: one ContainerRuntime per node, pinged every `pingMs`. A node that stops
 * answering is `Unknown` at once (its containers are left alone: it may only be slow) and `NotReady` once it stayed
 * silent for `graceMs` (its replicas are rescheduled elsewhere); the first answer makes it `Ready` again. With no Node
 * declared, the pool holds the single node `local` (the --docker engine).
 */
import { asBerthError } from '../model/errors.ts';
import type { NodeSpec } from '../model/manifest.ts';
import type { DesiredNode } from '../model/state.ts';
import type { Logger } from '../util/log.ts';
import type { ContainerRuntime } from './runtime.ts';
import type { EngineCheck } from './engine-check.ts';
import { withDeadline } from '../util/deadline.ts';

export type NodeState = 'Ready' | 'Unknown' | 'NotReady';

/** The name of the implicit node when no Node is declared. */
export const LOCAL_NODE = 'local';

/** What the engine reports about itself (capacity defaults). */
export interface EngineInfo {
  cpu: number;
  memory: number;
}

/** One engine as the pool connects it: its runtime and a way to read its size. */
export interface NodeConnection {
  runtime: ContainerRuntime;
  info(): Promise<EngineInfo>;
  /** What the engine is and whether it has what berth needs (engine-check.ts); absent = not checked (fakes). */
  check?(): Promise<EngineCheck>;
  /** Frees the connection (agents, sockets). */
  close?(): void;
}

export interface PoolNode {
  name: string;
  spec: NodeSpec;
  runtime: ContainerRuntime;
  state: NodeState;
  /** When the node last answered (ms); 0 before the first answer. */
  lastSeen: number;
  /** Why the node is not Ready. */
  error?: string;
  /** Capacity: the spec's, else what the engine reports (once known). */
  capacity?: EngineInfo;
  /** The engine and its version (`Podman 4.3.1`), once checked. */
  engine?: string;
  /** How the engine differs in ways berth works with (engine-check.ts). */
  limits?: string[];
}

export interface NodePoolOptions {
  /** Connects to a node (dockerode in main.ts, fakes in tests). Throws BerthError E_CONFIG for an unusable spec (missing TLS file). */
  connect(name: string, spec: NodeSpec): NodeConnection;
  /** The implicit node when none is declared. */
  local: NodeSpec;
  graceMs: number;
  pingMs: number;
  log: Logger;
  now?: () => number;
  /** Called on every state change (the loop wakes up and reschedules). */
  onChange?: (node: PoolNode, before: NodeState) => void;
}

interface Entry extends PoolNode {
  key: string;
  connection: NodeConnection;
  /** The ping in flight, so a second caller waits for it instead of returning a stale state. */
  pinging: Promise<NodeState> | null;
  /** The engine check of this connection; asked again at each ping while something is missing. */
  checked?: EngineCheck;
  graceTimer?: NodeJS.Timeout;
}

export class NodePool {
  private readonly entries = new Map<string, Entry>();
  /** Nodes of the revision that could not even be connected (unreadable TLS file, bad endpoint), with why. */
  private failedNodes: { name: string; endpoint: string; error: string }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: NodePoolOptions) {
    this.sync([]);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /**
   * Brings the pool in line with the revision's Node manifests (none = the local engine). A node whose endpoint or TLS
   * files changed is reconnected; removed nodes are dropped. Returns the nodes that could not be connected, with why.
   */
  sync(nodes: readonly DesiredNode[]): { name: string; error: string }[] {
    const wanted = nodes.length ? nodes.map((n) => ({ name: n.name, spec: n.spec })) : [{ name: LOCAL_NODE, spec: this.opts.local }];
    const failed: { name: string; error: string }[] = [];
    const keep = new Set<string>();
    for (const { name, spec } of wanted) {
      keep.add(name);
      const key = JSON.stringify([spec.endpoint, spec.tls ?? null]);
      const existing = this.entries.get(name);
      if (existing && existing.key === key) {
        existing.spec = spec;
        existing.capacity = mergeCapacity(spec, existing.capacity);
        continue;
      }
      existing?.connection.close?.();
      try {
        const connection = this.opts.connect(name, spec);
        this.entries.set(name, { name, spec, key, connection, runtime: connection.runtime, state: 'Unknown', lastSeen: this.now(), pinging: null, capacity: mergeCapacity(spec, undefined) });
        void this.ping(this.entries.get(name)!);
      } catch (err) {
        const e = asBerthError(err, 'E_CONFIG');
        failed.push({ name, error: e.message });
        this.entries.delete(name);
      }
    }
    for (const [name, e] of this.entries) {
      if (keep.has(name)) continue;
      e.connection.close?.();
      this.entries.delete(name);
    }
    this.failedNodes = failed.map((f) => ({ ...f, endpoint: wanted.find((w) => w.name === f.name)?.spec.endpoint ?? '' }));
    return failed;
  }

  /** Starts pinging every node every pingMs. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => { for (const e of this.entries.values()) void this.ping(e); }, this.opts.pingMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const e of this.entries.values()) {
      if (e.graceTimer) clearTimeout(e.graceTimer);
      e.connection.close?.();
    }
  }

  /** Every node, in name order. */
  nodes(): PoolNode[] {
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Nodes of the revision that could not be connected, with why (shown as NotReady in the status). */
  failures(): { name: string; endpoint: string; error: string }[] {
    return [...this.failedNodes];
  }

  get(name: string): PoolNode | undefined {
    return this.entries.get(name);
  }

  /** The node new replicas go to when nothing chose one: the first Ready node by name. */
  defaultNode(): PoolNode | undefined {
    return this.nodes().find((n) => n.state === 'Ready') ?? this.nodes()[0];
  }

  /** A call to the node succeeded (it is alive) or failed with an engine error (it may be down): counts like a ping. */
  report(name: string, ok: boolean, error?: string): void {
    const e = this.entries.get(name);
    if (!e) return;
    if (ok && this.unchecked(e)) return; // an answer says nothing of what the engine lacks: only a ping's check makes it Ready
    if (ok) this.mark(e, 'Ready');
    else this.fail(e, error ?? 'unreachable');
  }

  /** Pings one node now and returns its state afterwards. */
  ping(e: Entry): Promise<NodeState> {
    e.pinging ??= this.doPing(e).finally(() => { e.pinging = null; });
    return e.pinging;
  }

  private async doPing(e: Entry): Promise<NodeState> {
    try {
      // An engine behind a dropped route never answers: give up after a ping period, like a refused connection.
      await withDeadline(e.runtime.ping(), this.opts.pingMs, `no answer within ${this.opts.pingMs} ms`);
      await withDeadline(this.describe(e), CHECK_TIMEOUT_MS, `engine check: no answer within ${CHECK_TIMEOUT_MS} ms`);
      if (e.checked?.missing.length) {
        // It answers but cannot run berth's containers: NotReady at once (no grace: waiting changes nothing).
        e.lastSeen = this.now();
        e.error = `${e.checked.engine} lacks what berth needs: ${e.checked.missing.join('; ')}`;
        this.set(e, 'NotReady');
        return e.state;
      }
      this.mark(e, 'Ready');
    } catch (err) {
      this.fail(e, asBerthError(err).message);
    }
    return e.state;
  }

  /** Reads the engine's size (until known) and checks what it has (until nothing is missing). */
  private async describe(e: Entry): Promise<void> {
    if (!e.capacity || e.capacity.cpu === undefined || e.capacity.memory === undefined) {
      const info = await e.connection.info().catch(() => undefined);
      if (info) e.capacity = mergeCapacity(e.spec, info);
    }
    if (e.connection.check && (!e.checked || e.checked.missing.length)) {
      e.checked = await e.connection.check();
      e.engine = e.checked.engine;
      e.limits = [...e.checked.limits];
    }
  }

  /** Waits for the first check of nodes connected since (a pass places replicas only on checked nodes). */
  async settleNew(): Promise<void> {
    await Promise.all([...this.entries.values()].filter((e) => e.connection.check && !e.checked).map((e) => this.ping(e)));
  }

  /** The engine is not known to have what berth needs: not checked yet, or something was missing at the last check. */
  private unchecked(e: Entry): boolean {
    return e.connection.check !== undefined && (!e.checked || e.checked.missing.length > 0);
  }

  /** Pings every node at once (before a pass, so the pass sees fresh states). */
  async pingAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.ping(e)));
  }

  private mark(e: Entry, state: NodeState): void {
    e.lastSeen = this.now();
    delete e.error;
    this.set(e, state);
  }

  private fail(e: Entry, error: string): void {
    e.error = error;
    const silent = this.now() - e.lastSeen;
    this.set(e, silent >= this.opts.graceMs ? 'NotReady' : 'Unknown');
    // Check again the moment the grace runs out, so NotReady comes at the grace, not up to a ping period later.
    if (e.state === 'Unknown' && !e.graceTimer) {
      e.graceTimer = setTimeout(() => { e.graceTimer = undefined; void this.ping(e); }, this.opts.graceMs - silent + 5);
      e.graceTimer.unref();
    }
  }

  private set(e: Entry, state: NodeState): void {
    if (e.state === state) return;
    const before = e.state;
    e.state = state;
    const level = state === 'Ready' ? 'info' : 'warn';
    this.opts.log[level](`node ${e.name} ${before} -> ${state}`, { node: e.name, endpoint: e.spec.endpoint, ...(e.error ? { error: e.error } : {}) });
    this.opts.onChange?.(e, before);
  }
}

/** How long the engine's size and check may take (an engine that answers its ping may still be slow to describe itself). */
const CHECK_TIMEOUT_MS = 10_000;

function mergeCapacity(spec: NodeSpec, reported: Partial<EngineInfo> | undefined): EngineInfo | undefined {
  const cpu = spec.capacity.cpu ?? reported?.cpu;
  const memory = spec.capacity.memory ?? reported?.memory;
  return cpu === undefined || memory === undefined ? undefined : { cpu, memory };
}
