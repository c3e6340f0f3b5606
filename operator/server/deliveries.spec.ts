import { describe, expect, it } from 'vitest';
import { DeliveryCache, deliveryKeys } from './deliveries.ts';

describe('DeliveryCache', () => {
  it('answers duplicate for a key seen within the window, and forgets it after', () => {
    const clock = { t: 0 };
    const cache = new DeliveryCache({ windowMs: 1_000, now: () => clock.t });
    expect(cache.checkAndRecord(['a'])).toBe(false);
    expect(cache.checkAndRecord(['a'])).toBe(true);
    expect(cache.checkAndRecord(['b', 'a'])).toBe(true);
    expect(cache.checkAndRecord(['b'])).toBe(false); // nothing of a duplicate was recorded
    clock.t = 1_000;
    expect(cache.checkAndRecord(['a'])).toBe(false);
    expect(cache.checkAndRecord([])).toBe(false);
    expect(cache.checkAndRecord([])).toBe(false);
  });

  it('keeps at most maxEntries keys, dropping the oldest; long keys are stored hashed', () => {
    const cache = new DeliveryCache({ maxEntries: 3, now: () => 0 });
    for (const k of ['k1', 'k2', 'k3', 'k4']) cache.checkAndRecord([k]);
    expect(cache.size).toBe(3);
    expect(cache.checkAndRecord(['k1'])).toBe(false);
    const long = 'x'.repeat(10_000);
    expect(cache.checkAndRecord([long])).toBe(false);
    expect(cache.checkAndRecord([long])).toBe(true);
  });

  it('takes the delivery ids of each forge and the verified signature as keys', () => {
    expect(deliveryKeys({ 'x-github-delivery': ' g ', 'x-gitea-delivery': 'e', 'x-gitlab-event-uuid': 'l' }, 'sha256=AB')).toEqual([
      'x-github-delivery:g', 'x-gitea-delivery:e', 'x-gitlab-event-uuid:l', 'signature:sha256=ab',
    ]);
    expect(deliveryKeys({})).toEqual([]);
  });
});
