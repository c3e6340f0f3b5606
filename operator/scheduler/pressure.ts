/** Node memory pressure (kubelet-style eviction order): which replicas to stop first to get a node back under its high mark. */
import { byString } from './state.ts';
import type { Placed } from './types.ts';

/**
 * The replicas on `node` to stop, in order, until `usedMemory` (bytes) minus their memory requests is below `highMark`:
 * lowest priority first, then largest memory request (then service, replica). Empty when already below; every replica
 * on the node when even that is not enough.
 */
export function pressureVictims(node: string, placed: readonly Placed[], usedMemory: number, highMark: number): Placed[] {
  const order = placed
    .filter((p) => p.node === node)
    .sort((a, b) => a.placement.priority - b.placement.priority || b.memory - a.memory || byString(a.service, b.service) || a.replica - b.replica);
  const out: Placed[] = [];
  let used = usedMemory;
  for (const p of order) {
    if (used < highMark) break;
    out.push(p);
    used -= p.memory;
  }
  return out;
}
