/**
 * Compose networks -> berth Networks. Each top-level `networks.<name>` is a Network of the stack (`back_net` becomes
 * `back-net`), a bridge network that only the services listing it join; compose's `default` is the namespace's own
 * network, which every service without `networks:` joins, as with `docker compose up`. A service's `networks:` (a
 * list, or a map with `aliases`) -> spec.networks; only `default` without aliases is left out, so such a service is
 * exactly a service without the field (same spec hash). Every other key is refused at its line.
 */
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import { NAME_PATTERN } from '../manifests/schema.ts';
import { listOrDict } from './context.ts';
import type { Problem, ServiceContext } from './context.ts';
import { PathMap } from './locator.ts';
import { composeBool } from './units.ts';

const NAME_RE = new RegExp(NAME_PATTERN);

/** The compose (and berth) name of the namespace's own network. */
export const COMPOSE_DEFAULT = 'default';

/** One converted berth Network document's parts (convert.ts wraps them into a document). */
export interface NetworkDoc {
  name: string;
  spec: Obj;
  map: PathMap;
  base: PathSegment[];
}

/** Top-level keys of a network berth will support later, and those it cannot honour on single Docker hosts. */
const NOT_YET: Record<string, string> = {
  external: 'external networks are',
  ipam: 'ipam (subnets, gateways, IP ranges) is',
  driver_opts: 'driver_opts of networks are',
  enable_ipv6: 'enable_ipv6 is',
  enable_ipv4: 'enable_ipv4 is',
  name: 'a custom Docker network name is',
};
const UNSUPPORTED: Record<string, string> = {
  attachable: 'attachable is a swarm setting (standalone containers joining an overlay network); berth runs on single Docker hosts without swarm',
};

/** Keys of a service's networks entry berth will support later (berth attaches with DNS aliases only). */
const SERVICE_NOT_YET: readonly string[] = ['ipv4_address', 'ipv6_address', 'link_local_ips', 'mac_address', 'driver_opts', 'priority', 'gw_priority', 'interface_name'];

/** The top-level `networks` -> berth Network parts; returns compose name -> berth name (`default` -> `default`; null: refused, reported). */
export function convertTopNetworks(raw: unknown, out: NetworkDoc[], problems: Problem[]): Map<string, string | null> {
  const names = new Map<string, string | null>([[COMPOSE_DEFAULT, COMPOSE_DEFAULT]]);
  const taken = new Map<string, string>();
  const error = (path: PathSegment[], message: string, target: 'key' | 'value' = 'key'): void => { problems.push({ path, message, severity: 'error', target }); };
  for (const [name, v] of Object.entries(isObj(raw) ? raw : {})) {
    const base: PathSegment[] = ['networks', name];
    if (name === COMPOSE_DEFAULT) {
      defaultNetwork(v, base, error);
      continue;
    }
    names.set(name, null);
    const berth = name.toLowerCase().replace(/[_.]/g, '-');
    if (!NAME_RE.test(berth) || berth === COMPOSE_DEFAULT) {
      error(base, berth === COMPOSE_DEFAULT
        ? `network name ${JSON.stringify(name)} is the berth network default, the namespace's own network: rename it`
        : `network name ${JSON.stringify(name)} cannot be a berth Network name (a DNS label; "_" and "." become "-")`);
      continue;
    }
    const clash = taken.get(berth);
    if (clash !== undefined) {
      error(base, `networks ${clash} and ${name} are both the berth Network ${berth}: rename one`);
      continue;
    }
    taken.set(berth, name);
    const map = new PathMap();
    map.add(['metadata'], base);
    map.add(['metadata', 'name'], base);
    map.add(['spec'], base);
    const spec: Obj = {};
    for (const [k, x] of Object.entries(isObj(v) ? v : {})) {
      const at = [...base, k];
      if (k.startsWith('x-')) continue;
      if (k === 'driver') {
        spec.driver = x; // not bridge: refused by the Network's check, at this line
        map.add(['spec', 'driver'], at);
      } else if (k === 'internal') {
        spec.internal = composeBool(x) ?? x;
        map.add(['spec', 'internal'], at);
      } else if (k === 'labels') {
        const labels: Record<string, string> = {};
        map.add(['spec', 'labels'], at);
        for (const e of listOrDict(x)) {
          labels[e.key] = e.value ?? '';
          map.add(['spec', 'labels', e.key], [...at, e.seg]);
        }
        spec.labels = labels;
      } else if (k === 'external' && (x === false || x === 'false')) continue;
      else if (NOT_YET[k]) error(at, `${NOT_YET[k]} not supported yet`);
      else if (UNSUPPORTED[k]) error(at, `compose field networks.${name}.${k} is not supported by berth: ${UNSUPPORTED[k]}`);
      else error(at, `compose field networks.${name}.${k} is not supported by berth`);
    }
    names.set(name, berth);
    out.push({ name: berth, spec, map, base });
  }
  return names;
}

