/** Helpers shared by the algorithms: endpoint normalisation and lookup by id. */
import type { Endpoint } from './types.ts';

/**
 * Returns the endpoints with duplicate ids dropped (the first one wins) and every weight made a positive integer
 * (not finite or below 1 -> 1, fractions floored). Input order is kept: it is the round-robin order.
 */
export function normalizeEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const e of endpoints) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const weight = normalizeWeight(e.weight);
    out.push(weight === e.weight ? e : { ...e, weight });
  }
  return out;
}

/** A weight as a positive integer. */
export function normalizeWeight(w: number): number {
  if (!Number.isFinite(w) || w < 1) return 1;
  return Math.floor(w);
}

/** Index of every endpoint by id. */
export function indexById(endpoints: readonly Endpoint[]): Map<string, number> {
  const byId = new Map<string, number>();
  endpoints.forEach((e, i) => byId.set(e.id, i));
  return byId;
}
