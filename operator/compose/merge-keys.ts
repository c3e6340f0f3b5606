/** YAML merge keys, resolved before interpolation. */
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';

/** YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`), which compose files use with `x-` anchors: keys of the mapping itself win, then the first merged. */
export function resolveMergeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(resolveMergeKeys);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (k !== '<<') out[k] = resolveMergeKeys(x);
  const merge = v['<<'];
  if (merge !== undefined) {
    for (const src of Array.isArray(merge) ? merge : [merge]) {
      if (!isObj(src)) continue;
      for (const [k, x] of Object.entries(resolveMergeKeys(src) as Obj)) if (!(k in out)) out[k] = x;
    }
  }
  return out;
}
