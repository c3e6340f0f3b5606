import { describe, expect, it } from 'vitest';
import { MemorySource } from './memory-source.ts';

describe('MemorySource', () => {
  it('lists main and extra branches by name and resolves them', async () => {
    const source = new MemorySource();
    const main = source.push({ 'a.yaml': 'a' });
    const b = source.pushBranch('review/b', { 'b.yaml': 'b' });
    const a = source.pushBranch('review/a', { 'a.yaml': 'a2' });
    expect(await source.listBranches()).toEqual([{ name: 'main', sha: main }, { name: 'review/a', sha: a }, { name: 'review/b', sha: b }]);
    expect(await source.resolve('refs/heads/review/a')).toBe(a);
    expect(await source.resolve('review/b')).toBe(b);
    expect(await source.head()).toBe(main);
    expect((await (await source.snapshot(a)).read('a.yaml')).toString()).toBe('a2');
    const moved = source.pushBranch('review/a', { 'a.yaml': 'a3' });
    expect(moved).not.toBe(a);
    source.branches.delete('review/b');
    expect((await source.listBranches()).map((x) => x.name)).toEqual(['main', 'review/a']);
    await expect(source.resolve('review/b')).rejects.toMatchObject({ code: 'E_GIT' });
  });

  it('reads a status directory and records commit messages', async () => {
    const source = new MemorySource();
    await source.writeStatus({ 'p/plans/x.md': 'x', 'p/plans/y/z.md': 'z', 'p/status.yaml': 's', 'q/plans/x.md': 'q' }, 'one');
    expect(await source.readStatusDir('p/plans')).toEqual({ 'p/plans/x.md': 'x', 'p/plans/y/z.md': 'z' });
    expect(await source.readStatusDir('p/plans/')).toEqual({ 'p/plans/x.md': 'x', 'p/plans/y/z.md': 'z' });
    expect(await source.readStatusDir('none')).toEqual({});
    expect(await source.writeStatus({ 'p/plans/x.md': 'x' }, 'unchanged')).toBeNull();
    expect(source.statusMessages).toEqual(['one']);
  });
});
