import { describe, expect, it } from 'vitest';
import type { DesiredService, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import { containerSpec } from './container-spec.ts';
import { diff, orderByDependencies, summarize } from './diff.ts';
import { renderJson, renderText } from './render.ts';

const INSTANCE = 'unit';

const NET = 'berth.unit.ns';

function svc(name: string, over: Partial<DesiredService['spec']> = {}, specHash = `${name}hash000000000`.slice(0, 16)): DesiredService {
  const spec: DesiredService['spec'] = {
    image: 'img:1', pullPolicy: 'IfNotPresent', env: { A: '1' }, command: ['sleep', '1'], replicas: 2, ports: [], resources: {},
    restart: { policy: 'always' }, update: { order: 'start-first', parallelism: 1, monitorMs: 0, failureAction: 'rollback', maxFailureRatio: 0 }, health: {}, volumes: [], dependsOn: [], placement: { strategy: 'spread', constraints: [], priority: 0 }, ...over,
  };
  return {
    key: `ns/${name}`, namespace: 'ns', name, labels: {}, specHash,
    image: { type: 'ref', ref: 'img:1' },
    source: { file: `${name}.yaml`, line: 1, col: 1 },
    spec, network: NET, env: { ...spec.env },
  };
}

/** A container exactly as berth would create it for `s`, replica `n`. */
function running(s: DesiredService, n: number, over: Partial<ObservedContainer> = {}): ObservedContainer {
  const spec = containerSpec(INSTANCE, 'rev1', s, n);
  return {
    id: `${s.name}-${n}-${s.specHash}`, name: spec.name, labels: spec.labels, status: 'running', exitCode: 0,
    imageId: 'sha256:aaa', image: spec.image, command: spec.command ?? [], env: spec.env, restartPolicy: spec.restartPolicy,
    nanoCpus: spec.nanoCpus ?? 0, memory: spec.memory ?? 0, createdAt: '2026-01-01T00:00:00Z', networks: [spec.network?.name ?? 'bridge'], ...over,
  };
}

/** The revision's services and the networks of their namespaces. */
const desired = (...services: DesiredService[]): DesiredState => ({
  revision: 'rev2abcdef', services, volumes: [], routes: [], nodes: [],
  networks: [...new Set(services.map((s) => s.network))].sort().map((dockerName) => ({ namespace: dockerName.split('.').pop() ?? '', dockerName })),
});
/** The containers, and the network of namespace ns already there. */
const observed = (...containers: ObservedContainer[]): ObservedState => ({
  containers, volumes: [], networks: [{ name: NET, id: 'n1', labels: {} }], images: { 'img:1': 'sha256:aaa' },
});

describe('diff', () => {
  it('creates every missing replica with a reason', () => {
    const plan = diff(desired(svc('web')), observed(), { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.reason, a.cause])).toEqual([
      ['create', 'replica 1/2 of ns/web to create', 'change'],
      ['create', 'replica 2/2 of ns/web to create', 'change'],
    ]);
  });

  it('is empty when the engine matches', () => {
    const web = svc('web');
    expect(diff(desired(web), observed(running(web, 1), running(web, 2)), { instance: INSTANCE }).actions).toEqual([]);
  });

  it('scales down from the highest replica', () => {
    const web = svc('web', { replicas: 1 });
    const plan = diff(desired(web), observed(running(web, 1), running(web, 2)), { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.reason])).toEqual([['remove', 'scale down to 1: replica 2 not needed']]);
  });

  it('replaces containers of an older spec and names what changed', () => {
    const old = svc('web', {}, 'oldhash000000000');
    const now = svc('web', { env: { A: '2' } }, 'newhash000000000');
    const plan = diff(desired(now), observed(running(old, 1, { env: { A: '1' } }), running(old, 2, { env: { A: '1' } })), { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.reason])).toEqual([
      ['replace', 'spec changed (env A changed)'],
      ['replace', 'spec changed (env A changed)'],
    ]);
  });

  it('names limits and labels that changed, and says the rest is ports, volumes or probes', () => {
    const old = svc('web', { replicas: 1 }, 'oldhash000000000');
    const limits = { ...svc('web', { replicas: 1, resources: { memory: 67108864, cpu: 0.5 } }, 'newhash000000000'), labels: { team: 'b' } };
    const reasons = diff(desired(limits), observed(running(old, 1)), { instance: INSTANCE }).actions.map((a) => a.reason);
    expect(reasons).toEqual(['spec changed (memory unlimited -> 67108864; cpu unlimited -> 0.5; labels team changed)']);
    const probes = svc('web', { replicas: 1 }, 'newhash000000000');
    expect(diff(desired(probes), observed(running(old, 1)), { instance: INSTANCE }).actions.map((a) => a.reason))
      .toEqual(['spec changed (ports, volumes or probes: spec-hash oldhash000000000 -> newhash000000000)']);
  });

  it('finishes an interrupted replace: starts the new container, then removes the old one', () => {
    const old = svc('web', { replicas: 1 }, 'oldhash000000000');
    const now = svc('web', { replicas: 1 }, 'newhash000000000');
    const plan = diff(desired(now), observed(running(old, 1), running(now, 1, { status: 'created' })), { instance: INSTANCE });
    expect(plan.actions.map((a) => a.type)).toEqual(['start', 'remove']);
  });

  it('removes duplicates of a replica and keeps the running one', () => {
    const web = svc('web', { replicas: 1 });
    const plan = diff(desired(web), observed(running(web, 1, { id: 'a', status: 'exited', exitCode: 1 }), running(web, 1, { id: 'b' })), { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.type === 'remove' ? a.container.id : ''])).toEqual([['remove', 'a']]);
  });

  it('detects drift beyond the hash label: state, image id, env, limits, restart policy', () => {
    const web = svc('web', { replicas: 5, resources: { memory: 64 * 1024 * 1024 } });
    const plan = diff(desired(web), observed(
      running(web, 1, { status: 'exited', exitCode: 137 }),
      running(web, 2, { status: 'paused' }),
      running(web, 3, { imageId: 'sha256:bbb' }),
      running(web, 4, { memory: 128 * 1024 * 1024, restartPolicy: 'always' }),
      running(web, 5, { env: { A: 'x' } }),
    ), { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.cause, a.reason])).toEqual([
      ['start', 'drift', `drift: ${running(web, 1).name} exited with code 137`],
      ['unpause', 'drift', `drift: ${running(web, 2).name} is paused`],
      ['replace', 'drift', 'drift: image img:1 now resolves to aaa, container runs bbb'],
      ['update', 'drift', 'drift: memory limit is 134217728, spec says 67108864; restart policy is always, spec says no'],
      ['replace', 'drift', 'drift: env A differs'],
    ]);
  });

  it('respects the restart policy: never leaves an exited replica, on-failure restarts only failures', () => {
    const never = svc('a', { replicas: 1, restart: { policy: 'never' } });
    const onFail = svc('b', { replicas: 2, restart: { policy: 'on-failure' } });
    const plan = diff(desired(never, onFail), observed(
      running(never, 1, { status: 'exited', exitCode: 1 }),
      running(onFail, 1, { status: 'exited', exitCode: 0 }),
      running(onFail, 2, { status: 'exited', exitCode: 2 }),
    ), { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.service])).toEqual([['start', 'ns/b']]);
  });

  it('marks a missing replica as drift once the spec was applied, as a change before', () => {
    const web = svc('web', { replicas: 2 });
    const applied = new Map([['ns/web', { specHash: web.specHash, replicas: 2 }]]);
    const obs = observed(running(web, 1));
    expect(diff(desired(web), obs, { instance: INSTANCE, applied }).actions[0]).toMatchObject({ type: 'create', cause: 'drift', reason: 'drift: replica 2 of ns/web is missing' });
    expect(diff(desired(web), obs, { instance: INSTANCE }).actions[0]).toMatchObject({ type: 'create', cause: 'change' });
  });

  it('prunes services no longer in the revision, after the others, and never touches retained volumes', () => {
    const web = svc('web', { replicas: 1 });
    const gone = svc('gone', { replicas: 1 });
    const obs: ObservedState = { ...observed(running(gone, 1)), volumes: [{ name: 'v-keep', labels: { 'berth.retain': 'true' } }, { name: 'v-tmp', labels: { 'berth.retain': 'false' } }] };
    const plan = diff(desired(web), obs, { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.type === 'remove' ? a.prune : undefined])).toEqual([['create', undefined], ['remove', true], ['remove-volume', undefined]]);
    expect(plan.actions[2]).toMatchObject({ name: 'v-tmp' });
  });

  it('orders services after their dependencies', () => {
    const web = svc('web', { dependsOn: ['db'] });
    const db = svc('db');
    expect(orderByDependencies([web, db]).map((s) => s.name)).toEqual(['db', 'web']);
  });

  it('builds an image only when the engine lacks it', () => {
    const site: DesiredService = { ...svc('site', { replicas: 1 }), image: { type: 'build', ref: 'berth.local/ns/site:abc', context: 'images/site', dockerfile: 'Dockerfile', contentHash: 'abc' } };
    const plan = diff(desired(site), observed(), { instance: INSTANCE });
    expect(plan.actions.map((a) => a.type)).toEqual(['build-image', 'create']);
    const have = diff(desired(site), { ...observed(), images: { 'berth.local/ns/site:abc': 'sha256:x' } }, { instance: INSTANCE });
    expect(have.actions.map((a) => a.type)).toEqual(['create']);
  });

  it('renders text and JSON from the same plan value', () => {
    const plan = diff(desired(svc('web', { replicas: 1 })), observed(), { instance: INSTANCE });
    expect(summarize(plan)).toEqual({ create: 1, replace: 0, update: 0, remove: 0, other: 0 });
    expect(renderText(plan)).toContain('Plan for revision rev2abcdef: 1 to create, 0 to replace, 0 to update, 0 to remove');
    expect(JSON.parse(renderJson(plan)).actions).toEqual([{ type: 'create', cause: 'change', service: 'ns/web', replica: 1, image: 'img:1', reason: 'replica 1/1 of ns/web to create' }]);
  });

  it('creates a missing network before any replica, as a change', () => {
    const web = svc('web', { replicas: 1 });
    const plan = diff(desired(web), { ...observed(), networks: [] }, { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.cause, a.reason])).toEqual([
      ['create-network', 'change', `network ${NET} of namespace ns missing`],
      ['create', 'change', 'replica 1/1 of ns/web to create'],
    ]);
    expect(plan.actions[0]).toMatchObject({ network: { namespace: 'ns', dockerName: NET } });
    expect(diff(desired(web), observed(), { instance: INSTANCE }).actions.map((a) => a.type)).toEqual(['create']);
  });

  it('removes a network no service uses any more, last (after prunes and volume removals)', () => {
    const web = svc('web', { replicas: 1 });
    const gone: DesiredService = { ...svc('gone', { replicas: 1 }), key: 'old/gone', namespace: 'old', network: 'berth.unit.old' };
    const obs: ObservedState = {
      ...observed(running(web, 1), running(gone, 1)),
      volumes: [{ name: 'v-tmp', labels: { 'berth.retain': 'false' } }],
      networks: [{ name: 'berth.unit.old', id: 'n0', labels: {} }, { name: NET, id: 'n1', labels: {} }],
    };
    const plan = diff(desired(web), obs, { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.cause])).toEqual([['remove', 'change'], ['remove-volume', 'change'], ['remove-network', 'change']]);
    expect(plan.actions[2]).toMatchObject({ name: 'berth.unit.old', reason: 'network berth.unit.old is not used by any service of revision rev2abc' });
  });

  it('never removes a network for a revision without services', () => {
    const obs: ObservedState = { ...observed(), networks: [{ name: NET, id: 'n1', labels: {} }] };
    expect(diff(desired(), obs, { instance: INSTANCE }).actions).toEqual([]);
  });

  it('replaces a running replica detached from its network (drift); an unknown attachment or a stopped one is no drift', () => {
    const web = svc('web', { replicas: 3 });
    const plan = diff(desired(web), observed(
      running(web, 1, { networks: ['bridge'] }),
      running(web, 2, { networks: undefined }),
      running(web, 3, { networks: [], status: 'exited', exitCode: 1 }),
    ), { instance: INSTANCE });
    expect(plan.actions.map((a) => [a.type, a.cause, a.reason])).toEqual([
      ['replace', 'drift', `drift: not attached to network ${NET} (attached to bridge), so web does not resolve to it`],
      ['start', 'drift', `drift: ${running(web, 3).name} exited with code 1`],
    ]);
  });

  it('compares the effective env (discovery variables included) and names a network change of an older spec', () => {
    const old = svc('web', { replicas: 1 }, 'oldhash000000000');
    const now: DesiredService = { ...svc('web', { replicas: 1 }, 'newhash000000000'), env: { A: '1', DB_SERVICE_HOST: 'db' } };
    const plan = diff(desired(now), observed(running(old, 1, { networks: ['bridge'] })), { instance: INSTANCE });
    expect(plan.actions.map((a) => a.reason)).toEqual([`spec changed (env DB_SERVICE_HOST changed; network bridge -> ${NET})`]);
    const current = svc('web', { replicas: 1 });
    const drifted = diff(desired({ ...current, env: { A: '1', DB_SERVICE_HOST: 'db' } }), observed(running(current, 1)), { instance: INSTANCE });
    expect(drifted.actions.map((a) => a.reason)).toEqual(['drift: env DB_SERVICE_HOST missing']);
  });

  it('a replica container gets the effective env, its namespace network aliased by the service name, and host.docker.internal', () => {
    const web: DesiredService = { ...svc('web'), env: { A: '1', DB_SERVICE_HOST: 'db', DB_SERVICE_PORT: '5432' } };
    expect(containerSpec(INSTANCE, 'rev1', web, 1)).toMatchObject({
      env: { A: '1', DB_SERVICE_HOST: 'db', DB_SERVICE_PORT: '5432' },
      network: { name: NET, aliases: ['web'] },
      extraHosts: ['host.docker.internal:host-gateway'],
    });
  });

  it('renders network actions as text and JSON', () => {
    const gone: ObservedState = { ...observed(), networks: [{ name: 'berth.unit.old', id: 'n0', labels: {} }] };
    const plan = diff(desired(svc('web', { replicas: 1 })), gone, { instance: INSTANCE });
    expect(plan.actions.map((a) => a.type)).toEqual(['create-network', 'create', 'remove-network']);
    const text = renderText(plan);
    expect(text).toContain(`  + create-network ${NET}\n      network ${NET} of namespace ns missing`);
    expect(text).toContain('  - remove-network berth.unit.old\n');
    const json = JSON.parse(renderJson(plan));
    expect(json.summary).toEqual({ create: 1, replace: 0, update: 0, remove: 0, other: 2 });
    expect(json.actions[0]).toEqual({ type: 'create-network', cause: 'change', network: NET, reason: `network ${NET} of namespace ns missing` });
    expect(json.actions[2]).toMatchObject({ type: 'remove-network', network: 'berth.unit.old' });
  });
});
