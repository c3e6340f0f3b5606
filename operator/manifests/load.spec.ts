import { describe, expect, it } from 'vitest';
import { BerthError, ValidationError } from '../model/errors.ts';
import type { RepoSnapshot } from '../source/source.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { isManifestFile, loadDesired } from './load.ts';
import { resolveContext } from './build-context.ts';

const memSnapshot = (files: Record<string, string>, revision = 'rev1'): RepoSnapshot => memorySnapshot(files, revision);

const svc = (name: string, spec: string): string => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec: ${spec}\n`;

async function loadError(snapshot: RepoSnapshot, path = ''): Promise<BerthError> {
  try {
    await loadDesired(snapshot, { instance: 'i', path });
  } catch (err) {
    if (err instanceof BerthError) return err;
    throw err;
  }
  throw new Error('expected loadDesired to throw');
}

describe('loadDesired', () => {
  it('returns the revision and services sorted by key', async () => {
    const snap = memSnapshot({ 'b.yaml': svc('b', '{ image: x }'), 'a.yml': svc('a', '{ image: y }') }, 'abc123');
    const desired = await loadDesired(snap, { instance: 'i', path: '.' });
    expect(desired.revision).toBe('abc123');
    expect(desired.services.map((s) => [s.key, s.image])).toEqual([
      ['default/a', { type: 'ref', ref: 'y' }],
      ['default/b', { type: 'ref', ref: 'x' }],
    ]);
  });

  it('hashes a build context and changes the image tag when the context changes', async () => {
    const files = { 'deploy/web.yaml': svc('web', '{ build: { context: .. } }'), Dockerfile: 'FROM busybox\n' };
    const one = await loadDesired(memSnapshot(files), { instance: 'i', path: 'deploy/' });
    const two = await loadDesired(memSnapshot({ ...files, Dockerfile: 'FROM busybox:1\n' }), { instance: 'i', path: 'deploy' });
    const image = one.services[0]?.image;
    expect(image).toMatchObject({ type: 'build', context: '.', dockerfile: 'Dockerfile' });
    expect(image?.ref).toMatch(/^berth\.local\/default\/web:[0-9a-f]{16}$/);
    expect(two.services[0]?.image.ref).not.toBe(image?.ref);
    expect(two.services[0]?.specHash).not.toBe(one.services[0]?.specHash);
  });

  it('collects every issue of the revision into one ValidationError', async () => {
    const snap = memSnapshot({ 'a.yaml': svc('a', '{ image: x, replicas: x }'), 'b.yaml': svc('b', '{ build: { context: nope } }') });
    const err = await loadError(snap);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.terminal).toBe(true);
    expect((err as ValidationError).issues.map((i) => [i.file, i.code, i.field])).toEqual([
      ['a.yaml', 'E_SCHEMA', 'spec.replicas'],
      ['b.yaml', 'E_SEMANTIC', 'spec.build.context'],
    ]);
  });

  it('refuses an empty revision', async () => {
    const err = await loadError(memSnapshot({ 'README.md': '# hi', 'deploy/.x.yaml': svc('a', '{ image: x }') }));
    expect([err.code, err.terminal]).toEqual(['E_EMPTY_REVISION', true]);
  });

  it('lets E_PATH_MISSING and other snapshot errors propagate', async () => {
    expect((await loadError(memSnapshot({ 'a.yaml': svc('a', '{ image: x }') }), 'deploy')).code).toBe('E_PATH_MISSING');
    const failing: RepoSnapshot = { ...memSnapshot({ 'a.yaml': '' }), read: () => Promise.reject(new BerthError('E_GIT', 'boom')) };
    const err = await loadError(failing);
    expect([err.code, err.terminal]).toEqual(['E_GIT', false]);
  });
});

describe('isManifestFile', () => {
  it.each([
    ['', 'a.yaml', true],
    ['', 'dir/b.YML', true],
    ['', 'a.json', false],
    ['', '.github/ci.yaml', false],
    ['', 'x/.hidden.yaml', false],
    ['deploy', 'deploy/a.yaml', true],
    ['deploy', 'deployment/a.yaml', false],
    ['.berth', '.berth/a.yaml', true],
  ])('root %j, %j -> %s', (root, path, expected) => {
    expect(isManifestFile(root, path)).toBe(expected);
  });
});

describe('resolveContext', () => {
  it.each([
    ['', 'images/web', { path: 'images/web' }],
    ['deploy', '../images/web/', { path: 'images/web' }],
    ['deploy', '..', { path: '.' }],
    ['', '.', { path: '.' }],
  ])('root %j + %j', (root, ctx, expected) => {
    expect(resolveContext(root, ctx)).toEqual(expected);
  });

  it('rejects absolute paths and escapes', () => {
    expect(resolveContext('', '/images')).toHaveProperty('error');
    expect(resolveContext('deploy', '../../x')).toHaveProperty('error');
    expect(resolveContext('', '..')).toHaveProperty('error');
  });
});
