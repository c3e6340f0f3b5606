import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import type { ObservedContainer } from '../model/state.ts';
import type { LogTail, LogTailOptions } from '../runtime/runtime.ts';
import { createLogger } from '../util/log.ts';
import { JobOutputs, OUTPUT_TRIES } from './output-fetch.ts';
import { OUTPUT_LINES, OUTPUT_MAX_BYTES } from './output.ts';

const log = createLogger({ write: () => undefined });
const safe = async (): Promise<undefined> => undefined;

const container = (id: string, over: Partial<ObservedContainer> = {}): ObservedContainer => ({
  id, name: `berth.d.ns.j.job-r.1.${id}`, imageId: 'sha256:1', status: 'exited', exitCode: 1, command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0,
  labels: { 'berth.kind': 'Job', 'berth.job': 'j', 'berth.namespace': 'ns' }, createdAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', ...over,
});

/** An engine whose answers the test scripts; it records every read. */
function engine(answer: (id: string) => Promise<LogTail> = async (id) => ({ text: `out of ${id}\n`, truncated: false })) {
  const reads: { id: string; opts: LogTailOptions }[] = [];
  return { reads, logs: (id: string, opts: LogTailOptions) => { reads.push({ id, opts }); return answer(id); } };
}

describe('JobOutputs', () => {
  it('reads a finished Job container once, bounded, and serves the cache after; running and Service containers are not read', async () => {
    const e = engine();
    const outputs = new JobOutputs({ logs: e.logs, redact: (s) => s.replace('c1', '**'), log });
    const seen = [container('c1'), container('c2', { status: 'running' }), container('s1', { labels: { 'berth.kind': 'Service' } })];
    const first = await outputs.collect(seen, new Set(), safe);
    expect(first).toEqual({ outputs: new Map([[seen[0]!.name, { lines: ['out of **'] }]]), pending: false });
    expect(e.reads).toEqual([{ id: 'c1', opts: { lines: OUTPUT_LINES, maxBytes: OUTPUT_MAX_BYTES, timeoutMs: expect.any(Number) } }]);
    expect((await outputs.collect(seen, new Set(), safe)).outputs.size).toBe(1);
    expect(e.reads).toHaveLength(1);
  });

  it('forgets a container once it is gone, and never reads one whose output the previous document has', async () => {
    const e = engine();
    const outputs = new JobOutputs({ logs: e.logs, redact: (s) => s, log });
    await outputs.collect([container('c1')], new Set(), safe);
    await outputs.collect([], new Set(), safe);
    await outputs.collect([container('c1')], new Set(), safe);
    expect(e.reads.map((r) => r.id)).toEqual(['c1', 'c1']);
    const c3 = container('c3');
    expect((await outputs.collect([c3], new Set([c3.name]), safe)).outputs.size).toBe(0);
    expect(e.reads).toHaveLength(2);
  });

  it('a failed read leaves the output out with the reason, and is tried again on later passes, at most OUTPUT_TRIES times', async () => {
    const e = engine(async () => { throw new BerthError('E_DOCKER', 'output of container c1: no answer within 2000 ms'); });
    const outputs = new JobOutputs({ logs: e.logs, redact: (s) => s, log });
    const c = container('c1');
    for (let i = 0; i < OUTPUT_TRIES + 2; i++) {
      const got = await outputs.collect([c], new Set(), safe);
      expect(got.outputs.get(c.name)).toEqual({ unavailable: 'output not read: output of container c1: no answer within 2000 ms' });
    }
    expect(e.reads).toHaveLength(OUTPUT_TRIES);
  });

  it('never reads the output of a container whose secrets cannot be registered', async () => {
    const e = engine();
    const outputs = new JobOutputs({ logs: e.logs, redact: (s) => s, log });
    const c = container('c1');
    const got = await outputs.collect([c], new Set(), async () => 'output not read: secrets');
    expect(got.outputs.get(c.name)).toEqual({ unavailable: 'output not read: secrets' });
    await outputs.collect([c], new Set(), safe);
    expect(e.reads).toHaveLength(0);
  });

  it('a pass waits at most its budget; a slow read lands in the cache for the next pass', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const e = engine(async () => { await gate; return { text: 'late\n', truncated: false }; });
    const outputs = new JobOutputs({ logs: e.logs, redact: (s) => s, log, budgetMs: 20 });
    const c = container('c1');
    expect(await outputs.collect([c], new Set(), safe)).toEqual({ outputs: new Map(), pending: true });
    release();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await outputs.collect([c], new Set(), safe)).toEqual({ outputs: new Map([[c.name, { lines: ['late'] }]]), pending: false });
    expect(e.reads).toHaveLength(1);
  });

  it('holds at most maxEntries containers: more are read once the status records earlier ones; without a logs API it reads nothing', async () => {
    const e = engine();
    const outputs = new JobOutputs({ logs: e.logs, redact: (s) => s, log, maxEntries: 2 });
    const cs = ['a', 'b', 'c'].map((id) => container(id));
    const first = await outputs.collect(cs, new Set(), safe);
    expect([...first.outputs.keys()]).toEqual([cs[0]!.name, cs[1]!.name]);
    expect(first.pending).toBe(true);
    const second = await outputs.collect(cs, new Set([cs[0]!.name, cs[1]!.name]), safe);
    expect([...second.outputs.keys()]).toEqual([cs[2]!.name]);
    expect(second.pending).toBe(false);
    expect(e.reads.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    const blind = new JobOutputs({ redact: (s) => s, log });
    expect(await blind.collect(cs, new Set(), safe)).toEqual({ outputs: new Map(), pending: false });
  });
});
