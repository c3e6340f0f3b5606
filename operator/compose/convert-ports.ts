/**
 * `ports` and `expose` -> spec.ports (container ports). Published tcp ports go through berth's proxy: the first as
 * spec.loadBalancer.publish + targetPort, the others as spec.ports[].publish (a listener forwarding to that container
 * port). Published udp ports, `mode: host` and items with a host_ip become the engine's own port bindings
 * (spec.ports[].hostPort / hostIp). Ranges are refused, at their item.
 */
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { ServiceContext } from './context.ts';
import { composeInt } from './units.ts';

interface PortItem {
  target: string;
  published?: string;
  hostIp?: string;
  protocol: string;
  mode?: string;
  name?: string;
}

/** `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`, or undefined when it does not parse. */
function parseShort(v: string | number): PortItem | undefined {
  let s = String(v).trim();
  let protocol = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    protocol = s.slice(slash + 1);
    s = s.slice(0, slash);
  }
  let hostIp: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']:');
    if (end < 0) return undefined;
    hostIp = s.slice(1, end);
    s = s.slice(end + 2);
    const [published, target, ...more] = s.split(':');
    if (target === undefined || more.length > 0) return undefined;
    return { target, ...(published ? { published } : {}), hostIp, protocol };
  }
  const parts = s.split(':');
  if (parts.length === 1) return { target: parts[0] as string, protocol };
  if (parts.length === 2) return { target: parts[1] as string, ...(parts[0] ? { published: parts[0] } : {}), protocol };
  if (parts.length === 3) return { target: parts[2] as string, ...(parts[1] ? { published: parts[1] } : {}), hostIp: parts[0], protocol };
  return undefined;
}

function parseLong(v: Record<string, unknown>): PortItem {
  const str = (x: unknown): string | undefined => (x === undefined || x === null ? undefined : String(x));
  return {
    target: String(v.target ?? ''),
    ...(str(v.published) ? { published: str(v.published) } : {}),
    ...(str(v.host_ip) ? { hostIp: str(v.host_ip) } : {}),
    protocol: str(v.protocol) ?? 'tcp',
    ...(str(v.mode) ? { mode: str(v.mode) } : {}),
    ...(str(v.name) ? { name: str(v.name) } : {}),
  };
}

/** One spec.ports entry made from a compose item: the item itself (filled in later) and its index. */
interface Entry {
  item: Record<string, unknown>;
  index: number;
}

/** Maps `ports` and `expose` of the service into ctx.spec. */
export function convertPorts(ctx: ServiceContext, ports: unknown, expose: unknown): void {
  const entries = new Map<string, Entry>();
  let published = false;
  const add = (port: number, protocol: string, rel: PathSegment[], name?: string): Entry => {
    const id = `${port}/${protocol}`;
    const seen = entries.get(id);
    if (seen) return seen;
    const item: Record<string, unknown> = { ...(name ? { name } : {}), port, protocol };
    ctx.push(['ports'], item, rel);
    const entry = { item, index: (ctx.spec.ports as unknown[]).length - 1 };
    entries.set(id, entry);
    return entry;
  };
  (Array.isArray(ports) ? ports : []).forEach((raw, i) => {
    const rel: PathSegment[] = ['ports', i];
    const long = isObj(raw);
    const item = long ? parseLong(raw) : typeof raw === 'string' || typeof raw === 'number' ? parseShort(raw) : undefined;
    if (!item) return ctx.error(rel, 'must be [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. "8080:80"');
    if (long) for (const k of Object.keys(raw)) if (!['target', 'published', 'host_ip', 'protocol', 'mode', 'name'].includes(k) && !k.startsWith('x-')) ctx.unsupported([...rel, k]);
    const target = composeInt(item.target);
    if (item.target.includes('-') || (item.published ?? '').includes('-')) return ctx.notYet(rel, 'port ranges are');
    if (target === undefined || target < 1 || target > 65535) return ctx.error(long ? [...rel, 'target'] : rel, `container port ${JSON.stringify(item.target)} must be an integer from 1 to 65535`);
    if (item.protocol !== 'tcp' && item.protocol !== 'udp') return ctx.notYet(long ? [...rel, 'protocol'] : rel, `protocol ${item.protocol} is`);
    if (item.mode !== undefined && item.mode !== 'host' && item.mode !== 'ingress') return ctx.error([...rel, 'mode'], `mode must be host or ingress, got ${JSON.stringify(item.mode)}`);
    const entry = add(target, item.protocol, rel, item.name);
    if (item.published === undefined) return;
    const port = composeInt(item.published) ?? item.published;
    const publishRel = long ? [...rel, 'published'] : rel;
    const id = `${target}/${item.protocol}`;
    // udp, mode: host and a host_ip: the engine's own port binding on the replica's node
    if (item.protocol === 'udp' || item.mode === 'host' || item.hostIp !== undefined) {
      if (entry.item.hostPort !== undefined) return ctx.notYet(rel, `binding container port ${id} to a second host port is`);
      entry.item.hostPort = port;
      ctx.mapTo(['ports', entry.index, 'hostPort'], publishRel);
      if (item.hostIp === undefined) return;
      entry.item.hostIp = item.hostIp;
      ctx.mapTo(['ports', entry.index, 'hostIp'], long ? [...rel, 'host_ip'] : rel);
      return;
    }
    // tcp: berth's proxy; the first through loadBalancer.publish (as before), the others through ports[].publish
    if (!published) {
      published = true;
      ctx.set(['loadBalancer', 'targetPort'], target, long ? [...rel, 'target'] : rel);
      ctx.set(['loadBalancer', 'publish', 'port'], port, publishRel);
      ctx.mapTo(['loadBalancer'], rel);
      ctx.mapTo(['loadBalancer', 'publish'], rel);
      return;
    }
    if (entry.item.publish !== undefined) return ctx.notYet(rel, `publishing container port ${id} on one more port of berth's proxy is`);
    entry.item.publish = { port };
    ctx.mapTo(['ports', entry.index, 'publish'], rel);
    ctx.mapTo(['ports', entry.index, 'publish', 'port'], publishRel);
  });
  (Array.isArray(expose) ? expose : []).forEach((raw, i) => {
    const rel: PathSegment[] = ['expose', i];
    const [p, protocol = 'tcp'] = String(raw).split('/');
    if ((p ?? '').includes('-')) return ctx.notYet(rel, 'port ranges are');
    const port = composeInt(p);
    if (port === undefined || port < 1 || port > 65535) return ctx.error(rel, 'must be a container port from 1 to 65535, optionally /tcp or /udp');
    if (protocol !== 'tcp' && protocol !== 'udp') return ctx.notYet(rel, `protocol ${protocol} is`);
    add(port, protocol, rel);
  });
}
