/**
 * The last lines of output of a Job's (or a CronJob run's) finished attempts, in the status document (pure): the
 * engine's answer turned into at most OUTPUT_LINES printable lines, each redacted and cut, and merged into the
 * statuses the planner computed (jobs/plan.ts, jobs/cron-plan.ts stay unaware of it). The read itself is
 * jobs/output-fetch.ts's, in the reconciler.
 */
import type { LogTail } from '../runtime/runtime.ts';
import type { JobAttemptStatus, JobStatus } from './plan.ts';
import type { CronJobStatus } from './cron-plan.ts';

/** Lines kept per attempt: the engine's `tail`. */
export const OUTPUT_LINES = 20;
/** Characters kept of a line; a longer one is cut there and ends with OUTPUT_CUT. */
export const OUTPUT_LINE_CHARS = 512;
export const OUTPUT_CUT = '…';
/** Bytes of the engine's answer read at most. */
export const OUTPUT_MAX_BYTES = 64 * 1024;
/** The engine's answer is given up after this long. */
export const OUTPUT_TIMEOUT_MS = 2_000;

/** An attempt's output: its lines, or why there are none (the read failed or could not be made safe). */
export type AttemptOutput = { lines: string[] } | { unavailable: string };

/** Outputs of finished attempts by container name (the `container` of an attempt). */
export type OutputsByContainer = ReadonlyMap<string, AttemptOutput>;

/** ANSI escape sequences (colours, cursor moves): dropped rather than shown as a replaced ESC and their text. */
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;
/** C0 controls but tab, DEL, C1 controls, and the replacement of invalid UTF-8: shown as U+FFFD. */
const NON_PRINTABLE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g;

/**
 * The lines of an engine answer: split at newlines (a trailing `\r` dropped), each redacted whole (before any cut, so no
 * part of a secret survives a cut), escapes dropped, non-printable characters replaced by U+FFFD, cut at
 * OUTPUT_LINE_CHARS; the last OUTPUT_LINES. A read stopped at its byte cap drops its last, incomplete line.
 */
export function outputLines(tail: LogTail, redact: (s: string) => string): string[] {
  const raw = tail.text.split('\n');
  if (tail.truncated || raw.at(-1) === '') raw.pop();
  return raw.slice(-OUTPUT_LINES).map((line) => printable(redact(line.replace(/\r$/, ''))));
}

/** One line made printable and cut at OUTPUT_LINE_CHARS characters (code points: a surrogate pair is never split). */
export function printable(line: string): string {
  const clean = line.replace(ANSI, '').replace(NON_PRINTABLE, '\ufffd');
  const chars = Array.from(clean);
  return chars.length > OUTPUT_LINE_CHARS ? `${chars.slice(0, OUTPUT_LINE_CHARS).join('')}${OUTPUT_CUT}` : clean;
}

/** Whether an attempt has finished (its output is final). */
export function finished(a: Pick<JobAttemptStatus, 'state'>): boolean {
  return a.state === 'succeeded' || a.state === 'failed';
}

/**
 * `attempts` with their outputs: a finished attempt gets `output` (or `outputUnavailable`) from `outputs`, else what
 * the previous status document recorded for the same container; an attempt still running gets none.
 */
export function attemptsWithOutput(attempts: readonly JobAttemptStatus[], outputs: OutputsByContainer | undefined, recorded: ReadonlyMap<string, JobAttemptStatus>): JobAttemptStatus[] {
  return attempts.map((a) => {
    if (!finished(a)) return a;
    const { output: _o, outputUnavailable: _u, ...bare } = a;
    const o = outputs?.get(a.container);
    if (o) return 'lines' in o ? { ...bare, output: o.lines } : { ...bare, outputUnavailable: o.unavailable };
    const before = recorded.get(a.container);
    if (before?.output) return { ...bare, output: before.output };
    if (before?.outputUnavailable) return { ...bare, outputUnavailable: before.outputUnavailable };
    return a;
  });
}

/** The `jobs` section with the outputs merged into each run's attempts (`previous`: the section of the last document). */
export function withJobOutputs(statuses: Record<string, JobStatus>, outputs: OutputsByContainer | undefined, previous?: Readonly<Record<string, JobStatus>>): Record<string, JobStatus> {
  return Object.fromEntries(Object.entries(statuses).map(([key, s]) => [key, withRunOutputs(s, outputs, byContainer(previous?.[key] ? [previous[key]!] : []))]));
}

/** The `cronJobs` section with the outputs merged into the attempts of each kept run. */
export function withCronOutputs(statuses: Record<string, CronJobStatus>, outputs: OutputsByContainer | undefined, previous?: Readonly<Record<string, CronJobStatus>>): Record<string, CronJobStatus> {
  return Object.fromEntries(Object.entries(statuses).map(([key, c]) => {
    const recorded = byContainer(previous?.[key]?.runs ?? []);
    return [key, { ...c, runs: c.runs.map((r) => withRunOutputs(r, outputs, recorded)) }];
  }));
}

function withRunOutputs<S extends JobStatus>(s: S, outputs: OutputsByContainer | undefined, recorded: ReadonlyMap<string, JobAttemptStatus>): S {
  return { ...s, attempts: attemptsWithOutput(s.attempts ?? [], outputs, recorded) };
}

function byContainer(runs: readonly Pick<JobStatus, 'attempts'>[]): Map<string, JobAttemptStatus> {
  return new Map(runs.flatMap((r) => r.attempts ?? []).map((a) => [a.container, a]));
}

/** The attempt whose output tells why a failed run failed: the failed one that finished last (else the last one). */
export function failingAttempt(s: Pick<JobStatus, 'attempts'>): JobAttemptStatus | undefined {
  const attempts = s.attempts ?? [];
  const failed = attempts.filter((a) => a.state === 'failed');
  const pool = failed.length ? failed : attempts;
  return [...pool].sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? '') || a.completion - b.completion || a.attempt - b.attempt).at(-1);
}
