/**
 * `ports` and `expose` -> spec.ports (container ports) and the FIRST published tcp port -> spec.loadBalancer.publish
 * (berth's proxy listens on it and forwards to the container port). More published ports, udp, host_ip, ranges and
 * `mode: host` are refused, each at its item.
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

/** Maps `ports` and `expose` of the service into ctx.spec. */
export function convertPorts(ctx: ServiceContext, ports: unknown, expose: unknown): void {
  const seen = new Set<string>();
  let published = false;
  const add = (port: number, protocol: string, rel: PathSegment[], name?: string): void => {
    const id = `${port}/${protocol}`;
    if (seen.has(id)) return;
    seen.add(id);
    ctx.push(['ports'], { ...(name ? { name } : {}), port, protocol }, rel);
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
    add(target, item.protocol, rel, item.name);
    if (item.published === undefined) return;
    if (item.hostIp !== undefined) return ctx.notYet(long ? [...rel, 'host_ip'] : rel, 'publishing on a host_ip is', 'berth listens on --proxy-host; set x-berth.loadBalancer.publish.host');
    if (item.mode === 'host') return ctx.notYet([...rel, 'mode'], 'mode: host is', "berth's proxy publishes the port");
    if (item.protocol === 'udp') return ctx.notYet(rel, 'publishing a udp port is');
    if (published) return ctx.notYet(rel, 'more than one published port is', 'berth publishes one port per service; use a Route for more');
    published = true;
    const port = composeInt(item.published);
    const publishRel = long ? [...rel, 'published'] : rel;
    ctx.set(['loadBalancer', 'targetPort'], target, long ? [...rel, 'target'] : rel);
    ctx.set(['loadBalancer', 'publish', 'port'], port ?? item.published, publishRel);
    ctx.mapTo(['loadBalancer'], rel);
    ctx.mapTo(['loadBalancer', 'publish'], rel);
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
