/** Ordering shared by the kinds' desired state. */

/** Compares two records by a string field (code-unit order, as the desired state has always been sorted). */
export function compareBy<K extends string>(field: K): (a: Record<K, string>, b: Record<K, string>) => number {
  return (a, b) => (a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : 0);
}
