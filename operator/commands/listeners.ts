/**
 * What a running operator tells its parts, as named listeners registered in order, and the ordered list of what it
 * closes on the way out (the same list for a failed start and for stop()).
 */
import type { HealthChange } from '../health/monitor.ts';
import type { PassResult, ReconcilerEvent } from '../reconciler/reconciler.ts';

export interface PassListener {
  /** Hears every finished pass of the loop: what woke it and how long it took. */
  afterPass(r: PassResult, trigger: string, ms: number): void;
}

export interface HealthListener {
  /** Hears every health transition of a replica the monitor probes. */
  onHealthChange(c: HealthChange): void;
}

export interface RevisionListener {
  /** Hears the applied revision move (and the first pass): plans against it are out of date. */
  onAppliedRevision(revision: string | null): void;
}

export interface ReconcilerListener {
  /** Hears the reconciler's events (revision applied or rejected, stalled, recovered, ...). */
  onReconcilerEvent(e: ReconcilerEvent): void;
}

export interface Closer {
  /** Stops what it closes; awaited before the next closer runs. */
  close(): void | Promise<void>;
}

/** The listeners of a running operator, each list called in the order it was registered. */
export class OperatorListeners implements PassListener, HealthListener, ReconcilerListener {
  private readonly passes: PassListener[] = [];
  private readonly health: HealthListener[] = [];
  private readonly events: ReconcilerListener[] = [];

  /** Registers listeners of finished passes, after those registered before. */
  onPass(...ls: PassListener[]): this {
    this.passes.push(...ls);
    return this;
  }

  /** Registers listeners of health transitions, after those registered before. */
  onHealth(...ls: HealthListener[]): this {
    this.health.push(...ls);
    return this;
  }

  /** Registers listeners of reconciler events, after those registered before. */
  onEvent(...ls: ReconcilerListener[]): this {
    this.events.push(...ls);
    return this;
  }

  afterPass(r: PassResult, trigger: string, ms: number): void {
    for (const l of this.passes) l.afterPass(r, trigger, ms);
  }

  onHealthChange(c: HealthChange): void {
    for (const l of this.health) l.onHealthChange(c);
  }

  onReconcilerEvent(e: ReconcilerEvent): void {
    for (const l of this.events) l.onReconcilerEvent(e);
  }
}

/** A pass listener telling `listeners` when the applied revision differs from the previous pass's (and after the first). */
export function appliedRevisionWatch(...listeners: RevisionListener[]): PassListener {
  let last: string | null | undefined;
  return {
    afterPass(r) {
      const applied = r.status.revision.applied;
      if (applied !== last) for (const l of listeners) l.onAppliedRevision(applied);
      last = applied;
    },
  };
}

/** Closers run in the order they were added, each awaited. */
export class Closers implements Closer {
  private readonly list: Closer[] = [];

  /** Adds closers, to run after those added before. */
  add(...cs: Closer[]): this {
    this.list.push(...cs);
    return this;
  }

  async close(): Promise<void> {
    for (const c of this.list) await c.close();
  }
}

/** A closer of a stop function. */
export function closer(close: () => unknown): Closer {
  return { close: async () => { await close(); } };
}
