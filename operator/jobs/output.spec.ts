import { describe, expect, it } from 'vitest';
import type { JobAttemptStatus, JobStatus } from './plan.ts';
import type { CronJobStatus } from './cron-plan.ts';
import { failingAttempt, OUTPUT_CUT, OUTPUT_LINE_CHARS, OUTPUT_LINES, outputLines, printable, withCronOutputs, withJobOutputs } from './output.ts';

const none = (s: string) => s;
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

const attempt = (over: Partial<JobAttemptStatus>): JobAttemptStatus => ({ completion: 1, attempt: 1, container: 'c1', state: 'failed', exitCode: 1, finishedAt: '2026-01-01T00:00:01.000Z', ...over });
const job = (attempts: JobAttemptStatus[], over: Partial<JobStatus> = {}): JobStatus => ({
  desired: 1, ready: 0, health: 'Degraded', replicas: [], phase: 'Failed', reason: 'BackoffLimitExceeded', run: 'r1', failed: attempts.length, attempts, ...over,
});

describe('outputLines', () => {
  it('keeps the last OUTPUT_LINES lines, without the final newline or carriage returns', () => {
    const text = `${numbered(30).join('\r\n')}\n`;
    expect(outputLines({ text, truncated: false }, none)).toEqual(numbered(30).slice(30 - OUTPUT_LINES));
    expect(outputLines({ text: '', truncated: false }, none)).toEqual([]);
    expect(outputLines({ text: 'no newline at the end', truncated: false }, none)).toEqual(['no newline at the end']);
  });

  it('drops the incomplete last line of a read stopped at its byte cap', () => {
    expect(outputLines({ text: 'one\ntwo\nthr', truncated: true }, none)).toEqual(['one', 'two']);
  });

  it('redacts each whole line before cutting it, so no part of a secret survives the cut', () => {
    const secret = 'S3CRET-value-0123456789';
    const line = `${'x'.repeat(OUTPUT_LINE_CHARS - 10)}${secret} tail`;
    const [out] = outputLines({ text: line, truncated: false }, (s) => s.split(secret).join('***'));
    expect(out).toBe(`${'x'.repeat(OUTPUT_LINE_CHARS - 10)}*** tail`);
    const straddling = `${'y'.repeat(OUTPUT_LINE_CHARS - 3)}${secret}`;
    expect(outputLines({ text: straddling, truncated: false }, (s) => s.split(secret).join('***'))).toEqual([`${'y'.repeat(OUTPUT_LINE_CHARS - 3)}***`]);
    const [cut] = outputLines({ text: `${'y'.repeat(OUTPUT_LINE_CHARS - 3)}${secret}`, truncated: false }, none);
    expect(cut).toBe(`${'y'.repeat(OUTPUT_LINE_CHARS - 3)}S3C${OUTPUT_CUT}`); // without the redactor: the cut alone would leak
  });
});

describe('printable', () => {
  it('drops ANSI escapes and replaces control characters, keeping tabs and non-ASCII text', () => {
    expect(printable('\x1b[31mred\x1b[0m done')).toBe('red done');
    expect(printable('a\x00b\x07c\x7fd\x9be\tf')).toBe('a\ufffdb\ufffdc\ufffdd\ufffde\tf');
    expect(printable('grüße 日本 \ufffd')).toBe('grüße 日本 \ufffd');
  });

  it('cuts at OUTPUT_LINE_CHARS characters, never inside a surrogate pair', () => {
    const long = '😀'.repeat(OUTPUT_LINE_CHARS + 3);
    const out = printable(long);
    expect(Array.from(out)).toHaveLength(OUTPUT_LINE_CHARS + 1);
    expect(out.endsWith(`😀${OUTPUT_CUT}`)).toBe(true);
    expect(printable('x'.repeat(OUTPUT_LINE_CHARS))).toBe('x'.repeat(OUTPUT_LINE_CHARS));
  });
});

describe('withJobOutputs', () => {
  it('gives finished attempts their output or the reason it is missing; running ones none', () => {
    const s = job([attempt({ container: 'a' }), attempt({ container: 'b', attempt: 2 }), attempt({ container: 'c', attempt: 3, state: 'running', exitCode: undefined, finishedAt: undefined })]);
    const outputs = new Map([['a', { lines: ['boom'] }], ['b', { unavailable: 'output not read: timeout' }], ['c', { lines: ['never shown'] }]]);
    const out = withJobOutputs({ 'ns/j': s }, outputs)['ns/j']!;
    expect(out.attempts.map((a) => [a.output, a.outputUnavailable])).toEqual([[['boom'], undefined], [undefined, 'output not read: timeout'], [undefined, undefined]]);
    expect(s.attempts[0]!.output).toBeUndefined(); // the planner's status is not changed
  });

  it('keeps what the previous document recorded for a container not read this pass', () => {
    const s = job([attempt({ container: 'a' })]);
    const previous = { 'ns/j': job([attempt({ container: 'a', output: ['from before'] })]) };
    expect(withJobOutputs({ 'ns/j': s }, new Map(), previous)['ns/j']!.attempts[0]!.output).toEqual(['from before']);
    expect(withJobOutputs({ 'ns/j': s }, new Map([['a', { lines: ['now'] }]]), previous)['ns/j']!.attempts[0]!.output).toEqual(['now']);
    expect(withJobOutputs({ 'ns/j': s }, undefined, undefined)['ns/j']!.attempts[0]!.output).toBeUndefined();
  });
});

describe('withCronOutputs', () => {
  it('merges into the attempts of every kept run, falling back to the previous runs by container', () => {
    const run = (id: string, container: string, extra: Partial<JobAttemptStatus> = {}) => ({ ...job([attempt({ container, ...extra })], { run: id }), scheduledAt: '2026-01-01T00:00:00.000Z' });
    const cron = (runs: CronJobStatus['runs']): CronJobStatus => ({ desired: 1, ready: 0, health: 'Degraded', replicas: [], schedule: '* * * * *', since: '2026-01-01T00:00:00.000Z', active: [], runs });
    const next = { 'ns/c': cron([run('t2', 'c2'), run('t1', 'c1')]) };
    const previous = { 'ns/c': cron([run('t1', 'c1', { output: ['old run'] })]) };
    const out = withCronOutputs(next, new Map([['c2', { lines: ['new run'] }]]), previous)['ns/c']!;
    expect(out.runs.map((r) => r.attempts[0]!.output)).toEqual([['new run'], ['old run']]);
  });
});

describe('failingAttempt', () => {
  it('is the failed attempt that finished last', () => {
    const s = job([attempt({ container: 'a', finishedAt: '2026-01-01T00:00:05.000Z' }), attempt({ container: 'b', attempt: 2, finishedAt: '2026-01-01T00:00:09.000Z' }), attempt({ container: 'c', completion: 2, state: 'succeeded', exitCode: 0, finishedAt: '2026-01-01T00:00:10.000Z' })]);
    expect(failingAttempt(s)?.container).toBe('b');
    expect(failingAttempt(job([]))).toBeUndefined();
  });
});
