/**
 * ImageAutomation, pure logic: a MemorySource for git, a fake tag lister, an injected clock, a fake pull-request opener.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import { loadDesired } from '../manifests/load.ts';
import { MemorySource } from '../source/memory-source.ts';
import { createLogger } from '../util/log.ts';
import { commitMessage, ImageAutomation, imageUpdateBranch, serviceImageIn, type ImageAutomationDeps, type TagLister } from './automation.ts';

const REG = 'reg.example:5000';

const manifest = (o: { name?: string; image: string; policy?: string[]; replicas?: number }): string => [
  '# the shop API',
  'apiVersion: berth/v1',
  'kind: Service',
  `metadata: { name: ${o.name ?? 'api'}, namespace: shop }`,
  'spec:',
  `  image: ${o.image}   # bumped by berth`,
  `  replicas: ${o.replicas ?? 2}`,
  ...(o.policy ?? ['  imagePolicy:', '    semver: ">=2.3 <3"', '    interval: 1m']),
  '',
].join('\n');

const digestOf = (ref: string): string => `sha256:${createHash('sha256').update(ref).digest('hex')}`;

class FakeLister implements TagLister {
  readonly tags = new Map<string, string[]>();
  listCalls: string[] = [];
  resolveCalls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  failList?: Error;
  delayMs = 0;

  set(repo: string, tags: string[]): void {
    this.tags.set(repo, tags);
  }

  async listTags(ref: string): Promise<string[]> {
    this.listCalls.push(ref);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.failList) throw this.failList;
      const repo = ref.replace(/[:@][^/]*$/, '');
      return [...(this.tags.get(repo) ?? [])];
    } finally {
      this.inFlight--;
    }
  }

  async resolve(ref: string): Promise<{ digest: string }> {
    this.resolveCalls.push(ref);
    return { digest: digestOf(ref) };
  }
}

class FakeGitHub {
  readonly calls: Array<{ head: string; base: string; title: string; body: string }> = [];
  readonly open = new Map<string, number>();
  next = 41;

  async openPull(head: string, base: string, title: string, body: string): Promise<{ number: number; action: 'created' | 'exists' }> {
    this.calls.push({ head, base, title, body });
    const existing = this.open.get(`${head}>${base}`);
    if (existing !== undefined) return { number: existing, action: 'exists' };
    const number = ++this.next;
    this.open.set(`${head}>${base}`, number);
    return { number, action: 'created' };
  }
}

interface Harness {
  source: MemorySource;
  lister: FakeLister;
  github: FakeGitHub;
  auto: ImageAutomation;
  logs: string[];
  clock: { t: number };
  /** Loads main's tip and tracks it, as the operator does after a pass. */
  trackHead(): Promise<DesiredState>;
}

async function harness(files: Record<string, string>, o: { mode?: 'branch' | 'pr'; github?: boolean } = {}): Promise<Harness> {
  const source = new MemorySource();
  source.push(files);
  const lister = new FakeLister();
  const github = new FakeGitHub();
  const logs: string[] = [];
  const clock = { t: 1_000_000 };
  const deps: ImageAutomationDeps = {
    source, branch: 'main', lister, mode: o.mode ?? 'branch', now: () => clock.t,
    log: createLogger({ level: 'debug', write: (l) => logs.push(l) }),
    ...(o.github === false ? {} : { github }),
  };
  const auto = new ImageAutomation(deps);
  const trackHead = async (): Promise<DesiredState> => {
    const desired = await loadDesired(await source.snapshot(await source.head()), { instance: 'i', path: '' });
    auto.track(desired);
    return desired;
  };
  await trackHead();
  return { source, lister, github, auto, logs, clock, trackHead };
}

const mainFile = (h: Harness, path: string): string => h.source.filesOf('main')?.[path] ?? '';

