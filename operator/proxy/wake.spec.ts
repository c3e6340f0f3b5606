import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_WAKE_WAIT_MS, WakeHold, WakeSignals, wakeProblem } from './wake.ts';

afterEach(() => {
  vi.useRealTimers();
});

function entry(log: string[], name: string) {
  return { forward: () => log.push(`forward ${name}`), expire: () => log.push(`expire ${name}`) };
}

describe('WakeHold', () => {
  it('holds up to `queue` entries and refuses the next (nothing kept), counting the gauge', () => {
    const signals = new WakeSignals();
    const hold = new WakeHold('ns/a', { queue: 2, timeoutMs: 1_000 }, signals);
    hold.gauge = { held: 0 };
    const log: string[] = [];
    expect(hold.hold(entry(log, 'a'))).toBeTypeOf('function');
    expect(hold.hold(entry(log, 'b'))).toBeTypeOf('function');
    expect(hold.hold(entry(log, 'c'))).toBeUndefined();
    expect(hold.size).toBe(2);
    expect(hold.gauge.held).toBe(2);
    hold.close();
    expect(hold.gauge.held).toBe(0);
    expect(log).toEqual([]);
  });

  it('forwards every held entry in arrival order on release, once', () => {
    const hold = new WakeHold('ns/a', { queue: 10, timeoutMs: 1_000 }, new WakeSignals());
    const log: string[] = [];
    for (const n of ['1', '2', '3']) hold.hold(entry(log, n));
    hold.release();
    hold.release();
    expect(log).toEqual(['forward 1', 'forward 2', 'forward 3']);
    expect(hold.size).toBe(0);
  });

  it('expires an entry held longer than timeoutMs, and only that one', () => {
    vi.useFakeTimers();
    const hold = new WakeHold('ns/a', { queue: 10, timeoutMs: 1_000 }, new WakeSignals());
    const log: string[] = [];
    hold.hold(entry(log, 'old'));
    vi.advanceTimersByTime(600);
    hold.hold(entry(log, 'new'));
    vi.advanceTimersByTime(500);
    expect(log).toEqual(['expire old']);
    expect(hold.size).toBe(1);
    // held again with the deadline it already had (a request chosen again after a release)
    hold.hold(entry(log, 'again'), Date.now() + 100);
    vi.advanceTimersByTime(100);
    expect(log).toEqual(['expire old', 'expire again']);
    hold.release();
    expect(log).toEqual(['expire old', 'expire again', 'forward new']);
  });

  it('drops an entry whose client left: neither forwarded nor expired, its place free again', () => {
    vi.useFakeTimers();
    const hold = new WakeHold('ns/a', { queue: 1, timeoutMs: 1_000 }, new WakeSignals());
    const log: string[] = [];
    const drop = hold.hold(entry(log, 'gone'))!;
    drop();
    drop();
    expect(hold.size).toBe(0);
    expect(hold.hold(entry(log, 'next'))).toBeTypeOf('function');
    vi.advanceTimersByTime(2_000);
    expect(log).toEqual(['expire next']);
  });

  it('notes the wake of its service on every hold (reported once until taken)', () => {
    const signals = new WakeSignals();
    const hold = new WakeHold('ns/a', { queue: 5, timeoutMs: 1_000 }, signals);
    hold.hold(entry([], 'x'));
    hold.hold(entry([], 'y'));
    expect(signals.take()).toEqual(['ns/a']);
    expect(signals.take()).toEqual([]);
    hold.close();
  });

  it('checks its settings', () => {
    expect(wakeProblem({ queue: 1, timeoutMs: 1 })).toBeNull();
    expect(wakeProblem({ queue: 0, timeoutMs: 1 })).toMatch(/queue/);
    expect(wakeProblem({ queue: 1.5, timeoutMs: 1 })).toMatch(/queue/);
    expect(wakeProblem({ queue: 1, timeoutMs: -1 })).toMatch(/timeoutMs/);
    expect(wakeProblem({ queue: 1 })).toMatch(/timeoutMs/);
    expect(wakeProblem([])).toMatch(/wake must be/);
    expect(() => new WakeHold('x', { queue: 0, timeoutMs: 1 })).toThrow(/queue/);
  });
});

describe('WakeSignals', () => {
  it('answers a waiting poller as soon as a wake is noted; each wake once', async () => {
    const s = new WakeSignals();
    const poll = s.wait(10_000);
    s.note('ns/b');
    expect(await poll.services).toEqual(['ns/b']);
    expect(s.take()).toEqual([]);
    s.note('ns/c');
    s.note('ns/c');
    expect(s.take()).toEqual(['ns/c']);
    expect(s.take()).toEqual([]);
  });

  it('answers at once with what is pending, and [] after the wait (bounded) otherwise', async () => {
    vi.useFakeTimers();
    const s = new WakeSignals();
    s.note('ns/b');
    s.note('ns/a');
    expect(await s.wait(5_000).services).toEqual(['ns/a', 'ns/b']);
    const poll = s.wait(10 * MAX_WAKE_WAIT_MS);
    let got: string[] | undefined;
    void poll.services.then((v) => (got = v));
    await vi.advanceTimersByTimeAsync(MAX_WAKE_WAIT_MS - 1);
    expect(got).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(got).toEqual([]);
    expect(s.polling).toBe(0);
  });

  it('with several pollers, the first gets the wake and the others keep waiting; a cancelled poller takes nothing', async () => {
    const s = new WakeSignals();
    const a = s.wait(10_000);
    const b = s.wait(10_000);
    const c = s.wait(10_000);
    c.cancel();
    expect(await c.services).toEqual([]);
    s.note('ns/x');
    expect(await a.services).toEqual(['ns/x']);
    expect(s.polling).toBe(1);
    s.note('ns/y');
    expect(await b.services).toEqual(['ns/y']);
    expect(s.polling).toBe(0);
  });

  it('passes notes to its sink instead (a cluster worker reporting to its primary)', () => {
    const s = new WakeSignals();
    const sent: string[] = [];
    s.sink = (service) => sent.push(service);
    s.note('ns/a');
    s.note('ns/a');
    expect(sent).toEqual(['ns/a', 'ns/a']);
    expect(s.take()).toEqual([]);
  });
});
