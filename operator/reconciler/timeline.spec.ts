import { describe, expect, it } from 'vitest';
import { PassTimeline } from './timeline.ts';

describe('PassTimeline', () => {
  it('marks times since its start and summarizes repeated marks as first..last with a count', () => {
    let now = 1000;
    const t = new PassTimeline(() => now, 900);
    t.mark('triggered');
    for (const at of [1010, 1250, 1400]) { now = at; t.mark('started'); }
    now = 1450;
    t.mark('applied');
    expect(t.summary()).toEqual([
      { name: 'triggered', first: 100, last: 100, count: 1 },
      { name: 'started', first: 110, last: 500, count: 3 },
      { name: 'applied', first: 550, last: 550, count: 1 },
    ]);
    expect(t.text()).toBe('triggered 100 · started 110..500 (x3) · applied 550');
  });
});
