import { describe, expect, it } from 'vitest';
import type { DesiredService, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import { runRef } from '../model/state.ts';
import { containerSpec } from '../diff/container-spec.ts';
import { diff } from '../diff/diff.ts';
import { specChangeReason } from '../diff/drift.ts';
import { silentLogger } from '../util/log.ts';
import { BerthError } from '../model/errors.ts';
import { pinImages } from './pin.ts';
import { ImageResolver, RESOLVE_BACKOFF_MIN_MS } from './resolver.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const REF = 'reg.example:5000/shop/api:2.3';

function svc(over: Partial<DesiredService['spec']> = {}, image = REF): DesiredService {
  return {
    key: 'shop/api', namespace: 'shop', name: 'api', labels: {}, specHash: 'abcdef0123456789',
    image: { type: 'ref', ref: image }, source: { file: 'api.yaml', line: 1, col: 1 }, network: 'berth.u.shop', env: {},
    spec: {
      image, pullPolicy: 'IfNotPresent', env: {}, command: ['sleep', '1'], replicas: 2, ports: [], resources: {}, restart: { policy: 'always' },
      update: { order: 'start-first', parallelism: 1, monitorMs: 0, failureAction: 'rollback', maxFailureRatio: 0 }, health: {}, volumes: [], dependsOn: [],
      placement: { strategy: 'spread', constraints: [], priority: 0 }, ...over,
    },
  };
}
const state = (...services: DesiredService[]): DesiredState => ({ revision: 'r1', services, volumes: [], routes: [], nodes: [], networks: [{ namespace: 'shop', dockerName: 'berth.u.shop' }] });
const observed = (images: Record<string, string> = {}, containers: ObservedContainer[] = [], localImages: string[] = []): ObservedState => ({
  containers, volumes: [], networks: [{ name: 'berth.u.shop', id: 'n', labels: {} }], images, localImages,
});
function container(s: DesiredService, n: number): ObservedContainer {
  const spec = containerSpec('u', 'r1', s, n);
  return { id: `c${n}`, name: spec.name, labels: spec.labels, status: 'running', exitCode: 0, imageId: 'sha256:i', image: spec.image, command: spec.command ?? [], env: spec.env, restartPolicy: spec.restartPolicy, nanoCpus: 0, memory: 0, createdAt: '2026-01-01T00:00:00Z', networks: ['berth.u.shop'] };
}

describe('pinning', () => {
  it('runs name@digest, moves the spec hash with the digest, and leaves an unresolved tag as it was', () => {
    const [pinned] = pinImages(state(svc()), new Map([[REF, D1]])).services;
    expect(runRef(pinned!.image)).toBe(`reg.example:5000/shop/api@${D1}`);
    expect(pinned!.specHash).not.toBe('abcdef0123456789');
    expect(pinImages(state(svc()), new Map([[REF, D2]])).services[0]!.specHash).not.toBe(pinned!.specHash);
    expect(pinImages(state(svc()), new Map()).services[0]!.specHash).toBe('abcdef0123456789');
    expect(containerSpec('u', 'r1', pinned!, 1).labels).toMatchObject({ 'berth.image': REF, 'berth.image.digest': D1 });
  });

  it('pulls before any replica of the service is touched, once, and not when the digest is on a node', () => {
    const old = pinImages(state(svc()), new Map([[REF, D1]])).services[0]!;
    const moved = pinImages(state(svc()), new Map([[REF, D2]]));
    const plan = diff(moved, observed({}, [container(old, 1), container(old, 2)]), { instance: 'u' });
    expect(plan.actions.map((a) => a.type)).toEqual(['pull-image', 'replace', 'replace']);
    expect(plan.actions[0]).toMatchObject({ ref: `reg.example:5000/shop/api@${D2}`, reason: `image ${REF} (${D2}) is not on the node` });
    expect(plan.actions[1]?.reason).toBe(`spec changed (image ${REF} now sha256:222222222222... was sha256:111111111111...)`);
    expect(specChangeReason(moved.services[0]!, container(old, 1))).toContain('now sha256:2222');
    const present = diff(moved, observed({ [`reg.example:5000/shop/api@${D2}`]: 'sha256:i2' }, [container(old, 1), container(old, 2)]), { instance: 'u' });
    expect(present.actions.map((a) => a.type)).toEqual(['replace', 'replace']);
    expect(diff(state(svc({ pullPolicy: 'Never' })), observed(), { instance: 'u' }).actions.map((a) => a.type)).toEqual(['create', 'create']);
  });
});

describe('ImageResolver', () => {
  const clientOf = (answers: (string | Error)[]) => {
    const asked: string[] = [];
    return { asked, client: { resolve: async (ref: string) => { asked.push(ref); const a = answers.shift(); if (a instanceof Error) throw a; return { digest: a ?? D1 }; } } };
  };

  it('asks for registry tags, never for Never, a digest reference, or an IfNotPresent image the node built or loaded', async () => {
    const { asked, client } = clientOf([]);
    const r = new ImageResolver({ client, log: silentLogger });
    const local = { ...svc({}, 'shop/web:1'), key: 'shop/web', name: 'web' };
    const never = { ...svc({ pullPolicy: 'Never' }, 'shop/x:1'), key: 'shop/x', name: 'x' };
    const digest = { ...svc({}, `shop/y@${D2}`), key: 'shop/y', name: 'y' };
    const always = { ...svc({ pullPolicy: 'Always' }, 'shop/z:latest'), key: 'shop/z', name: 'z' };
    const out = await r.resolve([svc(), local, never, digest, always], observed({ 'shop/web:1': 'sha256:w', 'shop/z:latest': 'sha256:z' }, [], ['shop/web:1', 'shop/z:latest']));
    expect(asked.sort()).toEqual([REF, 'shop/z:latest']);
    expect(out.digests).toEqual(new Map([[REF, D1], ['shop/z:latest', D1]]));
    expect(out.states.get('shop/web:1')?.source).toBe('local');
    expect(out.states.get('shop/x:1')?.source).toBe('never');
  });

  it('keeps the last digest through a failure, backs off (ImagePullBackOff) and asks again after it', async () => {
    let now = 1_000_000;
    const { asked, client } = clientOf([D1, new BerthError('E_PULL', 'registry reg.example:5000 did not answer within 10 s for x')]);
    const r = new ImageResolver({ client, log: silentLogger, now: () => now });
    expect((await r.resolve([svc()], observed())).digests.get(REF)).toBe(D1);
    now += 1;
    const failed = await r.resolve([svc()], observed());
    expect(failed.digests.get(REF)).toBe(D1);
    expect(failed.states.get(REF)).toMatchObject({ source: 'last-known', reason: 'ErrImagePull', digest: D1 });
    now += 1;
    const waiting = await r.resolve([svc()], observed());
    expect(waiting.states.get(REF)?.reason).toBe('ImagePullBackOff');
    expect(asked).toHaveLength(2);
    now += RESOLVE_BACKOFF_MIN_MS;
    expect((await r.resolve([svc()], observed())).states.get(REF)).toMatchObject({ source: 'registry', digest: D1 });
    expect(asked).toHaveLength(3);
  });

  it('after a restart, keeps the digest the running replicas carry until the registry answers', async () => {
    const { client } = clientOf([new BerthError('E_PULL', 'refused')]);
    const pinned = pinImages(state(svc()), new Map([[REF, D2]])).services[0]!;
    const out = await new ImageResolver({ client, log: silentLogger }).resolve([svc()], observed({}, [container(pinned, 1)]));
    expect(out.digests.get(REF)).toBe(D2);
  });
});
