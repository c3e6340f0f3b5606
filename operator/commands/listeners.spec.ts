import { describe, expect, it } from 'vitest';
import type { PassResult } from '../reconciler/reconciler.ts';
import { Closers, OperatorListeners, appliedRevisionWatch, closer } from './listeners.ts';

const pass = (applied: string | null): PassResult => ({ status: { revision: { applied, latest: applied } } }) as unknown as PassResult;

describe('OperatorListeners', () => {
  it('calls pass listeners in the order they were registered', () => {
    const calls: string[] = [];
    const l = new OperatorListeners().onPass({ afterPass: (_r, t) => calls.push(`a ${t}`) }, { afterPass: (_r, t, ms) => calls.push(`b ${t} ${ms}`) });
    l.afterPass(pass('r1'), 'start', 5);
    expect(calls).toEqual(['a start', 'b start 5']);
  });

  it('tells revision listeners after the first pass and when the applied revision moves', () => {
    const seen: (string | null)[] = [];
    const watch = appliedRevisionWatch({ onAppliedRevision: (r) => seen.push(r) });
    for (const r of [null, null, 'r1', 'r1', 'r2']) watch.afterPass(pass(r), 'x', 0);
    expect(seen).toEqual([null, 'r1', 'r2']);
  });
});

describe('Closers', () => {
  it('closes in order, each awaited before the next', async () => {
    const calls: string[] = [];
    const closers = new Closers().add(closer(async () => { await new Promise((r) => setTimeout(r, 5)); calls.push('a'); }), closer(() => calls.push('b')));
    closers.add(closer(() => undefined));
    await closers.close();
    expect(calls).toEqual(['a', 'b']);
  });
});