describe('branch mode', () => {
  it('commits the tag the policy selects, changing only the tag, with both digests in the message; then nothing', async () => {
    const text = manifest({ image: `${REG}/shop/api:2.3.0` });
    const h = await harness({ 'shop/api.yaml': text, 'README.md': 'hi' });
    h.lister.set(`${REG}/shop/api`, ['2.3.0', '2.4.0', '3.0.0', 'latest', '2.4.0-rc.1']);

    expect(h.auto.nextDue()).toBe(h.clock.t); // first check at once
    const updates = await h.auto.tick();
    expect(updates).toHaveLength(1);
    const u = updates[0]!;
    expect(u).toMatchObject({ service: 'shop/api', file: 'shop/api.yaml', from: '2.3.0', to: '2.4.0', fromDigest: digestOf(`${REG}/shop/api:2.3.0`), toDigest: digestOf(`${REG}/shop/api:2.4.0`) });
    expect(u.commit).toBe(await h.source.head());
    expect(mainFile(h, 'shop/api.yaml')).toBe(text.replace('shop/api:2.3.0', 'shop/api:2.4.0'));
    expect(mainFile(h, 'README.md')).toBe('hi');

    const log = h.source.commitLog;
    expect(log).toHaveLength(1);
    const [subject, blank, ...body] = log[0]!.message.split('\n');
    expect(subject).toBe(`image: shop/api 2.3.0 -> 2.4.0 (${u.fromDigest!.slice(0, 19)} -> ${u.toDigest!.slice(0, 19)})`);
    expect(blank).toBe('');
    expect(body).toContain('Policy: semver ">=2.3 <3" in shop/api.yaml');
    expect(body).toContain(`From digest: ${u.fromDigest}`);
    expect(body).toContain(`To digest: ${u.toDigest}`);
    expect(Object.keys(log[0]!.files)).toEqual(['shop/api.yaml']);

    // Not due: no registry call.
    expect(h.auto.nextDue()).toBe(h.clock.t + 60_000);
    expect(await h.auto.tick()).toEqual([]);
    expect(h.lister.listCalls).toHaveLength(1);
    // Due again, revision in force still the old one (berth has not applied it yet): no second commit.
    h.clock.t += 60_000;
    expect(await h.auto.tick()).toEqual([]);
    expect(h.lister.listCalls).toHaveLength(2);
    expect(h.source.commitLog).toHaveLength(1);
    // Applied: tracked at 2.4.0; still nothing.
    await h.trackHead();
    h.clock.t += 60_000;
    expect(await h.auto.tick()).toEqual([]);
    expect(h.source.commitLog).toHaveLength(1);
  });

  it('checks again at the next interval only, and moves on to a newly pushed tag', async () => {
    const h = await harness({ 'api.yaml': manifest({ image: `${REG}/shop/api:2.3.0` }) });
    h.lister.set(`${REG}/shop/api`, ['2.3.0', '2.4.0']);
    expect((await h.auto.tick()).map((u) => u.to)).toEqual(['2.4.0']);
    await h.trackHead();
    h.lister.set(`${REG}/shop/api`, ['2.3.0', '2.4.0', '2.5.0']);
    h.clock.t += 59_999;
    expect(await h.auto.tick()).toEqual([]);
    h.clock.t += 1;
    const [u] = await h.auto.tick();
    expect(u).toMatchObject({ from: '2.4.0', to: '2.5.0' });
    expect(serviceImageIn(mainFile(h, 'api.yaml'), { name: 'api', namespace: 'shop' })).toBe(`${REG}/shop/api:2.5.0`);
  });

  it('never downgrades a manual pin the policy ranks higher, nor a newer version outside the range', async () => {
    const h = await harness({
      'a.yaml': manifest({ name: 'a', image: `${REG}/shop/a:2.9.0` }),
      'b.yaml': manifest({ name: 'b', image: `${REG}/shop/b:3.1.0` }),
      'c.yaml': manifest({ name: 'c', image: `${REG}/shop/c:build-9`, policy: ['  imagePolicy:', '    pattern: "^build-(?P<n>[0-9]+)$"', '    order: numerical', '    extract: $n'] }),
    });
    h.lister.set(`${REG}/shop/a`, ['2.3.0', '2.4.0']); // 2.9.0 not (or no longer) listed
    h.lister.set(`${REG}/shop/b`, ['2.3.0', '2.4.0']);
    h.lister.set(`${REG}/shop/c`, ['build-7', 'build-8']);
    expect(await h.auto.tick()).toEqual([]);
    expect(h.source.commitLog).toHaveLength(0);
    expect(h.logs.filter((l) => l.includes('up to date'))).toHaveLength(3);
  });

  it('re-reads the file at the branch tip: a newer pin pushed since, a service or file removed since, commit nothing', async () => {
    const h = await harness({
      'a.yaml': manifest({ name: 'a', image: `${REG}/shop/a:2.3.0` }),
      'b.yaml': manifest({ name: 'b', image: `${REG}/shop/b:2.3.0` }),
      'c.yaml': manifest({ name: 'c', image: `${REG}/shop/c:2.3.0` }),
      'd.yaml': manifest({ name: 'd', image: `${REG}/shop/d:2.3.0` }),
    });
    for (const n of ['a', 'b', 'c', 'd']) h.lister.set(`${REG}/shop/${n}`, ['2.3.0', '2.4.0']);
    // Pushed after the revision in force: a pinned to 2.9.0, b's file deleted, c renamed, d edited elsewhere in its file.
    const d2 = manifest({ name: 'd', image: `${REG}/shop/d:2.3.0`, replicas: 5 });
    h.source.push({
      'a.yaml': manifest({ name: 'a', image: `${REG}/shop/a:2.9.0` }),
      'c.yaml': manifest({ name: 'c2', image: `${REG}/shop/c:2.3.0` }),
      'd.yaml': d2,
    });
    const updates = await h.auto.tick();
    expect(updates.map((u) => u.service)).toEqual(['shop/d']);
    expect(mainFile(h, 'a.yaml')).toContain('shop/a:2.9.0');
    expect(mainFile(h, 'b.yaml')).toBe('');
    expect(mainFile(h, 'd.yaml')).toBe(d2.replace('shop/d:2.3.0', 'shop/d:2.4.0')); // the edit made since is kept
    expect(h.source.commitLog).toHaveLength(1);
  });

  it('edits again on the new tip when someone pushes between the read and the commit', async () => {
    const h = await harness({ 'api.yaml': manifest({ image: `${REG}/shop/api:2.3.0` }), 'other.txt': 'v1' });
    h.lister.set(`${REG}/shop/api`, ['2.4.0']);
    let raced = false;
    h.source.beforePublish = (branch) => {
      if (raced || branch !== 'main') return;
      raced = true;
      h.source.push({ ...h.source.filesOf('main'), 'other.txt': 'v2' });
    };
    const [u] = await h.auto.tick();
    expect(u?.to).toBe('2.4.0');
    expect(mainFile(h, 'other.txt')).toBe('v2');
    expect(mainFile(h, 'api.yaml')).toContain('shop/api:2.4.0');
    expect(h.source.commitLog[0]?.parent).not.toBe(h.source.commitLog[0]?.commit);
  });

  it('skips a reference pinned by digest with one warning, and never asks the registry for it', async () => {
    // Validation refuses a digest with an imagePolicy; the automation skips one anyway (a desired state built elsewhere).
    const h = await harness({ 'api.yaml': manifest({ image: `${REG}/shop/api:2.3.0` }).replace('interval: 1m', 'interval: 10s') });
    const desired = await loadDesired(await h.source.snapshot(await h.source.head()), { instance: 'i', path: '' });
    const svc = desired.services[0]!;
    h.auto.track({ ...desired, services: [{ ...svc, spec: { ...svc.spec, image: `${REG}/shop/api@sha256:${'a'.repeat(64)}` } }] });
    for (let i = 0; i < 3; i++) {
      expect(await h.auto.tick()).toEqual([]);
      h.clock.t += 10_000;
    }
    expect(h.lister.listCalls).toEqual([]);
    expect(h.logs.filter((l) => l.includes('pinned by digest'))).toHaveLength(1);
  });

  it('logs a failure, never throws, and retries at the next interval', async () => {
    const h = await harness({ 'api.yaml': manifest({ image: `${REG}/shop/api:2.3.0` }) });
    h.lister.failList = new BerthError('E_PULL', `registry ${REG} answered 503 listing the tags of ${REG}/shop/api`);
    expect(await h.auto.tick()).toEqual([]);
    expect(h.logs.some((l) => l.includes('check failed') && l.includes('503'))).toBe(true);
    expect(h.auto.nextDue()).toBe(h.clock.t + 60_000);
    h.lister.failList = undefined;
    h.lister.set(`${REG}/shop/api`, ['2.4.0']);
    expect(await h.auto.tick()).toEqual([]); // not due yet
    h.clock.t += 60_000;
    expect((await h.auto.tick()).map((u) => u.to)).toEqual(['2.4.0']);
  });

  it('a git failure is logged and retried too', async () => {
    const h = await harness({ 'api.yaml': manifest({ image: `${REG}/shop/api:2.3.0` }) });
    h.lister.set(`${REG}/shop/api`, ['2.4.0']);
    let fail = true;
    h.source.beforePublish = () => {
      if (fail) throw new BerthError('E_GIT', 'cannot push branch main: HTTP 503');
    };
    expect(await h.auto.tick()).toEqual([]);
    expect(h.logs.some((l) => l.includes('check failed') && l.includes('E_GIT'))).toBe(true);
    fail = false;
    h.clock.t += 60_000;
    expect(await h.auto.tick()).toHaveLength(1);
  });

  it('checks at most 4 services at once, and serialises overlapping ticks', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`s${i}.yaml`] = manifest({ name: `s${i}`, image: `${REG}/shop/s${i}:2.3.0` });
    const h = await harness(files);
    for (let i = 0; i < 10; i++) h.lister.set(`${REG}/shop/s${i}`, ['2.3.0', '2.4.0']);
    h.lister.delayMs = 5;
    const [a, b] = await Promise.all([h.auto.tick(), h.auto.tick()]);
    expect(a).toHaveLength(10);
    expect(b).toEqual([]);
    expect(h.lister.maxInFlight).toBe(4);
    expect(h.lister.listCalls).toHaveLength(10);
    for (let i = 0; i < 10; i++) expect(mainFile(h, `s${i}.yaml`)).toContain(`shop/s${i}:2.4.0`);
  });

  it('selects by a pattern with numerical order (build-10 after build-9), keeping the name as spelled', async () => {
    const policy = ['  imagePolicy:', '    pattern: "^build-(?P<n>[0-9]+)$"', '    order: numerical', '    extract: $n'];
    const h = await harness({ 'api.yaml': manifest({ image: 'localhost:5000/shop/api:build-9', policy }) });
    h.lister.set('localhost:5000/shop/api', ['build-9', 'build-10', 'build-2', 'main-99', 'build-x']);
    const [u] = await h.auto.tick();
    expect(u).toMatchObject({ from: 'build-9', to: 'build-10' });
    expect(mainFile(h, 'api.yaml')).toContain('image: localhost:5000/shop/api:build-10   # bumped by berth');
    expect(h.source.commitLog[0]?.message).toContain('Policy: pattern "^build-(?P<n>[0-9]+)$" order numerical extract "$n" in api.yaml');
  });

  it('tracks only services with an image policy; nextDue is undefined without any', async () => {
    const h = await harness({ 'api.yaml': manifest({ image: `${REG}/shop/api:2.3.0`, policy: [] }) });
    expect(h.auto.nextDue()).toBeUndefined();
    expect(await h.auto.tick()).toEqual([]);
    expect(h.lister.listCalls).toEqual([]);
  });
});

