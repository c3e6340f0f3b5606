/**
 * Reads the last lines of output of finished Job and CronJob containers for the status (the effectful edge of
 * jobs/output.ts): once per container, cached by container id (bounded; an entry goes with its container or once the
 * status document records the output), each read
 * bounded by the engine's tail, a byte cap and a timeout, and a pass waits for them at most `budgetMs` (reads still
 * under way land in the cache for the next pass). A read that fails leaves the output out; nothing here throws.
 */
import { LABELS } from '../model/keys.ts';
import type { ObservedContainer } from '../model/state.ts';
import type { LogTail, LogTailOptions } from '../runtime/runtime.ts';
import { asBerthError } from '../model/errors.ts';
import { limiter, type Limiter } from '../util/limit.ts';
import type { Logger } from '../util/log.ts';
import { OUTPUT_LINES, OUTPUT_MAX_BYTES, OUTPUT_TIMEOUT_MS, outputLines, type AttemptOutput } from './output.ts';

/** Tries of a read that failed before its container is given up on (`outputUnavailable` stays). */
export const OUTPUT_TRIES = 3;

export interface OutputFetchDeps {
  /** The engine's logs API (ContainerRuntime.containerLogs); absent: no output is read. */
  logs?: (id: string, opts: LogTailOptions) => Promise<LogTail>;
  /** Removes the registered secrets from a line (the operator's Redactor). */
  redact: (s: string) => string;
  log: Logger;
  /** Longest a pass waits for reads (default 1.5 s). */
  budgetMs?: number;
  /** Reads at a time (default 8). */
  concurrency?: number;
  /** Containers remembered at most (default 2000): more are read once earlier ones are recorded in the status. */
  maxEntries?: number;
}

/** Registers the secrets container `c` may print with the redactor; resolves why it cannot, or undefined. */
export type SecretsReady = (c: ObservedContainer) => Promise<string | undefined>;

interface Entry {
  name: string;
  output?: AttemptOutput;
  tries: number;
  reading?: Promise<void>;
}

/** What a pass gets: outputs by container name, and whether reads were still under way when the budget ran out. */
export interface CollectedOutputs {
  outputs: Map<string, AttemptOutput>;
  pending: boolean;
}

export class JobOutputs {
  private readonly entries = new Map<string, Entry>();
  private readonly limit: Limiter;

  constructor(private readonly deps: OutputFetchDeps) {
    this.limit = limiter(deps.concurrency ?? 8);
  }

  /**
   * The outputs of the finished Job and CronJob containers of `containers` (the pass's observation), reading those not
   * read yet; `recorded`: names of containers whose output the previous status document holds (not read again).
   * `secretsReady` makes sure every secret a container may print is registered with the redactor (its Job's Secrets
   * decrypted) and resolves undefined, or resolves why that cannot be done: its output is then never read.
   */
  async collect(containers: readonly ObservedContainer[], recorded: ReadonlySet<string>, secretsReady: SecretsReady): Promise<CollectedOutputs> {
    const present = new Set(containers.map((c) => c.id));
    // An entry goes with its container, and once the status document holds its output (the record serves from then on).
    for (const [id, e] of this.entries) if (!present.has(id) || (recorded.has(e.name) && !e.reading)) this.entries.delete(id);
    const done = containers.filter((c) => isJobContainer(c) && (c.status === 'exited' || c.status === 'dead'));
    const reads: Promise<void>[] = [];
    let deferred = false;
    if (this.deps.logs) {
      for (const c of done) {
        if (recorded.has(c.name)) continue;
        const e = this.entries.get(c.id) ?? this.add(c);
        if (!e) deferred = true; // the cache is full: read once earlier entries are recorded
        else if (e.reading) reads.push(e.reading);
        else if (!e.output || ('unavailable' in e.output && e.tries < OUTPUT_TRIES)) reads.push(this.read(c, e, secretsReady));
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.deps.budgetMs ?? 1_500); });
    await Promise.race([Promise.all(reads), budget]);
    clearTimeout(timer);
    const outputs = new Map<string, AttemptOutput>();
    let pending = deferred;
    for (const c of done) {
      const e = this.entries.get(c.id);
      if (e?.reading) pending = true;
      if (e?.output) outputs.set(c.name, e.output);
    }
    return { outputs, pending };
  }

  /** A new entry for `c`, unless the cache holds maxEntries already. */
  private add(c: ObservedContainer): Entry | undefined {
    if (this.entries.size >= (this.deps.maxEntries ?? 2_000)) return undefined;
    const e: Entry = { name: c.name, tries: 0 };
    this.entries.set(c.id, e);
    return e;
  }

  private read(c: ObservedContainer, e: Entry, secretsReady: SecretsReady): Promise<void> {
    const logs = this.deps.logs!;
    e.tries += 1;
    const p = this.limit.run(async () => {
      try {
        const unsafe = await secretsReady(c);
        if (unsafe) {
          e.output = { unavailable: unsafe };
          e.tries = OUTPUT_TRIES; // a reason of the desired state, not of the engine: not tried again
          return;
        }
        const tail = await logs(c.id, { lines: OUTPUT_LINES, maxBytes: OUTPUT_MAX_BYTES, timeoutMs: OUTPUT_TIMEOUT_MS });
        e.output = { lines: outputLines(tail, this.deps.redact) };
      } catch (err) {
        const message = this.deps.redact(asBerthError(err).message.split('\n')[0] ?? '');
        e.output = { unavailable: `output not read: ${message}` };
        this.deps.log.debug('job output not read', { container: c.name, error: message, tries: e.tries });
      } finally {
        e.reading = undefined;
      }
    });
    e.reading = p;
    return p;
  }
}

/** A container of a Job's or a CronJob's run. */
export function isJobContainer(c: ObservedContainer): boolean {
  const kind = c.labels[LABELS.kind];
  return (kind === 'Job' || kind === 'CronJob') && c.labels[LABELS.job] !== undefined;
}
