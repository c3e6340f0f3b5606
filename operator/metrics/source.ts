/**
 * Git fetches: how long each took and which failed, by error code. A fetch is a call of the tracked source that may
 * reach the remote (head: ls-refs, and a fetch when the branch moved; resolve); timedSource wraps a GitSource to time
 * them without the source knowing.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { BerthError } from '../model/errors.ts';
import type { GitSource } from '../source/source.ts';

/** Fetch durations: 10-50 ms on a LAN, 100-300 ms from a hosted forge, a slow forge or a large pack seconds. */
export const FETCH_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class FetchMetrics {
  private readonly duration: Histogram<never>;
  private readonly errors: Counter<'code'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({ name: 'berth_source_fetch_duration_seconds', help: 'Time each fetch of the repository took (ls-refs, and the fetch when the branch moved), failed ones included.', buckets: FETCH_BUCKETS_S, registers: [registry] });
    this.errors = new Counter({ name: 'berth_source_fetch_errors_total', help: 'Fetches of the repository that failed, by error code.', labelNames: ['code'], registers: [registry] });
  }

  record(seconds: number, error?: Error): void {
    this.duration.observe(seconds);
    if (error) this.errors.inc({ code: error instanceof BerthError ? error.code : 'E_GIT' });
  }
}

/** `source`, with every head() and resolve() timed into `record`. */
export function timedSource(source: GitSource, record: (seconds: number, error?: Error) => void): GitSource {
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const v = await call();
      record((performance.now() - started) / 1000);
      return v;
    } catch (err) {
      record((performance.now() - started) / 1000, err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  };
  return {
    description: source.description,
    head: () => timed(() => source.head()),
    resolve: (ref) => timed(() => source.resolve(ref)),
    listBranches: () => source.listBranches(),
    snapshot: (revision) => source.snapshot(revision),
    readStatus: (path) => source.readStatus(path),
    readStatusDir: (dir) => source.readStatusDir(dir),
    writeStatus: (files, message) => source.writeStatus(files, message),
    commitFiles: (branch, edit, message, opts) => source.commitFiles(branch, edit, message, opts),
  };
}
