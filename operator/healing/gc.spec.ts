import { describe, expect, it } from 'vitest';
import type { ContainerStatus } from '../model/state.ts';
import {
  canonicalRepository, DEFAULT_GC_POLICY, diskPressure, planGc, pulledRepositories, type GcContainer, type GcDanglingImage, type GcImage,
  type GcInventory, type GcPolicy, type GcPulledImage, type PulledRepository,
} from './gc.ts';

const INSTANCE = 'prod';

function labels(ns: string, service: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'berth.managed': 'true', 'berth.instance': INSTANCE, 'berth.namespace': ns, 'berth.service': service, ...extra };
}

function container(id: string, state: ContainerStatus, minute: number, over: Partial<GcContainer> = {}): GcContainer {
  return { id, name: `c-${id}`, labels: labels('shop', 'web'), state, finishedAt: `2024-05-01T10:${String(minute).padStart(2, '0')}:00Z`, ...over };
}

function image(id: string, created: number, over: Partial<GcImage> = {}): GcImage {
  return { id, tags: [`berth.local/shop/web:${id}`], labels: labels('shop', 'web'), created, inUse: false, ...over };
}

function dangling(id: string, created: number, over: Partial<GcDanglingImage> = {}): GcDanglingImage {
  return { id, created, labels: labels('shop', 'web'), inUse: false, ...over };
}

function inventory(over: Partial<GcInventory> = {}): GcInventory {
  return { instance: INSTANCE, containers: [], images: [], pulled: [], dangling: [], ...over };
}

function policy(over: Partial<GcPolicy> = {}): GcPolicy {
  return { ...DEFAULT_GC_POLICY, ...over };
}

const ids = (inv: GcInventory, p: GcPolicy = policy()): string[] => planGc(inv, p).map((d) => d.id);

describe('planGc: containers', () => {
  it('keeps the newest `exitedHistory` exited containers per service and removes the older ones, newest first', () => {
    const inv = inventory({ containers: [container('a', 'exited', 1), container('d', 'exited', 4), container('b', 'exited', 2), container('c', 'exited', 3)] });
    const plan = planGc(inv, policy());
    expect(plan.map((d) => [d.kind, d.id])).toEqual([['remove-container', 'b'], ['remove-container', 'a']]);
    expect(plan.every((d) => d.reason.includes('shop/web'))).toBe(true);
    expect(planGc(inv, policy()).find((d) => d.id === 'b')).toMatchObject({ name: 'c-b' });
  });

  it('counts exited and dead together and never removes running, paused, restarting, created or removing ones', () => {
    const live: ContainerStatus[] = ['running', 'paused', 'restarting', 'created', 'removing'];
    const containers = [
      ...live.map((s, i) => container(`live-${s}`, s, i)),
      container('x1', 'exited', 10), container('x2', 'dead', 11), container('x3', 'exited', 12),
    ];
    expect(ids(inventory({ containers }), policy({ exitedHistory: 1 }))).toEqual(['x2', 'x1']);
    expect(ids(inventory({ containers }), policy({ exitedHistory: 0, pressure: true }))).toEqual(['x3', 'x2', 'x1']);
  });

  it('groups by (namespace, service): history applies to each service separately', () => {
    const api = (id: string, minute: number): GcContainer => container(id, 'exited', minute, { labels: labels('shop', 'api') });
    const other = (id: string, minute: number): GcContainer => container(id, 'exited', minute, { labels: labels('blog', 'web') });
    const inv = inventory({ containers: [container('w1', 'exited', 1), container('w2', 'exited', 2), api('a1', 1), api('a2', 2), other('o1', 1), other('o2', 2)] });
    expect(ids(inv, policy({ exitedHistory: 1 }))).toEqual(['o1', 'a1', 'w1']);
    expect(ids(inv, policy({ exitedHistory: 2 }))).toEqual([]);
  });

  it('never touches containers of another instance, unmanaged ones, or ones without a service label', () => {
    const containers = [
      container('foreign', 'exited', 1, { labels: { ...labels('shop', 'web'), 'berth.instance': 'other' } }),
      container('unmanaged', 'exited', 1, { labels: { ...labels('shop', 'web'), 'berth.managed': 'false' } }),
      container('plain', 'exited', 1, { labels: {} }),
      container('noservice', 'exited', 1, { labels: { 'berth.managed': 'true', 'berth.instance': INSTANCE } }),
    ];
    expect(ids(inventory({ containers }), policy({ exitedHistory: 0 }))).toEqual([]);
  });

  it('treats a never-finished (zero time) container as the oldest and breaks ties by id', () => {
    const containers = [
      container('z', 'exited', 0, { finishedAt: '0001-01-01T00:00:00Z' }),
      container('n', 'exited', 0, { finishedAt: '' }),
      container('t2', 'exited', 5), container('t1', 'exited', 5),
    ];
    expect(ids(inventory({ containers }), policy({ exitedHistory: 1 }))).toEqual(['t2', 'z', 'n']);
  });

  it('never collects a container or built image of a kind it does not know (berth.kind: Job), but one labelled Service', () => {
    const job = labels('shop', 'web', { 'berth.kind': 'Job' });
    const inv = inventory({
      containers: [container('j', 'exited', 1, { labels: job }), container('s', 'exited', 2, { labels: labels('shop', 'web', { 'berth.kind': 'Service' }) })],
      images: [image('ji', 1, { labels: job })],
    });
    expect(ids(inv, policy({ exitedHistory: 0, keepImages: 0 }))).toEqual(['s']);
  });
});

