import { describe, expect, it } from 'vitest';
import { silentLogger } from '../util/log.ts';
import type { StatusDoc } from './report.ts';
import { transition, StatusWriter } from './writer.ts';

function doc(over: { applied?: string; ready?: 'True' | 'False'; stalled?: 'True' | 'False'; note?: string } = {}): StatusDoc {
  return {
    apiVersion: 'berth/v1', kind: 'Status', instance: 't', source: { repo: 'r', branch: 'main', path: '.' },
    revision: { applied: over.applied ?? 'a1', latest: over.applied ?? 'a1' },
    conditions: [
      { type: 'Ready', status: over.ready ?? 'True', reason: 'Converged', message: over.note ?? '', lastTransitionTime: 't0' },
      { type: 'Stalled', status: over.stalled ?? 'False', reason: 'None', message: '', lastTransitionTime: 't0' },
    ],
    services: {}, drift: [], held: {}, lastError: null,
  } as unknown as StatusDoc;
}

function setup(intervalMs = 30_000) {
  let now = 0;
  const writes: string[] = [];
  const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
  const writer = new StatusWriter({
    source: { writeStatus: async (files) => { writes.push(Object.values(files)[0]!); return `c${writes.length}`; } },
    instance: 't', log: silentLogger, intervalMs, now: () => now,
    setTimer: (fn, ms) => { const t = { fn, at: now + ms, cancelled: false }; timers.push(t); return { cancel: () => { t.cancelled = true; } }; },
  });
  const advance = async (ms: number) => {
    now += ms;
    for (const t of timers.filter((x) => !x.cancelled && x.at <= now)) { t.cancelled = true; t.fn(); }
    await writer.idle();
  };
  return { writer, writes, advance, timers };
}

describe('StatusWriter', () => {
  it('commits an urgent offer (a run turned Failed) at once, even within the interval', async () => {
    const { writer, writes } = setup();
    await writer.offer(doc({ note: 'n0' }));
    await writer.offer(doc({ note: 'job failed' }));
    expect(writes).toHaveLength(1);
    await writer.offer(doc({ note: 'job failed, alerted' }), { urgent: true });
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain('job failed, alerted');
  });

  it('commits transitions at once and coalesces other changes to one commit per interval, with the newest content', async () => {
    const { writer, writes, advance } = setup();
    await writer.offer(doc({ note: 'n0' }));
    expect(writes).toHaveLength(1);
    for (let i = 1; i <= 10; i++) {
      await advance(1_000);
      await writer.offer(doc({ note: `flap ${i}` }));
    }
    expect(writes).toHaveLength(1);
    await advance(20_000);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain('flap 10');
    await writer.offer(doc({ note: 'flap 11', ready: 'False' }));
    expect(writes).toHaveLength(3);
    await writer.offer(doc({ note: 'flap 11', ready: 'False', applied: 'a2' }));
    expect(writes).toHaveLength(4);
  });

  it('never commits unchanged content, and retries a failed write on the next offer', async () => {
    let fail = true;
    const writes: string[] = [];
    const writer = new StatusWriter({
      source: { writeStatus: async (files) => { if (fail) throw new Error('git down'); writes.push(Object.values(files)[0]!); return 'c'; } },
      instance: 't', log: silentLogger,
    });
    await writer.offer(doc());
    expect(writes).toHaveLength(0);
    fail = false;
    await writer.offer(doc());
    expect(writes).toHaveLength(1);
    await writer.offer(doc());
    expect(writes).toHaveLength(1);
  });

  it('returns from an urgent write that hangs after its wait bound, and the write completes later', async () => {
    let release: (() => void) | undefined;
    const writer = new StatusWriter({
      source: { writeStatus: () => new Promise((resolve) => { release = () => resolve('c'); }) },
      instance: 't', log: silentLogger, waitMs: 20,
    });
    await writer.offer(doc());
    expect(release).toBeDefined();
    release!();
    await writer.flush();
    expect(writer.commits).toBe(1);
  });

  it('redacts the rendered document and the commit message', async () => {
    const writes: string[] = [];
    const messages: string[] = [];
    const writer = new StatusWriter({
      source: { writeStatus: async (files, message) => { writes.push(Object.values(files)[0]!); messages.push(message); return 'c'; } },
      instance: 't', log: silentLogger, redact: (t) => t.split('s3cr3t-value').join('***'),
    });
    await writer.offer(doc({ ready: 'False', note: 'probe said s3cr3t-value' }));
    expect(writes[0]).toContain('probe said ***');
    expect(writes[0]).not.toContain('s3cr3t-value');
    expect(messages[0]).not.toContain('s3cr3t-value');
  });

  it('tells revision changes and Stalled / Ready flips from other changes', () => {
    expect(transition(null, doc())).toBe('revision');
    expect(transition(doc(), doc({ note: 'other' }))).toBeNull();
    expect(transition(doc(), doc({ applied: 'b' }))).toBe('revision');
    expect(transition(doc(), doc({ ready: 'False' }))).toBe('ready');
    expect(transition(doc(), doc({ stalled: 'True' }))).toBe('stalled');
  });

  it('commits the first Ready flip at once, and a flapping Ready once per interval', async () => {
    const { writer, writes, advance } = setup();
    await writer.offer(doc());
    await advance(1_000);
    await writer.offer(doc({ ready: 'False' }));
    expect(writes).toHaveLength(2);
    for (let i = 0; i < 10; i++) {
      await advance(2_000);
      await writer.offer(doc({ ready: i % 2 ? 'False' : 'True', note: `flap ${i}` }));
    }
    expect(writes).toHaveLength(2);
    await advance(10_000);
    expect(writes).toHaveLength(3);
    expect(writes[2]).toContain('flap 9');
  });
});