describe('pull request mode', () => {
  it('commits on berth/image-updates/<ns>/<name> from the tracked tip and opens one pull request into it', async () => {
    const text = manifest({ image: `${REG}/shop/api:2.3.0` });
    const h = await harness({ 'shop/api.yaml': text }, { mode: 'pr' });
    h.lister.set(`${REG}/shop/api`, ['2.3.0', '2.4.0']);
    const mainTip = await h.source.head();

    const [u] = await h.auto.tick();
    const branch = imageUpdateBranch('shop', 'api');
    expect(branch).toBe('berth/image-updates/shop/api');
    expect(u).toMatchObject({ service: 'shop/api', from: '2.3.0', to: '2.4.0', pull: 42 });
    expect(await h.source.head()).toBe(mainTip); // the tracked branch is untouched
    expect(h.source.branches.get(branch)).toBe(u!.commit);
    expect(h.source.commitLog[0]?.parent).toBe(mainTip);
    expect(h.source.filesOf(branch)?.['shop/api.yaml']).toBe(text.replace(':2.3.0', ':2.4.0'));
    expect(h.github.calls).toHaveLength(1);
    const call = h.github.calls[0]!;
    expect(call).toMatchObject({ head: branch, base: 'main' });
    expect(call.title).toMatch(/^image: shop\/api 2\.3\.0 -> 2\.4\.0 \(sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}\)$/);
    expect(call.body).toContain('Policy: semver ">=2.3 <3" in shop/api.yaml');

    // Nothing new: neither a commit nor a GitHub call.
    h.clock.t += 60_000;
    expect(await h.auto.tick()).toEqual([]);
    expect(h.github.calls).toHaveLength(1);
    expect(h.source.commitLog).toHaveLength(1);

    // A newer tag before the merge: one more commit on the same branch, the same pull request (retitled).
    h.lister.set(`${REG}/shop/api`, ['2.3.0', '2.4.0', '2.5.0']);
    h.clock.t += 60_000;
    const [u2] = await h.auto.tick();
    expect(u2).toMatchObject({ from: '2.3.0', to: '2.5.0', pull: 42 });
    expect(h.source.commitLog[1]?.parent).toBe(u!.commit);
    expect(h.github.calls[1]?.title).toContain('2.3.0 -> 2.5.0');
    expect(h.source.filesOf(branch)?.['shop/api.yaml']).toContain(':2.5.0');
  });

  it('after a restart, a branch that already holds the update makes no commit, only the pull request check (exists)', async () => {
    const h = await harness({ 'api.yaml': manifest({ image: `${REG}/shop/api:2.3.0` }) }, { mode: 'pr' });
    h.lister.set(`${REG}/shop/api`, ['2.4.0']);
    await h.auto.tick();
    const again = new ImageAutomation({ source: h.source, branch: 'main', lister: h.lister, mode: 'pr', github: h.github, now: () => h.clock.t, log: createLogger({ write: () => undefined }) });
    again.track(await loadDesired(await h.source.snapshot(await h.source.head()), { instance: 'i', path: '' }));
    expect(await again.tick()).toEqual([]);
    expect(h.source.commitLog).toHaveLength(1);
    expect(h.github.calls).toHaveLength(2);
  });

  it('needs a GitHub client', () => {
    expect(() => new ImageAutomation({ source: new MemorySource(), branch: 'main', lister: new FakeLister(), mode: 'pr', log: createLogger() })).toThrow(/GitHub/);
  });
});