describe('planGc: built images', () => {
  it('keeps the newest `keepImages` per service and removes older ones that are not in use', () => {
    const images = [image('i1', 1), image('i2', 2, { inUse: true }), image('i3', 3), image('i4', 4), image('i5', 5), image('i6', 6)];
    const plan = planGc(inventory({ images }), policy());
    expect(plan.map((d) => d.id)).toEqual(['i3', 'i1']);
    expect(plan[0]).toMatchObject({ kind: 'remove-image', tags: ['berth.local/shop/web:i3'] });
  });

  it('never removes an image in use, even under pressure', () => {
    const images = [image('i1', 1, { inUse: true }), image('i2', 2, { inUse: true }), image('i3', 3)];
    expect(ids(inventory({ images }), policy({ pressure: true }))).toEqual([]);
    expect(ids(inventory({ images: [image('i1', 1), image('i2', 2, { inUse: true }), image('i3', 3)] }), policy({ pressure: true }))).toEqual(['i1']);
  });

  it('applies keepImages per (namespace, service)', () => {
    const api = (id: string, created: number): GcImage => image(id, created, { labels: labels('shop', 'api'), tags: [`berth.local/shop/api:${id}`] });
    const images = [image('w1', 1), image('w2', 2), api('a1', 1), api('a2', 2), api('a3', 3)];
    expect(ids(inventory({ images }), policy({ keepImages: 2 }))).toEqual(['a1']);
    expect(ids(inventory({ images }), policy({ keepImages: 1 }))).toEqual(['a2', 'a1', 'w1']);
  });

  it('never touches images of another instance, unlabelled ones, or ones with a tag outside berth.local/<ns>/<service>', () => {
    const images = [
      image('foreign', 1, { labels: { ...labels('shop', 'web'), 'berth.instance': 'other' } }),
      image('plain', 1, { labels: {} }),
      image('retagged', 1, { tags: ['berth.local/shop/web:x', 'myrepo/web:latest'] }),
      image('wrongrepo', 1, { tags: ['registry.example/shop/web:1'] }),
      image('otherservice', 1, { tags: ['berth.local/shop/api:1'] }),
      image('untagged', 1, { tags: [] }),
    ];
    expect(ids(inventory({ images }), policy({ keepImages: 0 }))).toEqual([]);
  });

  it('breaks equal creation times by id', () => {
    const images = [image('b', 7), image('a', 7), image('c', 7)];
    expect(ids(inventory({ images }), policy({ keepImages: 1 }))).toEqual(['b', 'c']);
  });
});

const REG = 'reg.example:5000/shop/web';
const digest = (id: string): string => `sha256:${id.padEnd(64, '0')}`;

function pulled(id: string, created: number, over: Partial<GcPulledImage> = {}): GcPulledImage {
  return { id, repository: REG, digestRefs: [`${REG}@${digest(id)}`], created, inUse: false, ...over };
}

function repos(entries: [string, string, string[]?][]): PulledRepository[] {
  return pulledRepositories(new Map(entries.map(([key, repository, digests]) => [key, { repository, ...(digests ? { digests } : {}) }])));
}

