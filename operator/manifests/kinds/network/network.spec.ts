import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../model/errors.ts';
import type { ManifestIssue } from '../../../model/errors.ts';
import type { DesiredState, ObservedState } from '../../../model/state.ts';
import { memorySnapshot } from '../../../source/memory-source.ts';
import { loadDesired } from '../../load.ts';
import { containerSpec } from '../../../diff/container-spec.ts';
import { diff } from '../../../diff/diff.ts';

const network = (name: string, spec = ''): string => `apiVersion: berth/v1\nkind: Network\nmetadata: { name: ${name}, namespace: shop }\n${spec ? `spec:\n  ${spec}\n` : ''}`;
const service = (name: string, extra = ''): string => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name}, namespace: shop }\nspec:\n  image: berth-local/busybox:1\n${extra}`;

async function load(files: Record<string, string>): Promise<DesiredState> {
  return loadDesired(memorySnapshot(files, 'r1'), { instance: 'i', path: '' });
}

async function issues(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i: ManifestIssue) => `${i.file}:${i.line}:${i.col}: ${i.field}: ${i.message}`);
    throw err;
  }
  throw new Error('expected the revision to be refused');
}

describe('kind Network and spec.networks', () => {
  it('gives each Network a Docker network of the instance, created with the namespace network and labelled by kind', async () => {
    const desired = await load({
      'n.yaml': `${network('back', 'internal: true')}---\n${network('front')}`,
      's.yaml': `${service('db', '  networks: [back]\n')}---\n${service('api', '  networks: [{ name: front, aliases: [www] }, back]\n')}---\n${service('plain')}`,
    });
    const names = desired.networks.map((n) => [n.name ?? null, n.dockerName.replace(/\.[0-9a-f]{8}$/, '.<hash>'), n.internal ?? null]);
    expect(names).toEqual([[null, 'berth.i.shop', null], ['back', 'berth.i.shop.back.<hash>', true], ['front', 'berth.i.shop.front.<hash>', false]]);
    const [, back, front] = desired.networks;
    const api = desired.services.find((s) => s.name === 'api')!;
    // The operator reaches api on front (the first listed that is not internal); it joins back before it starts.
    expect(api.network).toBe(front!.dockerName);
    const create = containerSpec('i', 'r1', api, 1);
    expect(create.network).toEqual({ name: front!.dockerName, aliases: ['api', 'www'] });
    expect(create.moreNetworks).toEqual([{ name: back!.dockerName, aliases: ['api'] }]);
    expect(create.labels['berth.network']).toBe(front!.dockerName);
    // db joins only the internal network: that is where it is reached.
    expect(desired.services.find((s) => s.name === 'db')!.network).toBe(back!.dockerName);
    // A service without spec.networks is as before: the namespace's network, no berth.network label.
    const plain = desired.services.find((s) => s.name === 'plain')!;
    expect([plain.network, plain.networks, containerSpec('i', 'r1', plain, 1).labels['berth.network']]).toEqual(['berth.i.shop', undefined, undefined]);
    const plan = diff(desired, { containers: [], volumes: [], networks: [], images: {} }, { instance: 'i' });
    const creates = plan.actions.filter((a) => a.type === 'create-network').map((a) => a.reason.replace(/\.[0-9a-f]{8} /, ' '));
    expect(creates).toEqual(['network berth.i.shop of namespace shop missing', 'network berth.i.shop.back of Network shop/back missing', 'network berth.i.shop.front of Network shop/front missing']);
  });

  it('keeps the spec hash of a service without spec.networks; a changed Network is a new Docker network and new replicas', async () => {
    const before = await load({ 's.yaml': service('web') });
    const withNet = await load({ 's.yaml': service('web'), 'n.yaml': network('back') });
    expect(withNet.services[0]!.specHash).toBe(before.services[0]!.specHash);
    const on = await load({ 's.yaml': service('web', '  networks: [back]\n'), 'n.yaml': network('back') });
    const internal = await load({ 's.yaml': service('web', '  networks: [back]\n'), 'n.yaml': network('back', 'internal: true') });
    const back = (d: DesiredState): string | undefined => d.networks.find((n) => n.name === 'back')?.dockerName;
    expect(back(internal)).toMatch(/^berth\.i\.shop\.back\./);
    expect(back(internal)).not.toBe(back(on));
    expect(internal.services[0]!.specHash).not.toBe(on.services[0]!.specHash);
  });

  it('prunes a Network that left the revision (after the replicas are gone), never one of another kind', async () => {
    const desired = await load({ 's.yaml': service('web') });
    const observed: ObservedState = {
      containers: [], volumes: [], images: {},
      networks: [
        { name: 'berth.i.shop', id: '1', labels: { 'berth.managed': 'true', 'berth.instance': 'i', 'berth.kind': 'Service' } },
        { name: 'berth.i.shop.old.0123abcd', id: '2', labels: { 'berth.managed': 'true', 'berth.instance': 'i', 'berth.kind': 'Network', 'berth.network': 'old' } },
        { name: 'berth.i.shop.job', id: '3', labels: { 'berth.managed': 'true', 'berth.instance': 'i', 'berth.kind': 'Job' } },
      ],
    };
    const plan = diff(desired, observed, { instance: 'i' });
    const networkActions = plan.actions.filter((a) => a.type === 'remove-network' || a.type === 'create-network');
    expect(networkActions.map((a) => [a.type, 'name' in a ? a.name : null])).toEqual([['remove-network', 'berth.i.shop.old.0123abcd']]);
  });

  it('refuses unknown and duplicate networks, dependencies without a common network, other drivers and the name default', async () => {
    expect(await issues({
      'n.yaml': `${network('back')}---\n${network('front', 'driver: overlay')}---\n${network('default')}`,
      's.yaml': `${service('db', '  networks: [back]\n')}---\n${service('web', '  networks: [front, { name: nope }, front]\n  dependsOn: [db]\n')}`,
    })).toEqual([
      'n.yaml:9:11: spec.driver: driver "overlay" is not supported: berth\'s engines are single Docker hosts without swarm, where only the bridge driver connects containers by name (overlay needs swarm; macvlan and ipvlan are not supported yet)',
      'n.yaml:13:19: metadata.name: "default" is the namespace\'s own network (what a Service without spec.networks joins, and what spec.networks calls "default"): choose another name',
      's.yaml:13:29: spec.networks[1].name: no Network "nope" in namespace "shop" (declare a kind: Network, or use "default", the namespace\'s own network)',
      's.yaml:13:37: spec.networks[2].name: duplicate network "front" (also spec.networks[0])',
      's.yaml:14:15: spec.dependsOn[0]: no common network with "db" (web joins front, nope; db joins back), so db cannot be reached by name: add a network both list in spec.networks',
    ]);
  });

  it('accepts a dependency over a shared network, and over default with a service that lists none', async () => {
    const desired = await load({
      'n.yaml': network('back'),
      's.yaml': `${service('db', '  networks: [back, default]\n')}---\n${service('web', '  dependsOn: [db]\n')}`,
    });
    expect(desired.services.find((s) => s.name === 'web')!.env).toMatchObject({ DB_SERVICE_HOST: 'db' });
  });
});