describe('commitMessage', () => {
  it('names the service, both tags and digests, and the policy with its file', () => {
    const m = commitMessage({
      key: 'shop/api', file: 'shop/api.yaml', from: '2.3.1', to: '2.4.0', fromDigest: `sha256:9f3e${'0'.repeat(60)}`, toDigest: `sha256:ab12${'1'.repeat(60)}`,
      spec: { semver: '>=2.3 <3', intervalMs: 60_000 }, image: 'r/shop/api:2.3.1', target: 'r/shop/api:2.4.0',
    });
    expect(m.split('\n')[0]).toBe('image: shop/api 2.3.1 -> 2.4.0 (sha256:9f3e00000000 -> sha256:ab1211111111)');
    expect(m).toContain('\nPolicy: semver ">=2.3 <3" in shop/api.yaml');
  });
});

describe('MemorySource.commitFiles', () => {
  it('creates a branch from a commit, refuses a missing one without it, deletes files, skips empty commits', async () => {
    const s = new MemorySource();
    const c1 = s.push({ 'a.yaml': 'a', 'b.yaml': 'b' });
    await expect(s.commitFiles('feature', async () => ({ 'a.yaml': 'x' }), 'm')).rejects.toThrow(/not found/);
    const seen: Array<string | null> = [];
    const c2 = await s.commitFiles('feature', async (tip) => {
      seen.push(tip?.revision ?? null);
      return { 'a.yaml': 'x', 'b.yaml': null };
    }, 'm', { createFrom: c1 });
    expect(seen).toEqual([c1]);
    expect(s.filesOf('feature')).toEqual({ 'a.yaml': 'x' });
    expect(s.branches.get('feature')).toBe(c2);
    expect(await s.commitFiles('feature', async () => ({ 'a.yaml': 'x' }), 'same')).toBeNull();
    expect(await s.commitFiles('feature', async () => null, 'none')).toBeNull();
    await expect(s.commitFiles('main', async () => ({ '../x': 'y' }), 'bad')).rejects.toThrow(/invalid file path/);
    expect(await s.head()).toBe(c1);
  });
});
