/**
 * Hold-and-wake for services scaled to zero (Knative's activator, inside the proxy): a connection or request that
 * finds no ready endpoint of a service with `wake` is held in the service's bounded queue instead of being refused,
 * the operator is told that the service is wanted (WakeSignals, answered on the control socket's `GET /wakeups`),
 * and every held entry goes the normal way as soon as an endpoint is ready. An entry over the queue, or held longer
 * than `timeoutMs`, is refused (HTTP 503 with Retry-After, TCP close) by its owner; an entry whose client left is
 * dropped. Memory: `queue` entries per service, one timer each.
 */
import { BerthError } from '../model/errors.ts';

/** A service that may be at zero replicas: hold up to `queue` entries, each for at most `timeoutMs`. */
export interface WakeSettings {
  queue: number;
  timeoutMs: number;
}

/** Bounds of a wake block (checked on the proxy side as well: the config comes over a socket). */
export const MAX_WAKE_QUEUE = 10_000;
export const MAX_WAKE_TIMEOUT_MS = 10 * 60_000;
/** Seconds a refused client is asked to wait (Retry-After) while a service wakes. */
export const WAKE_RETRY_AFTER_S = 1;

/** The problem with a wake block, or null. */
export function wakeProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'wake must be { queue, timeoutMs }';
  const w = v as Record<string, unknown>;
  if (!Number.isInteger(w.queue) || (w.queue as number) < 1 || (w.queue as number) > MAX_WAKE_QUEUE) return `wake.queue must be an integer in 1..${MAX_WAKE_QUEUE}`;
  if (!Number.isInteger(w.timeoutMs) || (w.timeoutMs as number) < 1 || (w.timeoutMs as number) > MAX_WAKE_TIMEOUT_MS) return `wake.timeoutMs must be an integer in 1..${MAX_WAKE_TIMEOUT_MS}`;
  return null;
}

/** One held connection or request: what to do when the service is ready, and when its time is up. */
export interface HeldEntry {
  /** An endpoint is ready: go the normal way (pick, connect, forward). */
  forward(): void;
  /** Held longer than timeoutMs: refuse (503 with Retry-After / close). */
  expire(): void;
}

interface Slot {
  entry: HeldEntry;
  timer: NodeJS.Timeout;
}

/**
 * The held entries of one service on one listener, in arrival order. `hold` notes the wake (WakeSignals) and arms the
 * entry's deadline; `release` forwards them all, oldest first.
 */
export class WakeHold {
  private readonly slots = new Set<Slot>();
  private settings: WakeSettings;
  /** The access counters' gauge of the service (access-stats.ts `held`); absent = not recorded. */
  gauge: { held: number } | undefined;

  constructor(readonly service: string, settings: WakeSettings, private readonly signals: WakeSignals = wakeSignals) {
    this.settings = checkWake(settings);
  }

  /** Entries held now. */
  get size(): number {
    return this.slots.size;
  }

  get timeoutMs(): number {
    return this.settings.timeoutMs;
  }

  /** New bounds for the next holds (entries held already keep their deadline). Throws BerthError E_CONFIG. */
  configure(settings: WakeSettings): void {
    this.settings = checkWake(settings);
  }

  /**
   * Holds `entry` until `release` or its deadline (`timeoutMs` from now, or `deadline` in Date.now() ms, for an entry
   * held again). Returns the function that drops it (its client left), or undefined when the queue is full (the
   * caller refuses it; nothing was kept).
   */
  hold(entry: HeldEntry, deadline?: number): (() => void) | undefined {
    if (this.slots.size >= this.settings.queue) return undefined;
    const ms = Math.max(0, deadline === undefined ? this.settings.timeoutMs : deadline - Date.now());
    const slot: Slot = {
      entry,
      timer: setTimeout(() => {
        if (this.remove(slot)) entry.expire();
      }, ms),
    };
    slot.timer.unref();
    this.slots.add(slot);
    if (this.gauge) this.gauge.held++;
    this.signals.note(this.service);
    return () => void this.remove(slot);
  }

  /** Forwards every held entry, oldest first (each leaves the queue before it is forwarded). */
  release(): void {
    if (this.slots.size === 0) return;
    const all = [...this.slots];
    for (const slot of all) this.remove(slot);
    for (const slot of all) slot.entry.forward();
  }

  /** Forgets every entry without forwarding or refusing (the listener closes their connections). */
  close(): void {
    for (const slot of [...this.slots]) this.remove(slot);
  }

  private remove(slot: Slot): boolean {
    if (!this.slots.delete(slot)) return false;
    clearTimeout(slot.timer);
    if (this.gauge) this.gauge.held--;
    return true;
  }
}

function checkWake(settings: WakeSettings): WakeSettings {
  const problem = wakeProblem(settings);
  if (problem) throw new BerthError('E_CONFIG', problem);
  return { queue: settings.queue, timeoutMs: settings.timeoutMs };
}

/** The longest a `GET /wakeups` long poll waits. */
export const MAX_WAKE_WAIT_MS = 30_000;

interface Waiter {
  resolve(services: string[]): void;
  timer: NodeJS.Timeout;
}

/**
 * The services a request is waiting for, until reported: `note` records one (once until the next report), a poller
 * takes them all. Several pollers may wait; the first one woken gets the pending services, the others keep waiting.
 * A cluster worker sets `sink` to pass its notes to the primary, which answers the pollers.
 */
export class WakeSignals {
  private readonly pending = new Set<string>();
  private readonly waiters = new Set<Waiter>();
  /** Where notes go instead of this table (a cluster worker: the IPC channel to its primary). */
  sink: ((service: string) => void) | undefined;

  /** A request for `service` is waiting (reported once until the next report). */
  note(service: string): void {
    if (this.sink) return this.sink(service);
    if (this.pending.has(service)) return;
    this.pending.add(service);
    const first = this.waiters.values().next();
    if (first.done) return;
    this.waiters.delete(first.value);
    clearTimeout(first.value.timer);
    first.value.resolve(this.take());
  }

  /** The pending services (sorted), forgotten: each is reported once. */
  take(): string[] {
    const out = [...this.pending].sort();
    this.pending.clear();
    return out;
  }

  /**
   * Resolves with the pending services as soon as there are any, or with [] after `waitMs` (bounded by
   * MAX_WAKE_WAIT_MS). `cancel` withdraws the poller (its client left): nothing is taken for it.
   */
  wait(waitMs: number): { services: Promise<string[]>; cancel(): void } {
    if (this.pending.size > 0 || !(waitMs > 0)) return { services: Promise.resolve(this.take()), cancel: () => {} };
    let waiter!: Waiter;
    const services = new Promise<string[]>((resolve) => {
      waiter = {
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve([]);
        }, Math.min(waitMs, MAX_WAKE_WAIT_MS)),
      };
    });
    this.waiters.add(waiter);
    return {
      services,
      cancel: () => {
        if (!this.waiters.delete(waiter)) return;
        clearTimeout(waiter.timer);
        waiter.resolve([]);
      },
    };
  }

  /** Pollers waiting now. */
  get polling(): number {
    return this.waiters.size;
  }
}

/** The table of this process (the proxy process, or a cluster worker passing on to its primary). */
export const wakeSignals = new WakeSignals();
