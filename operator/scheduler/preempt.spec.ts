import { describe, expect, it } from 'vitest';
import { Gi, node, placed, placement, replicas } from '../../test/doubles/scheduler-fixtures.ts';
import { schedule } from './schedule.ts';
import type { Placed, ScheduleResult, SchedNode } from './types.ts';

const low = (service: string, count: number, cpu: number, nodeName: string, priority = 0): Placed[] =>
  replicas(service, count, cpu, 0, placement({ priority })).map((r) => placed(r, nodeName));
const vip = (cpu: number, priority = 100, more = {}) => replicas('shop/vip', 1, cpu, 0, placement({ priority, ...more }));
const victims = (res: ScheduleResult) => res.evictions.map((e) => `${e.victim.node}:${e.victim.service}#${e.victim.replica}`);

describe('preemption', () => {
  it('evicts on the node needing the fewest victims and records who and why', () => {
    const nodes = [node('n1', {}, 2, Gi), node('n2', {}, 2, Gi)];
    const running = [...low('b/small', 2, 1, 'n1', 0), ...low('a/big', 1, 2, 'n2', 50)];
    const res = schedule({ nodes, placed: running, pending: vip(2) });
    expect(res.assignments).toEqual([{ service: 'shop/vip', replica: 0, node: 'n2' }]);
    expect(res.evictions).toEqual([{ victim: running[2], by: { service: 'shop/vip', replica: 0 }, reason: 'preempted by shop/vip #0 (priority 100 > 50)' }]);
    expect(res.unschedulable).toEqual([]);
  });

  it('within a node, takes the smallest set: one large victim rather than several small ones', () => {
    const running = [...low('a/small', 2, 1, 'n1'), ...low('b/big', 1, 2, 'n1')];
    const res = schedule({ nodes: [node('n1', {}, 4, Gi)], placed: running, pending: vip(2) });
    expect(victims(res)).toEqual(['n1:b/big#0']);
  });

  it('among sets of one size: lowest priority, then least resources', () => {
    const lowest = schedule({ nodes: [node('n1', {}, 2, Gi)], placed: [...low('a/p5', 1, 1, 'n1', 5), ...low('b/p0', 1, 1, 'n1', 0)], pending: vip(1) });
    expect(victims(lowest)).toEqual(['n1:b/p0#0']);
    const smallest = schedule({ nodes: [node('n1', {}, 4, Gi)], placed: [...low('a/big', 1, 3, 'n1'), ...low('b/small', 1, 1, 'n1')], pending: vip(1) });
    expect(victims(smallest)).toEqual(['n1:b/small#0']);
  });

  it('between nodes with sets of one size: lowest priority sum, then node name', () => {
    const nodes = [node('n1', {}, 1, Gi), node('n2', {}, 1, Gi), node('n3', {}, 1, Gi)];
    const byPriority = schedule({ nodes, placed: [...low('a/x', 1, 1, 'n1', 7), ...low('b/y', 1, 1, 'n2', 3), ...low('c/z', 1, 1, 'n3', 3)], pending: vip(1) });
    expect(victims(byPriority)).toEqual(['n2:b/y#0']);
    expect(byPriority.assignments[0]!.node).toBe('n2');
  });

  it('never evicts a replica less than 10 priority below', () => {
    const nodes = [node('n1', {}, 1, Gi)];
    const close = schedule({ nodes, placed: low('a/x', 1, 1, 'n1', 91), pending: vip(1, 100) });
    expect(close.evictions).toEqual([]);
    expect(close.unschedulable[0]!.reason).toBe('0/1 nodes available: 1 insufficient cpu');
    const enough = schedule({ nodes, placed: low('a/x', 1, 1, 'n1', 90), pending: vip(1, 100) });
    expect(victims(enough)).toEqual(['n1:a/x#0']);
  });

  it('never relieves a constraint, nor a node not ready or cordoned', () => {
    const nodes: SchedNode[] = [
      node('allowed', { zone: 'a' }, 1, Gi),
      node('other', { zone: 'b' }, 1, Gi),
      node('down', { zone: 'a' }, 1, Gi, { ready: false }),
      node('cordoned', { zone: 'a' }, 1, Gi, { schedulable: false }),
    ];
    const running = [...low('a/peer', 1, 1, 'allowed', 95), ...low('b/x', 1, 1, 'other'), ...low('c/x', 1, 1, 'down'), ...low('d/x', 1, 1, 'cordoned')];
    const res = schedule({ nodes, placed: running, pending: vip(1, 100, { constraints: ['node.labels.zone == a'] }) });
    expect(res.evictions).toEqual([]);
    expect(res.unschedulable[0]!.reason).toBe('0/4 nodes available: 1 insufficient cpu, 1 node not ready, 1 node unschedulable, 1 node.labels.zone == a not met');
  });

  it('relieves maxPerNode by evicting a lower-priority replica of the same service', () => {
    const old = replicas('shop/web', 1, 0, 0, placement({ maxPerNode: 1 })).map((r) => placed(r, 'n1'));
    const res = schedule({ nodes: [node('n1')], placed: old, pending: [{ ...old[0]!, replica: 1, placement: placement({ maxPerNode: 1, priority: 10 }) }] });
    expect(victims(res)).toEqual(['n1:shop/web#0']);
  });

  it('does not re-place evicted replicas in the same call, even where they would fit', () => {
    const nodes = [node('n1', {}, 2, Gi), node('n2', {}, 4, Gi)];
    const running = low('a/x', 1, 2, 'n1');
    const res = schedule({ nodes, placed: running, pending: vip(2, 100, { constraints: ['node.name == n1'] }) });
    expect(victims(res)).toEqual(['n1:a/x#0']);
    expect(res.assignments).toEqual([{ service: 'shop/vip', replica: 0, node: 'n1' }]);
    expect(res.unschedulable).toEqual([]);
    // Later pending replicas see the state after preemption: n1 full again, n2 free.
    const more = schedule({ nodes, placed: running, pending: [...vip(2, 100, { constraints: ['node.name == n1'] }), ...replicas('c/z', 2, 1, 0)] });
    expect(more.assignments.map((a) => `${a.service}@${a.node}`)).toEqual(['shop/vip@n1', 'c/z@n2', 'c/z@n2']);
    expect(more.evictions.length).toBe(1);
  });

  it('a victim evicted once is not counted again by a later preemptor', () => {
    const running = low('a/x', 2, 1, 'n1');
    const res = schedule({ nodes: [node('n1', {}, 2, Gi)], placed: running, pending: replicas('shop/vip', 3, 1, 0, placement({ priority: 100 })) });
    expect(victims(res)).toEqual(['n1:a/x#0', 'n1:a/x#1']);
    expect(res.assignments.length).toBe(2);
    expect(res.unschedulable.map((u) => u.replica)).toEqual([2]);
  });

  it('falls back to a greedy choice on large victim pools, still sufficient and minimal', () => {
    const running = low('a/tiny', 40, 0.1, 'n1');
    const res = schedule({ nodes: [node('n1', {}, 4, Gi)], placed: running, pending: vip(2) });
    expect(res.evictions.length).toBe(20);
    expect(res.assignments[0]!.node).toBe('n1');
  });

  it('answers each preemptor for its own demand on an unchanged node', () => {
    const nodes = [node('n1', {}, 3, Gi), node('n2', {}, 3, Gi)];
    const running = [...low('a/one', 1, 1, 'n1'), ...low('a/two', 1, 2, 'n1'), ...low('b/three', 1, 3, 'n2')];
    const pending = [...replicas('x/small', 1, 1, 0, placement({ priority: 60 })), ...replicas('y/large', 1, 3, 0, placement({ priority: 50 }))];
    const res = schedule({ nodes, placed: running, pending });
    expect(victims(res)).toEqual(['n1:a/one#0', 'n2:b/three#0']);
    expect(res.assignments).toEqual([{ service: 'x/small', replica: 0, node: 'n1' }, { service: 'y/large', replica: 0, node: 'n2' }]);
  });
});
