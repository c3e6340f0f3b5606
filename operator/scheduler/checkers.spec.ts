import { describe, expect, it } from 'vitest';
import { Gi, Mi, node, placed, placement, replicas } from '../../test/doubles/scheduler-fixtures.ts';
import { constraints, maxPerNode, nodeReady, nodeSchedulable, resourcesFit, runCheckers, CHECKERS } from './checkers.ts';
import { ClusterState, demandOf } from './state.ts';
import type { Checker, Placed, SchedNode, SchedReplica } from './types.ts';

/** The reason `checker` rejects the single node `n` for `r`, or undefined when it keeps it. */
function check(checker: Checker, n: SchedNode, r: SchedReplica, running: Placed[] = []): string | undefined {
  const state = new ClusterState([n], running);
  let reason: string | undefined;
  const kept = checker.filter(Int32Array.of(0), 1, state.view(demandOf(r)), (_, why) => (reason = why));
  expect(kept).toBe(reason === undefined ? 1 : 0);
  return reason;
}

const [web] = replicas('shop/web', 1, 1, 1 * Gi);

describe('feasibility checkers', () => {
  it('come in pipeline order, node checkers before load checkers', () => {
    expect(CHECKERS.map((c) => `${c.name}:${c.kind}`)).toEqual(['node-ready:node', 'node-schedulable:node', 'constraints:node', 'resources-fit:load', 'max-per-node:load']);
  });

  it('node ready / schedulable', () => {
    expect(check(nodeReady, node('a'), web!)).toBeUndefined();
    expect(check(nodeReady, node('a', {}, 4, 8 * Gi, { ready: false }), web!)).toBe('node not ready');
    expect(check(nodeSchedulable, node('a'), web!)).toBeUndefined();
    expect(check(nodeSchedulable, node('a', {}, 4, 8 * Gi, { schedulable: false }), web!)).toBe('node unschedulable');
  });

  it('constraints: labels and name, == and !=; a missing label never equals and always differs', () => {
    const r = (...exprs: string[]) => ({ ...web!, placement: placement({ constraints: exprs }) });
    const a = node('n1', { zone: 'a' });
    const bare = node('n2');
    expect(check(constraints, a, r('node.labels.zone == a'))).toBeUndefined();
    expect(check(constraints, a, r('node.labels.zone != a'))).toBe('node.labels.zone != a not met');
    expect(check(constraints, bare, r('node.labels.zone == a'))).toBe('node.labels.zone == a not met');
    expect(check(constraints, bare, r('node.labels.zone != a'))).toBeUndefined();
    expect(check(constraints, a, r('node.name == n1'))).toBeUndefined();
    expect(check(constraints, a, r('node.name != n1'))).toBe('node.name != n1 not met');
    // The first unmet constraint is the reason.
    expect(check(constraints, a, r('node.name == n1', 'node.labels.tier == db', 'node.name == x'))).toBe('node.labels.tier == db not met');
  });

  it('resources fit against capacity minus what is placed there', () => {
    const n = node('a', {}, 2, 2 * Gi);
    expect(check(resourcesFit, n, web!)).toBeUndefined();
    const other = placed(replicas('shop/db', 1, 1, 1 * Gi)[0]!, 'a');
    expect(check(resourcesFit, n, web!, [other])).toBeUndefined(); // exactly full fits
    expect(check(resourcesFit, n, { ...web!, memory: 1 * Gi + 1 }, [other])).toBe('insufficient memory');
    expect(check(resourcesFit, n, { ...web!, cpu: 1.001 }, [other])).toBe('insufficient cpu');
    expect(check(resourcesFit, n, { ...web!, cpu: 2, memory: 2 * Gi }, [other])).toBe('insufficient cpu and memory');
    // Replicas placed on other (or vanished) nodes take nothing here.
    expect(check(resourcesFit, n, web!, [{ ...other, node: 'gone' }, { ...other, node: 'gone' }])).toBeUndefined();
  });

  it('sums fractional cpu exactly (millicores), whatever the order', () => {
    const n = node('a', {}, 0.3, Gi);
    const tenth = replicas('x/tenth', 2, 0.1, Mi).map((r) => placed(r, 'a'));
    expect(check(resourcesFit, n, { ...web!, cpu: 0.1, memory: Mi }, tenth)).toBeUndefined();
  });

  it('maxPerNode counts replicas of the same service only', () => {
    const p = placement({ maxPerNode: 2 });
    const [r0, r1, r2] = replicas('shop/web', 3, 0, 0, p);
    const n = node('a');
    expect(check(maxPerNode, n, r2!, [placed(r0!, 'a')])).toBeUndefined();
    expect(check(maxPerNode, n, r2!, [placed(r0!, 'a'), placed(r1!, 'a')])).toBe('maxPerNode 2 reached');
    const others = replicas('shop/db', 5, 0, 0).map((r) => placed(r, 'a'));
    expect(check(maxPerNode, n, r2!, others)).toBeUndefined();
    expect(check(maxPerNode, n, { ...r2!, placement: placement() }, [placed(r0!, 'a'), placed(r1!, 'a')])).toBeUndefined();
  });

  it('filter in place, keeping order, and the first checker to reject names the reason', () => {
    const nodes = [node('a', { zone: 'x' }), node('b', { zone: 'y' }), node('c', { zone: 'x' }, 0.5), node('d', { zone: 'x' }, 4, 8 * Gi, { ready: false }), node('e', { zone: 'x' })];
    const state = new ClusterState(nodes, []);
    const view = state.view(demandOf({ ...web!, placement: placement({ constraints: ['node.labels.zone == x'] }) }));
    const buf = Int32Array.from([0, 1, 2, 3, 4]);
    const reasons: string[] = [];
    const kept = runCheckers(CHECKERS, buf, 5, view, (i, why) => reasons.push(`${state.nodes[i]!.name}: ${why}`));
    expect([...buf.slice(0, kept)]).toEqual([0, 4]);
    expect(reasons.sort()).toEqual(['b: node.labels.zone == x not met', 'c: insufficient cpu', 'd: node not ready']);
  });
});