describe('planGc: pulled images', () => {
  const web = repos([['shop/web', REG]]);

  it('keeps the newest `keepImages` per managed repository and removes older ones not in use, through their digest refs', () => {
    const list = [pulled('p1', 1), pulled('p2', 2, { inUse: true }), pulled('p3', 3), pulled('p4', 4), pulled('p5', 5), pulled('p6', 6)];
    const plan = planGc(inventory({ pulled: list }), policy(), web);
    expect(plan.map((d) => d.id)).toEqual(['p3', 'p1']);
    expect(plan[0]).toMatchObject({ kind: 'remove-image', tags: [`${REG}@${digest('p3')}`], refs: [`${REG}@${digest('p3')}`] });
    expect(plan[0]?.reason).toBe(`pulled image of shop/web (${REG}) beyond the newest 3 kept (4 of 6)`);
  });

  it('never touches pulled images when no repository is managed, nor images of a repository not asked for', () => {
    const list = [pulled('p1', 1), pulled('p2', 2), pulled('o1', 1, { repository: 'reg.example:5000/other', digestRefs: ['reg.example:5000/other@sha256:1'] })];
    expect(ids(inventory({ pulled: list }), policy({ keepImages: 0 }))).toEqual([]);
    expect(planGc(inventory({ pulled: list }), policy({ keepImages: 0 }), web).map((d) => d.id)).toEqual(['p2', 'p1']);
  });

  it('keeps the digests pinned now whatever their age, and never an image in use, even under pressure', () => {
    const pinned = repos([['shop/web', REG, [digest('p1')]]]);
    const list = [pulled('p1', 1), pulled('p2', 2), pulled('p3', 3, { inUse: true }), pulled('p4', 4)];
    expect(planGc(inventory({ pulled: list }), policy({ keepImages: 1 }), pinned).map((d) => d.id)).toEqual(['p2']);
    const plan = planGc(inventory({ pulled: list }), policy({ pressure: true }), pinned);
    expect(plan.map((d) => d.id)).toEqual(['p2']);
    expect(plan[0]?.reason).toContain('disk pressure');
  });

  it('removes every digest ref of the managed repository an image has, and none of another repository', () => {
    const refs = [`${REG}@${digest('b')}`, `${REG}@${digest('a')}`];
    const plan = planGc(inventory({ pulled: [pulled('x', 1, { digestRefs: refs }), pulled('y', 2)] }), policy({ keepImages: 1 }), web);
    expect(plan).toEqual([expect.objectContaining({ id: 'x', refs: [...refs].sort() })]);
  });

  it('groups services sharing a repository (however spelled) into one history, and repositories apart', () => {
    const hub = 'docker.io/library/nginx';
    const shared = repos([['shop/web', REG], ['blog/web', `${REG}`], ['a/proxy', 'nginx'], ['b/proxy', 'index.docker.io/library/nginx']]);
    expect(shared.map((r) => [r.name, r.services])).toEqual([[hub, ['a/proxy', 'b/proxy']], [REG, ['blog/web', 'shop/web']]]);
    const list = [
      pulled('w1', 1), pulled('w2', 2), pulled('w3', 3),
      pulled('n1', 1, { repository: hub, digestRefs: [`nginx@${digest('n1')}`] }), pulled('n2', 2, { repository: hub, digestRefs: [`nginx@${digest('n2')}`] }),
    ];
    const plan = planGc(inventory({ pulled: list }), policy({ keepImages: 1 }), shared);
    expect(plan.map((d) => d.id)).toEqual(['n1', 'w2', 'w1']);
    expect(plan[0]?.reason).toContain('a/proxy, b/proxy (nginx)');
  });

  it('orders pulled images after built images and before dangling ones', () => {
    const inv = inventory({ images: [image('i1', 1), image('i2', 2)], pulled: [pulled('p1', 1), pulled('p2', 2)], dangling: [dangling('d1', 1)] });
    expect(planGc(inv, policy({ keepImages: 1 }), web).map((d) => d.id)).toEqual(['i1', 'p1', 'd1']);
  });
});

describe('canonicalRepository / pulledRepositories', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx'],
    ['library/nginx:1', 'docker.io/library/nginx'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx'],
    ['shop/api@sha256:' + '0'.repeat(64), 'docker.io/shop/api'],
    ['10.98.0.1:5000/gc/app', '10.98.0.1:5000/gc/app'],
    ['localhost/x', 'localhost/x'],
  ])('%s -> %s', (name, expected) => {
    expect(canonicalRepository(name)).toBe(expected);
  });

  it('leaves out what is not a name (an image ID) and merges pinned digests without duplicates', () => {
    expect(canonicalRepository('0'.repeat(64))).toBeUndefined();
    const got = repos([['a/x', '0'.repeat(64)], ['b/y', REG, ['sha256:1', 'sha256:2']], ['c/z', REG, ['sha256:2']]]);
    expect(got).toEqual([{ name: REG, spelled: REG, services: ['b/y', 'c/z'], pinned: ['sha256:1', 'sha256:2'] }]);
  });
});

