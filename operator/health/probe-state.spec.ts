import { describe, expect, it } from 'vitest';
import type { ProbeSpec } from '../model/manifest.ts';
import { initialProbeState, nextProbeState, type ProbeState } from './probe-state.ts';

const PROBE: ProbeSpec = { tcp: { port: 80 }, intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, failureThreshold: 3, successThreshold: 2 };
const OK = { ok: true, message: 'HTTP 200', ms: 1 };
const FAIL = { ok: false, message: 'HTTP 500', ms: 1 };

/** Feeds `outcomes` ('o' ok, 'x' fail) at t = 1, 2, ... and returns every state. */
function run(pattern: string, probe = PROBE, from: ProbeState = initialProbeState(0)): ProbeState[] {
  const states: ProbeState[] = [];
  let s = from;
  [...pattern].forEach((c, i) => {
    s = nextProbeState(s, c === 'o' ? OK : FAIL, probe, i + 1);
    states.push(s);
  });
  return states;
}

describe('probe state machine', () => {
  it('starts unknown with no counts', () => {
    expect(initialProbeState(42)).toEqual({ status: 'unknown', consecutiveOk: 0, consecutiveFail: 0, lastMessage: '', since: 42 });
  });

  it('unknown -> passing after successThreshold consecutive successes', () => {
    expect(run('oo').map((s) => s.status)).toEqual(['unknown', 'passing']);
    expect(run('oo').at(-1)).toEqual({ status: 'passing', consecutiveOk: 2, consecutiveFail: 0, lastMessage: 'HTTP 200', since: 2 });
  });

  it('unknown -> failing after failureThreshold consecutive failures; a success in between resets the count', () => {
    expect(run('xxx').map((s) => s.status)).toEqual(['unknown', 'unknown', 'failing']);
    expect(run('xxoxx').map((s) => s.status)).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
    expect(run('xxoxx').at(-1)).toMatchObject({ consecutiveFail: 2, consecutiveOk: 0, lastMessage: 'HTTP 500' });
  });

  it('passing -> failing only after failureThreshold consecutive failures', () => {
    const states = run('ooxxoxxx');
    expect(states.map((s) => s.status)).toEqual(['unknown', 'passing', 'passing', 'passing', 'passing', 'passing', 'passing', 'failing']);
    expect(states.at(-1)).toMatchObject({ since: 8, consecutiveFail: 3 });
  });

  it('failing -> passing only after successThreshold consecutive successes', () => {
    const states = run('xxxoxoo');
    expect(states.map((s) => s.status)).toEqual(['unknown', 'unknown', 'failing', 'failing', 'failing', 'failing', 'passing']);
    expect(states.at(-1)?.since).toBe(7);
  });

  it('since moves only when the status changes; lastMessage always follows the outcome', () => {
    const states = run('ooo');
    expect(states.map((s) => s.since)).toEqual([0, 2, 2]);
    const after = nextProbeState(states[2]!, { ok: true, message: 'HTTP 204', ms: 1 }, PROBE, 99);
    expect(after).toMatchObject({ since: 2, lastMessage: 'HTTP 204', consecutiveOk: 4 });
  });

  it('thresholds of 1 flip on every outcome; thresholds below 1 count as 1', () => {
    const one = { ...PROBE, failureThreshold: 1, successThreshold: 1 };
    expect(run('oxo', one).map((s) => s.status)).toEqual(['passing', 'failing', 'passing']);
    const zero = { ...PROBE, failureThreshold: 0, successThreshold: 0 };
    expect(run('xo', zero).map((s) => s.status)).toEqual(['failing', 'passing']);
  });
});