/** `networks.default`: the namespace's own network, a plain bridge; `driver: bridge` is accepted, any other setting refused. */
function defaultNetwork(v: unknown, base: PathSegment[], error: (path: PathSegment[], message: string) => void): void {
  for (const [k, x] of Object.entries(isObj(v) ? v : {})) {
    if (k.startsWith('x-') || (k === 'driver' && x === 'bridge')) continue;
    error([...base, k], `settings of the default network are not supported yet (it is the namespace's own network, a plain bridge): declare another network for ${k}`);
  }
}

/** A service's `networks:` (list, or map of name -> null | { aliases, ... }) -> spec.networks. */
export function convertServiceNetworks(ctx: ServiceContext, v: unknown): void {
  const entries = Array.isArray(v)
    ? v.map((n, i) => ({ name: String(n), seg: i as PathSegment, value: null as unknown }))
    : isObj(v) ? Object.entries(v).map(([n, value]) => ({ name: n, seg: n as PathSegment, value })) : [];
  const refs: { value: Obj; seg: PathSegment; aliases: PathSegment[] }[] = [];
  for (const { name, seg, value } of entries) {
    const berth = ctx.project.networks?.get(name);
    if (berth === undefined) {
      ctx.error(['networks', seg], `network ${JSON.stringify(name)} is not declared in the top-level networks (only ${COMPOSE_DEFAULT} is implicit)`, typeof seg === 'string' ? 'key' : 'value');
      continue;
    }
    if (berth === null) continue; // the top-level entry was refused
    const ref: Obj = { name: berth };
    const aliasSegs: PathSegment[] = [];
    for (const [k, x] of Object.entries(isObj(value) ? value : {})) {
      const rel: PathSegment[] = ['networks', seg, k];
      if (k.startsWith('x-')) continue;
      if (k === 'aliases' && Array.isArray(x)) {
        ref.aliases = x.map(String);
        x.forEach((_a, j) => aliasSegs.push(j));
      } else if (SERVICE_NOT_YET.includes(k)) ctx.error(rel, `networks.${name}.${k} is not supported yet (berth attaches replicas with DNS aliases only)`, 'key');
      else ctx.unsupported(rel);
    }
    refs.push({ value: ref, seg, aliases: aliasSegs });
  }
  // Only the default network, without aliases: what a service without networks: joins; left out to keep its spec hash.
  if (refs.length === 1 && refs[0]!.value.name === COMPOSE_DEFAULT && refs[0]!.value.aliases === undefined) return;
  if (refs.length === 0) return;
  for (const r of refs) {
    ctx.push(['networks'], r.value, ['networks', r.seg]);
    const i = (ctx.spec.networks as unknown[]).length - 1;
    ctx.mapTo(['networks', i, 'name'], ['networks', r.seg]);
    if (r.aliases.length) ctx.mapTo(['networks', i, 'aliases'], ['networks', r.seg, 'aliases']);
    for (const j of r.aliases) ctx.mapTo(['networks', i, 'aliases', j], ['networks', r.seg, 'aliases', j]);
  }
}
