import { describe, expect, it } from 'vitest';
import { backoffDelay, decideRestart } from './backoff.ts';

describe('crash-loop backoff', () => {
  it('restarts at once, then waits 1 s doubling, capped at 5 min', () => {
    expect([1, 2, 3, 4, 5, 10, 20].map(backoffDelay)).toEqual([0, 1000, 2000, 4000, 8000, 256_000, 300_000]);
  });

  it('counts consecutive quick exits and reports CrashLoop from the third', () => {
    let d = decideRestart(undefined, 1000, 500, 1, 1000);
    expect(d).toMatchObject({ allow: true, crashLoop: false, delayMs: 0 });
    d = decideRestart(d.record, 2000, 500, 1, 2000);
    expect(d).toMatchObject({ allow: false, retryAt: 3000, delayMs: 1000 });
    d = decideRestart(d.record, 2000, 500, 1, 3000);
    expect(d.allow).toBe(true);
    d = decideRestart(d.record, 5000, 500, 1, 5000);
    expect(d).toMatchObject({ allow: false, crashLoop: true, retryAt: 7000 });
  });

  it('starts over after 10 minutes of running', () => {
    const d = decideRestart({ restarts: 9, lastStartAt: 0, lastExitCode: 1, lastExitAt: 1 }, 700_000, 650_000, 1, 700_000);
    expect(d).toMatchObject({ allow: true, crashLoop: false, record: { restarts: 1 } });
  });
});
