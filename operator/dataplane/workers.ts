/**
 * The primary of a proxy process run with `--proxy-workers N` (N > 1): it forks N node:cluster workers (worker.ts),
 * each serving the same listeners, and keeps what must exist once: the configuration in force and its file. Every
 * configuration goes to every worker (one IPC message each, acked), so an endpoint or weight change reaches all of
 * them within one push; queries (open connections, listener stats) are summed over the workers. A worker that dies is
 * forked again with the current configuration; the other workers keep the ports open meanwhile.
 *
 * The kernel spreads connections (SCHED_NONE: every worker accepts on the shared socket), so the primary never
 * touches proxied traffic; with round-robin scheduling it would accept every connection and hand it over, one core
 * doing the work of all.
 */
import cluster, { type Worker } from 'node:cluster';
import { accessSnapshot, type AccessSnapshot } from '../proxy/access-stats.ts';
import type { ListenerInfo } from '../proxy/proxies.ts';
import { wakeSignals } from '../proxy/wake.ts';
import type { GateStats } from '../server/conn-guard.ts';
import type { Logger } from '../util/log.ts';
import { mergeAccess } from './access-metrics.ts';
import type { DataplaneConfig } from './protocol.ts';
import type { FromWorker, ToWorker } from './worker.ts';

/** A configuration must be applied by every worker within this long (PUT /config answers after). */
const APPLY_TIMEOUT_MS = 5_000;
/** A query (connections, listeners) waits this long for each worker. */
const QUERY_TIMEOUT_MS = 1_500;
/** A worker that died this soon after it was forked is forked again after a growing delay. */
const QUICK_DEATH_MS = 5_000;
const MAX_RESPAWN_DELAY_MS = 5_000;

interface Member {
  worker: Worker;
  ready: boolean;
  startedAt: number;
  pending: Map<number, { resolve(v: unknown): void; reject(e: Error): void }>;
}

export interface WorkerStats {
  pid: number;
  listeners: ListenerInfo[];
}

type Op = ToWorker extends infer T ? T extends { op: infer O } ? O : never : never;

export class WorkerPool {
  private readonly members = new Map<number, Member>();
  private current: DataplaneConfig | null = null;
  private closing = false;
  private nextId = 1;
  private respawnDelay = 100;
  private listeners = 0;

  constructor(private readonly count: number, private readonly log: Logger) {}

  /** Forks the workers with `initial` (the persisted configuration, if any); resolves once each applied it. */
  async start(initial: DataplaneConfig | null): Promise<void> {
    this.current = initial;
    // Before the first fork: it fixes how the shared sockets accept. Node's own NODE_CLUSTER_SCHED_POLICY still wins.
    if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
    await Promise.all(Array.from({ length: this.count }, () => this.fork()));
  }

  /** Listeners of the configuration in force, as the workers counted them when they last applied it. */
  listenerCount(): number {
    return this.listeners;
  }

  /** The pids of the live workers. */
  pids(): number[] {
    return [...this.members.values()].map((m) => m.worker.process.pid!).sort((a, b) => a - b);
  }

