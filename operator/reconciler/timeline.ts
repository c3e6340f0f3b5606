/**
 * Where one pass's time goes, from what woke it to the status written: named marks in milliseconds since the trigger
 * (the loop starts the timeline when the trigger arrives, so a pass that waited for the one before it shows the wait).
 * Repeated marks (each container created, started) are summarized as first / last and a count. Logged at debug level
 * after each pass that applied something (`pass timeline`), and what `bench/core-loop.ts` prints.
 */
export interface Mark {
  name: string;
  ms: number;
}

export class PassTimeline {
  readonly marks: Mark[] = [];
  private readonly t0: number;

  constructor(private readonly clock: () => number = () => performance.now(), start?: number) {
    this.t0 = start ?? clock();
  }

  mark(name: string): void {
    this.marks.push({ name, ms: this.clock() - this.t0 });
  }

  /** First and last time of each mark name, with counts, in the order the names first appeared. */
  summary(): { name: string; first: number; last: number; count: number }[] {
    const out = new Map<string, { name: string; first: number; last: number; count: number }>();
    for (const m of this.marks) {
      const s = out.get(m.name);
      if (s) { s.last = m.ms; s.count++; } else out.set(m.name, { name: m.name, first: m.ms, last: m.ms, count: 1 });
    }
    return [...out.values()];
  }

  /** `triggered 0 · fetched 12 · ... · started 40..1310 (x30)`, milliseconds rounded. */
  text(): string {
    return this.summary().map((s) => (s.count === 1 ? `${s.name} ${Math.round(s.first)}` : `${s.name} ${Math.round(s.first)}..${Math.round(s.last)} (x${s.count})`)).join(' · ');
  }
}
