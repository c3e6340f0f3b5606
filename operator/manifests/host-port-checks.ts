/**
 * Engine port bindings (spec.ports[].hostPort) across a revision: one container holds a host address, port and
 * protocol, and a tcp host port is never one berth's proxy publishes (loadBalancer.publish, ports[].publish, a Route's
 * publish). Each conflict is reported at both fields, each naming the other.
 */
import type { SourceLocation } from '../model/errors.ts';
import { resourceKey } from '../model/keys.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import type { Located, RouteReport } from './route-checks.ts';

interface Field {
  /** `Service ns/name` or `Route ns/name`. */
  owner: string;
  doc: RawDoc;
  path: PathSegment[];
}

interface Binding extends Field {
  hostPort: number;
  hostIp?: string;
  protocol: 'tcp' | 'udp';
}

/** Reports two bindings of one port and protocol on overlapping addresses, and tcp bindings of a proxy-published port. */
export function checkHostPorts(items: readonly Located[], report: RouteReport): void {
  const byPort = new Map<string, Binding[]>();
  const proxied = proxyPorts(items);
  for (const b of items.flatMap(bindingsOf)) {
    const id = `${b.hostPort}/${b.protocol}`;
    const earlier = byPort.get(id) ?? [];
    for (const o of earlier.filter((e) => overlap(e.hostIp, b.hostIp))) {
      report(b.doc, b.path, `host port ${id}${on(b.hostIp)} is also bound by ${o.owner} at ${where(o)}`);
      report(o.doc, o.path, `host port ${id}${on(o.hostIp)} is also bound by ${b.owner} at ${where(b)}`);
    }
    byPort.set(id, [...earlier, b]);
    const proxy = b.protocol === 'tcp' ? proxied.get(b.hostPort) : undefined;
    if (proxy) {
      report(b.doc, b.path, `host port ${id} is also published by berth's proxy for ${proxy.owner} at ${where(proxy)}`);
      report(proxy.doc, proxy.path, `port ${b.hostPort} is also bound by the engine for ${b.owner} (hostPort) at ${where(b)}`);
    }
  }
}

function bindingsOf({ doc, manifest: m }: Located): Binding[] {
  if (m.kind !== 'Service') return [];
  const owner = `Service ${resourceKey(m.metadata.namespace, m.metadata.name)}`;
  return m.spec.ports.flatMap((p, i) => (p.hostPort === undefined ? [] : [{
    owner, doc, path: ['spec', 'ports', i, 'hostPort'], hostPort: p.hostPort, protocol: p.protocol, ...(p.hostIp !== undefined ? { hostIp: p.hostIp } : {}),
  }]));
}

/** The first proxy publisher of each port (a second one is checkPublishedPorts' error). */
function proxyPorts(items: readonly Located[]): Map<number, Field> {
  const out = new Map<number, Field>();
  const add = (port: number, f: Field): void => { if (!out.has(port)) out.set(port, f); };
  for (const { doc, manifest: m } of items) {
    const key = resourceKey(m.metadata.namespace, m.metadata.name);
    if (m.kind === 'Route') add(m.spec.publish.port, { owner: `Route ${key}`, doc, path: ['spec', 'publish', 'port'] });
    if (m.kind !== 'Service') continue;
    const lb = m.spec.loadBalancer?.publish;
    if (lb) add(lb.port, { owner: `Service ${key}`, doc, path: ['spec', 'loadBalancer', 'publish', 'port'] });
    m.spec.ports.forEach((p, i) => { if (p.publish) add(p.publish.port, { owner: `Service ${key}`, doc, path: ['spec', 'ports', i, 'publish', 'port'] }); });
  }
  return out;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** Two host addresses overlap when either is every address (absent, 0.0.0.0 or ::) or both are the same. */
export function overlap(a: string | undefined, b: string | undefined): boolean {
  return a === undefined || b === undefined || WILDCARDS.has(a) || WILDCARDS.has(b) || a === b;
}

function on(ip: string | undefined): string {
  return ip === undefined ? '' : ` on ${ip}`;
}

function where(f: Field): string {
  const loc: SourceLocation = f.doc.loc.at(f.path);
  return `${loc.file}:${loc.line}`;
}
