import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { formatIssue } from '../model/errors.ts';

const issuesOf = (content: string): string[] => parseEntries([{ path: 'stack/compose.yaml', content }]).issues.map(formatIssue);
const docsOf = (content: string): { kind: string; name: string; spec: unknown }[] => {
  const r = parseEntries([{ path: 'stack/compose.yaml', content }]);
  expect(r.issues.map(formatIssue)).toEqual([]);
  return r.entries.map((e) => ({ kind: e.kind, name: e.name, spec: (e.doc.value as { spec?: unknown }).spec }));
};

// The shape of docker/awesome-compose nginx-flask-mysql: db on backnet, backend on both, proxy on frontnet.
const STACK = `services:
  db:
    image: berth-local/busybox:1
    networks: [backnet]
  backend:
    image: berth-local/busybox:1
    networks:
      backnet:
      frontnet:
        aliases: [api, api.internal]
    depends_on: [db]
  proxy:
    image: berth-local/busybox:1
    networks: [frontnet]
    depends_on: [backend]
  tools:
    image: berth-local/busybox:1
networks:
  back_net_unused:
    driver: bridge
    internal: true
    labels: { team: data }
  backnet: {}
  frontnet:
`;

describe('compose networks as berth Networks', () => {
  it('converts top-level networks into Networks of the stack and services\' networks into spec.networks', () => {
    const docs = docsOf(STACK);
    expect(docs.filter((d) => d.kind === 'Network')).toEqual([
      { kind: 'Network', name: 'back-net-unused', spec: { driver: 'bridge', internal: true, labels: { team: 'data' } } },
      { kind: 'Network', name: 'backnet', spec: {} },
      { kind: 'Network', name: 'frontnet', spec: {} },
    ]);
    const spec = (name: string): Record<string, unknown> => docs.find((d) => d.kind === 'Service' && d.name === name)!.spec as Record<string, unknown>;
    expect(spec('db').networks).toEqual([{ name: 'backnet' }]);
    expect(spec('backend').networks).toEqual([{ name: 'backnet' }, { name: 'frontnet', aliases: ['api', 'api.internal'] }]);
    expect(spec('proxy').networks).toEqual([{ name: 'frontnet' }]);
    // No networks: (or only default, without aliases) joins the compose default network, the namespace's own: no field.
    expect(spec('tools').networks).toBeUndefined();
    expect(docsOf('services:\n  web:\n    image: web\n    networks: [default]\n').find((d) => d.kind === 'Service')!.spec).not.toHaveProperty('networks');
  });

  it('gives every service its networks in the desired state; one without networks: stays on the default network', async () => {
    const desired = await loadDesired(memorySnapshot({ 'stack/compose.yaml': STACK }, 'r1'), { instance: 'i', path: '' });
    const byName = new Map(desired.networks.map((n) => [n.name ?? 'default', n.dockerName]));
    const joined = (name: string): string[] | undefined => desired.services.find((s) => s.name === name)?.networks?.map((n) => n.name);
    expect(joined('db')).toEqual([byName.get('backnet')]);
    expect(joined('backend')).toEqual([byName.get('backnet'), byName.get('frontnet')]);
    expect(joined('tools')).toBeUndefined();
    expect(byName.get('default')).toBe('berth.i.stack');
    expect(desired.networks.find((n) => n.name === 'back-net-unused')).toMatchObject({ internal: true, labels: { team: 'data' } });
    expect(desired.services.find((s) => s.name === 'backend')?.networks?.[1]?.aliases).toEqual(['backend', 'api', 'api.internal']);
  });

  it('refuses, at their keys, what berth does not map: external, ipam, driver_opts, attachable, enable_ipv6, name, other drivers', () => {
    expect(issuesOf(`services:
  web:
    image: web
    networks: [a]
networks:
  a:
    external: true
    ipam: { config: [{ subnet: 10.9.0.0/24 }] }
    driver_opts: { com.docker.network.bridge.name: br9 }
    attachable: true
    enable_ipv6: true
    name: custom
  b:
    driver: overlay
  default:
    internal: true
`)).toEqual([
      'stack/compose.yaml:7:5: networks.a.external: external networks are not supported yet',
      'stack/compose.yaml:8:5: networks.a.ipam: ipam (subnets, gateways, IP ranges) is not supported yet',
      'stack/compose.yaml:9:5: networks.a.driver_opts: driver_opts of networks are not supported yet',
      'stack/compose.yaml:10:5: networks.a.attachable: compose field networks.a.attachable is not supported by berth: attachable is a swarm setting (standalone containers joining an overlay network); berth runs on single Docker hosts without swarm',
      'stack/compose.yaml:11:5: networks.a.enable_ipv6: enable_ipv6 is not supported yet',
      'stack/compose.yaml:12:5: networks.a.name: a custom Docker network name is not supported yet',
      // A berth check on a converted value, reported at the compose line.
      'stack/compose.yaml:14:13: spec.driver: driver "overlay" is not supported: berth\'s engines are single Docker hosts without swarm, where only the bridge driver connects containers by name (overlay needs swarm; macvlan and ipvlan are not supported yet)',
      'stack/compose.yaml:16:5: networks.default.internal: settings of the default network are not supported yet (it is the namespace\'s own network, a plain bridge): declare another network for internal',
    ]);
  });

  it('refuses undeclared networks, per-service addresses and priorities at their keys, and bad aliases at the alias', () => {
    expect(issuesOf(`services:
  web:
    image: web
    networks:
      front:
        ipv4_address: 10.9.0.5
        priority: 100
      back:
        aliases: ["bad alias"]
networks:
  back:
`)).toEqual([
      'stack/compose.yaml:5:7: services.web.networks.front: network "front" is not declared in the top-level networks (only default is implicit)',
      'stack/compose.yaml:9:19: spec.networks[0].aliases[0]: must match pattern "^[A-Za-z0-9]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$"',
    ]);
    expect(issuesOf('services:\n  web:\n    image: web\n    networks:\n      back:\n        ipv4_address: 10.9.0.5\n        priority: 100\nnetworks:\n  back:\n')).toEqual([
      'stack/compose.yaml:6:9: services.web.networks.back.ipv4_address: networks.back.ipv4_address is not supported yet (berth attaches replicas with DNS aliases only)',
      'stack/compose.yaml:7:9: services.web.networks.back.priority: networks.back.priority is not supported yet (berth attaches replicas with DNS aliases only)',
    ]);
    expect(issuesOf('services:\n  web:\n    image: web\n    networks:\n      back:\n        aliases: ["bad alias"]\nnetworks:\n  back:\n')).toEqual([
      expect.stringMatching(/^stack\/compose\.yaml:6:19: spec\.networks\[0\]\.aliases\[0\]: /),
    ]);
  });

  it('refuses a dependency on a service with no common network, at the depends_on entry', () => {
    expect(issuesOf('services:\n  web:\n    image: web\n    networks: [front]\n    depends_on: [db]\n  db:\n    image: db\n    networks: [back]\nnetworks:\n  front:\n  back:\n')).toEqual([
      'stack/compose.yaml:5:18: spec.dependsOn[0]: no common network with "db" (web joins front; db joins back), so db cannot be reached by name: add a network both list in spec.networks',
    ]);
  });
});
