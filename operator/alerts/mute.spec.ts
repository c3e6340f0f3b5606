import { describe, expect, it } from 'vitest';
import { decideMute, forgetSend, type MuteState } from './mute.ts';

const MIN = 60_000;
const crash = { kind: 'crashloop', key: 'crashloop:shop/web#2' };

describe('decideMute', () => {
  it('sends the first alert of a key and records when', () => {
    const d = decideMute(new Map(), crash, 1000, 10 * MIN);
    expect(d.muted).toBe(false);
    expect([...d.next]).toEqual([[crash.key, 1000]]);
  });

  it('mutes repeats within the window without extending it, and sends again once it passed', () => {
    let state: MuteState = new Map();
    const at = (t: number): boolean => {
      const d = decideMute(state, crash, t, 10 * MIN);
      state = d.next;
      return d.muted;
    };
    expect([at(0), at(5 * MIN), at(10 * MIN - 1), at(10 * MIN), at(15 * MIN), at(20 * MIN)]).toEqual([false, true, true, false, true, false]);
  });

  it('keeps keys independent', () => {
    const first = decideMute(new Map(), crash, 0, MIN);
    const other = decideMute(first.next, { kind: 'crashloop', key: 'crashloop:shop/web#3' }, 1, MIN);
    expect(other.muted).toBe(false);
    expect(decideMute(other.next, crash, 2, MIN).muted).toBe(true);
  });

  it('a recovered alert is never muted and clears the mute of its key only', () => {
    const s1 = decideMute(new Map(), crash, 0, MIN).next;
    const s2 = decideMute(s1, { kind: 'health', key: 'health:shop/api' }, 0, MIN).next;
    const recovered = decideMute(s2, { kind: 'recovered', key: crash.key }, 10, MIN);
    expect(recovered.muted).toBe(false);
    expect(decideMute(recovered.next, { kind: 'recovered', key: crash.key }, 11, MIN).muted).toBe(false);
    expect(decideMute(recovered.next, crash, 20, MIN).muted).toBe(false);
    expect(decideMute(recovered.next, { kind: 'health', key: 'health:shop/api' }, 20, MIN).muted).toBe(true);
  });

  it('a zero window mutes nothing', () => {
    const s = decideMute(new Map(), crash, 5, 0).next;
    expect(decideMute(s, crash, 5, 0).muted).toBe(false);
  });

  it('drops expired keys and never mutates its input', () => {
    const state = new Map([['old', 0], ['new', 9 * MIN]]);
    const d = decideMute(state, crash, 10 * MIN, 5 * MIN);
    expect([...d.next.keys()].sort()).toEqual([crash.key, 'new']);
    expect([...state]).toEqual([['old', 0], ['new', 9 * MIN]]);
  });
});

describe('forgetSend', () => {
  it('forgets a send nobody received, unless the key was sent again since', () => {
    const state = new Map([[crash.key, 100]]);
    expect(forgetSend(state, crash.key, 100).has(crash.key)).toBe(false);
    expect(forgetSend(state, crash.key, 50).get(crash.key)).toBe(100);
    expect(state.get(crash.key)).toBe(100);
  });
});
