import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../model/errors.ts';
import { fsSnapshot } from '../source/fs-snapshot.ts';

let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-fs-snapshot-'));
  await mkdir(join(dir, 'a/b'), { recursive: true });
  await mkdir(join(dir, '.git'));
  await writeFile(join(dir, 'a/b/z.txt'), 'z');
  await writeFile(join(dir, 'a/run.sh'), '#!/bin/sh\n');
  await chmod(join(dir, 'a/run.sh'), 0o755);
  await writeFile(join(dir, 'a/B.txt'), 'B');
  await writeFile(join(dir, '.git/HEAD'), 'ref');
  await symlink('b/z.txt', join(dir, 'a/link'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof BerthError ? err.code : 'other';
  }
  return 'none';
}

describe('fsSnapshot', () => {
  it('lists recursively, sorted by path, with git modes and file sizes, skipping only .git', async () => {
    const snap = fsSnapshot(dir);
    expect(snap.revision).toBe('worktree');
    expect(await snap.list('')).toEqual([
      { path: 'a/B.txt', mode: 0o100644, size: 1 },
      { path: 'a/b/z.txt', mode: 0o100644, size: 1 },
      { path: 'a/link', mode: 0o120000 },
      { path: 'a/run.sh', mode: 0o100755, size: 10 },
    ]);
    expect((await snap.list('a/b/')).map((e) => e.path)).toEqual(['a/b/z.txt']);
    expect(await snap.list('.')).toHaveLength(4);
  });

  it('reads files and reports missing paths as E_PATH_MISSING', async () => {
    const snap = fsSnapshot(dir, 'r1');
    expect((await snap.read('a/b/z.txt')).toString()).toBe('z');
    expect(await codeOf(snap.read('a/nope'))).toBe('E_PATH_MISSING');
    expect(await codeOf(snap.read('a'))).toBe('E_PATH_MISSING');
    expect(await codeOf(snap.list('nope'))).toBe('E_PATH_MISSING');
    expect(await codeOf(snap.list('a/B.txt'))).toBe('E_PATH_MISSING');
    expect(await codeOf(snap.list('../'))).toBe('E_PATH_MISSING');
  });

  it('gives a stable tree id that follows content and mode, null when absent', async () => {
    const snap = fsSnapshot(dir);
    const before = await snap.treeId('a');
    expect(before).toMatch(/^[0-9a-f]{40}$/);
    expect(await snap.treeId('a/')).toBe(before);
    expect(await snap.treeId('nope')).toBeNull();
    expect(await snap.treeId('a/B.txt')).toBeNull();
    await chmod(join(dir, 'a/B.txt'), 0o755);
    const afterMode = await snap.treeId('a');
    expect(afterMode).not.toBe(before);
    await writeFile(join(dir, 'a/b/z.txt'), 'zz');
    expect(await snap.treeId('a')).not.toBe(afterMode);
    expect(await snap.treeId('a/b')).not.toBe(await snap.treeId('a'));
  });

  it('gives equal ids to equal content in different directories', async () => {
    await mkdir(join(dir, 'c/b'), { recursive: true });
    await writeFile(join(dir, 'c/b/z.txt'), 'z');
    await mkdir(join(dir, 'a2/b'), { recursive: true });
    await writeFile(join(dir, 'a2/b/z.txt'), 'z');
    const snap = fsSnapshot(dir);
    expect(await snap.treeId('c')).toBe(await snap.treeId('a2'));
  });
});
