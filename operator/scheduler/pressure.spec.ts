import { describe, expect, it } from 'vitest';
import { Mi, placed, placement, replicas } from '../../test/doubles/scheduler-fixtures.ts';
import { pressureVictims } from './pressure.ts';

describe('pressureVictims', () => {
  const running = [
    placed(replicas('a/vip', 1, 0, 500 * Mi, placement({ priority: 100 }))[0]!, 'n1'),
    placed(replicas('b/small', 1, 0, 100 * Mi)[0]!, 'n1'),
    placed(replicas('c/large', 1, 0, 300 * Mi)[0]!, 'n1'),
    placed(replicas('d/mid', 1, 0, 200 * Mi, placement({ priority: 10 }))[0]!, 'n1'),
    placed(replicas('e/elsewhere', 1, 0, 900 * Mi)[0]!, 'n2'),
  ];
  const names = (xs: { service: string }[]) => xs.map((x) => x.service);

  it('stops the lowest priority first, then the largest, until under the high mark', () => {
    expect(names(pressureVictims('n1', running, 1100 * Mi, 1000 * Mi))).toEqual(['c/large']);
    expect(names(pressureVictims('n1', running, 1100 * Mi, 700 * Mi))).toEqual(['c/large', 'b/small', 'd/mid']);
  });

  it('stops nothing below the mark, everything when nothing else is enough, and only on that node', () => {
    expect(pressureVictims('n1', running, 900 * Mi, 1000 * Mi)).toEqual([]);
    expect(names(pressureVictims('n1', running, 5000 * Mi, 1000 * Mi))).toEqual(['c/large', 'b/small', 'd/mid', 'a/vip']);
    expect(names(pressureVictims('n2', running, 1000 * Mi, 500 * Mi))).toEqual(['e/elsewhere']);
  });
});