describe('planGc: dangling images', () => {
  it('removes only dangling images labelled for this instance and not in use, oldest first', () => {
    const list = [
      dangling('d2', 2), dangling('d1', 1), dangling('used', 3, { inUse: true }),
      dangling('foreign', 1, { labels: { ...labels('shop', 'web'), 'berth.instance': 'other' } }),
      dangling('unmanaged', 1, { labels: { 'berth.instance': INSTANCE } }),
      dangling('plain', 1, { labels: {} }),
    ];
    const plan = planGc(inventory({ dangling: list }), policy());
    expect(plan.map((d) => d.id)).toEqual(['d1', 'd2']);
    expect(plan[0]).toMatchObject({ kind: 'remove-image', tags: [] });
    expect(plan[0]?.reason).toContain('dangling');
  });
});

describe('planGc: whole plan', () => {
  it('orders containers, then built images, then dangling images, each with a reason', () => {
    const inv = inventory({
      containers: [container('c1', 'exited', 1), container('c2', 'exited', 2), container('c3', 'exited', 3), container('r', 'running', 4)],
      images: [image('i1', 1), image('i2', 2), image('i3', 3), image('i4', 4)],
      dangling: [dangling('d1', 1)],
    });
    const plan = planGc(inv, policy());
    expect(plan.map((d) => `${d.kind}:${d.id}`)).toEqual(['remove-container:c1', 'remove-image:i1', 'remove-image:d1']);
    expect(plan.every((d) => d.reason.length > 0)).toBe(true);
  });

  it('under disk pressure keeps no exited history and one image per service, and says so', () => {
    const inv = inventory({
      containers: [container('c1', 'exited', 1), container('c2', 'exited', 2)],
      images: [image('i1', 1), image('i2', 2), image('i3', 3)],
    });
    const plan = planGc(inv, policy({ pressure: true, exitedHistory: 5, keepImages: 5 }));
    expect(plan.map((d) => d.id)).toEqual(['c2', 'c1', 'i2', 'i1']);
    expect(plan.every((d) => d.reason.includes('disk pressure'))).toBe(true);
  });

  it('returns nothing for an empty inventory and does not mutate its input', () => {
    expect(planGc(inventory(), policy())).toEqual([]);
    const inv = inventory({ containers: [container('c2', 'exited', 2), container('c1', 'exited', 1)], images: [image('i2', 2), image('i1', 1)] });
    const before = structuredClone(inv);
    planGc(inv, policy({ exitedHistory: 0, keepImages: 0 }));
    expect(inv).toEqual(before);
  });

  it('is deterministic regardless of input order', () => {
    const containers = [container('a', 'exited', 1), container('b', 'exited', 2), container('c', 'exited', 3)];
    const images = [image('i1', 1), image('i2', 2)];
    const forward = planGc(inventory({ containers, images }), policy({ exitedHistory: 1, keepImages: 1 }));
    const backward = planGc(inventory({ containers: [...containers].reverse(), images: [...images].reverse() }), policy({ exitedHistory: 1, keepImages: 1 }));
    expect(backward).toEqual(forward);
  });
});

describe('diskPressure', () => {
  const marks = { highMark: 0.85, lowMark: 0.8 };
  it.each([
    [{ usedBytes: 90, totalBytes: 100 }, false, true],
    [{ usedBytes: 86, totalBytes: 100 }, false, true],
    [{ usedBytes: 85, totalBytes: 100 }, false, false],
    [{ usedBytes: 82, totalBytes: 100 }, false, false],
    [{ usedBytes: 82, totalBytes: 100 }, true, true],
    [{ usedBytes: 80, totalBytes: 100 }, true, true],
    [{ usedBytes: 79, totalBytes: 100 }, true, false],
    [{ usedBytes: 0, totalBytes: 0 }, true, true],
    [undefined, false, false],
    [undefined, true, true],
  ])('%j, previously %s -> %s', (disk, previous, expected) => {
    expect(diskPressure(disk, previous, marks)).toBe(expected);
  });
});