  /** Sends `config` to every live worker and waits (bounded) for each to apply it. */
  async apply(config: DataplaneConfig): Promise<void> {
    this.current = config; // a worker forked from now on starts with it
    const ready = [...this.members.values()].filter((m) => m.ready);
    const results = await Promise.allSettled(ready.map((m) => this.ask(m, { op: 'config', config }, APPLY_TIMEOUT_MS)));
    for (const r of results) if (r.status === 'fulfilled') this.listeners = Number(r.value);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) this.log.error('proxy: a worker did not apply the configuration', { failed: failed.length, error: String((failed[0] as PromiseRejectedResult).reason) });
  }

  /** Connections/requests open to `address` over all workers; throws when a live worker does not answer. */
  async openTo(address: string): Promise<number> {
    const answers = await Promise.all(this.live().map((m) => this.ask(m, { op: 'connections', address }, QUERY_TIMEOUT_MS)));
    return answers.reduce<number>((n, v) => n + Number(v), 0);
  }

  /** Every worker's listeners and gates. */
  async stats(): Promise<Array<WorkerStats & { gates: GateStats[] }>> {
    const live = this.live();
    const answers = await Promise.all(live.map((m) => this.ask(m, { op: 'listeners' }, QUERY_TIMEOUT_MS)));
    return answers.map((a, i) => ({ pid: live[i]!.worker.process.pid!, ...(a as { listeners: ListenerInfo[]; gates: GateStats[] }) }));
  }

  /** The listeners of all workers merged by address, counters summed. */
  async list(): Promise<ListenerInfo[]> {
    return mergeListeners((await this.stats()).map((s) => s.listeners));
  }

  /** The connection gates of all workers merged by name, counts summed. */
  async gates(): Promise<GateStats[]> {
    const byName = new Map<string, GateStats>();
    for (const s of await this.stats()) for (const g of s.gates) byName.set(g.name, byName.has(g.name) ? sumNumbers(byName.get(g.name)!, g) : g);
    return [...byName.values()];
  }

  /** The access counters of all workers added up (a worker that does not answer in time adds nothing). */
  async metrics(): Promise<AccessSnapshot> {
    const answers = await Promise.allSettled(this.live().map((m) => this.ask(m, { op: 'metrics' }, QUERY_TIMEOUT_MS)));
    const got = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value as AccessSnapshot] : []));
    return mergeAccess([accessSnapshot(), ...got]); // this process's own (no traffic) gives the bucket bounds
  }

  /** Tells every worker to close its listeners and waits (bounded) for it to exit. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.members.values()].map(async (m) => {
      const exited = new Promise<void>((resolve) => { if (m.worker.isDead()) resolve(); else m.worker.once('exit', () => resolve()); });
      await this.ask(m, { op: 'close' }, 3_000).catch(() => undefined);
      m.worker.process.kill('SIGTERM');
      const t = setTimeout(() => m.worker.process.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(t);
    }));
  }

  private live(): Member[] {
    return [...this.members.values()].filter((m) => m.ready && !m.worker.isDead());
  }

  /** Forks one worker; resolves once it applied the current configuration (or could not). */
  private fork(): Promise<void> {
    const worker = cluster.fork();
    const member: Member = { worker, ready: false, startedAt: Date.now(), pending: new Map() };
    this.members.set(worker.id, member);
    return new Promise<void>((resolve) => {
      worker.on('message', (m: FromWorker) => {
        if (typeof m.wake === 'string') return void wakeSignals.note(m.wake); // answered on this process's GET /wakeups
        if (m.ready) {
          const config = this.current;
          // Configured before it counts as ready: a PUT /config racing with this start is sent after, in order.
          const first = config ? this.ask(member, { op: 'config', config }, APPLY_TIMEOUT_MS).then((n) => { this.listeners = Number(n); }) : Promise.resolve();
          member.ready = true;
          void first.then(() => resolve(), (err: unknown) => {
            this.log.error('proxy: a new worker did not apply the configuration', { pid: worker.process.pid, error: String(err) });
            resolve();
          });
          return;
        }
        const p = member.pending.get(m.id);
        if (!p) return;
        member.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error ?? 'worker error'));
      });
      worker.once('exit', (code, signal) => {
        this.members.delete(worker.id);
        for (const p of member.pending.values()) p.reject(new Error(`worker ${worker.process.pid} exited`));
        member.pending.clear();
        resolve();
        if (this.closing) return;
        const quick = Date.now() - member.startedAt < QUICK_DEATH_MS;
        this.respawnDelay = quick ? Math.min(this.respawnDelay * 2, MAX_RESPAWN_DELAY_MS) : 100;
        this.log.error('proxy: a worker exited; forking another', { pid: worker.process.pid, code, signal, inMs: this.respawnDelay });
        setTimeout(() => { if (!this.closing) void this.fork(); }, this.respawnDelay).unref();
      });
    });
  }

  private ask(m: Member, q: { op: Op } & Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        m.pending.delete(id);
        reject(new Error(`worker ${m.worker.process.pid} did not answer ${q.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      m.pending.set(id, { resolve: (v) => { clearTimeout(t); resolve(v); }, reject: (e) => { clearTimeout(t); reject(e); } });
      try {
        m.worker.send({ ...q, id } as ToWorker);
      } catch (err) {
        m.pending.delete(id);
        clearTimeout(t);
        reject(err as Error);
      }
    });
  }
}

/** Listeners of several workers merged by address: `stats` summed, the rest (backends, owners) from the first. */
export function mergeListeners(perWorker: ListenerInfo[][]): ListenerInfo[] {
  const byAddress = new Map<string, ListenerInfo>();
  for (const list of perWorker) {
    for (const l of list) {
      const seen = byAddress.get(l.address);
      if (!seen) byAddress.set(l.address, structuredClone(l));
      else byAddress.set(l.address, { ...seen, stats: sumNumbers(seen.stats, l.stats), error: seen.error ?? l.error });
    }
  }
  return [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** `a` with every number (at any depth) replaced by its sum with the same field of `b`; other values from `a`. */
export function sumNumbers<T>(a: T, b: T): T {
  if (typeof a === 'number' && typeof b === 'number') return (a + b) as T;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = k in out ? sumNumbers(out[k], v) : v;
    return out as T;
  }
  return a;
}
