/** How a path inside a document is printed in messages: `spec.ports[0].containerPort`, `metadata.labels["a b"]`. */
import type { PathSegment } from './yaml-source.ts';

/** ['spec', 'ports', 0, 'port'] -> `spec.ports[0].port`; keys that are not identifiers are quoted: `metadata.labels["app.kubernetes.io/name"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
