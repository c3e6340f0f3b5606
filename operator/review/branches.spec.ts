import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { MemorySource } from '../source/memory-source.ts';
import { matchReviewBranches, planFiles, publishBranchPlans, reviewBranchMatcher, stableJson, type BranchPlan } from './branches.ts';

const sha = (c: string): string => c.repeat(40);
const branches = (...names: string[]) => names.map((name, i) => ({ name, sha: sha(String(i % 10)) }));
const names = (bs: { name: string }[]): string[] => bs.map((b) => b.name);

/** The BerthError `fn` throws (fails the test when it returns or throws anything else). */
function thrown(fn: () => unknown): BerthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    return err as BerthError;
  }
  throw new Error('expected a BerthError');
}

describe('matchReviewBranches', () => {
  const all = branches('berth/status', 'feature/x', 'main', 'review', 'review/a', 'review/a/b', 'review/b', 'reviews/c');

  it('matches one path segment with * and any depth with **', () => {
    expect(names(matchReviewBranches(all, ['review/*'], 'main'))).toEqual(['review/a', 'review/b']);
    expect(names(matchReviewBranches(all, ['review/**'], 'main'))).toContain('review/a/b');
    expect(names(matchReviewBranches(all, ['review/*/*'], 'main'))).toEqual(['review/a/b']);
    expect(names(matchReviewBranches(all, ['review/*', 'feature/*'], 'main'))).toEqual(['feature/x', 'review/a', 'review/b']);
    expect(names(matchReviewBranches(all, ['refs/heads/review/*'], 'main'))).toEqual(['review/a', 'review/b']);
    expect(matchReviewBranches(all, [], 'main')).toEqual([]);
  });

  it('never returns the tracked branch nor the status branch', () => {
    expect(names(matchReviewBranches(all, ['**'], 'main'))).not.toContain('main');
    expect(names(matchReviewBranches(all, ['**'], 'main'))).not.toContain('berth/status');
    expect(names(matchReviewBranches(all, ['review/*'], 'review/a'))).toEqual(['review/b']);
    expect(names(matchReviewBranches(all, ['berth/*', 'main'], 'main'))).toEqual([]);
  });

  it('excludes what a ! pattern matches', () => {
    expect(names(matchReviewBranches(all, ['review/**', '!review/a/**', '!review/a'], 'main'))).toEqual(['review', 'review/b']);
    expect(matchReviewBranches(all, ['!review/a'], 'main')).toEqual([]);
  });

  it('rejects an invalid or empty pattern with E_CONFIG naming it', () => {
    const err = thrown(() => matchReviewBranches(all, ['review/*', 'review/[a'], 'main'));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain("'review/[a'");
    expect(thrown(() => reviewBranchMatcher(['review/(x'])).code).toBe('E_CONFIG');
    expect(thrown(() => reviewBranchMatcher([''])).code).toBe('E_CONFIG');
    expect(thrown(() => reviewBranchMatcher(['!'])).code).toBe('E_CONFIG');
  });
});

describe('planFiles', () => {
  it('keeps the slashes of a branch name as directories', () => {
    expect(planFiles('prod', 'review/a')).toEqual({ md: 'prod/plans/review/a.md', json: 'prod/plans/review/a.json' });
    expect(planFiles('prod', 'hotfix')).toEqual({ md: 'prod/plans/hotfix.md', json: 'prod/plans/hotfix.json' });
  });
});

describe('stableJson', () => {
  it('sorts keys at every depth, indents and ends with a newline', () => {
    expect(stableJson({ b: 1, a: [{ z: 1, y: null }] })).toBe('{\n  "a": [\n    {\n      "y": null,\n      "z": 1\n    }\n  ],\n  "b": 1\n}\n');
    expect(stableJson({ b: 1, a: 2 })).toBe(stableJson({ a: 2, b: 1 }));
  });
});

describe('publishBranchPlans', () => {
  const plan = (branch: string, c: string, text = `plan of ${branch}`): BranchPlan =>
    ({ branch, sha: sha(c), markdown: `# ${text}`, json: { summary: text, revision: sha(c) } });

  it('writes the markdown and JSON of every plan in one commit', async () => {
    const source = new MemorySource();
    const commit = await publishBranchPlans(source, 'prod', [plan('review/a', 'a'), plan('review/b', 'b')], ['review/a', 'review/b']);
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(source.statusCommits).toBe(1);
    expect(source.status.get('prod/plans/review/a.md')).toBe('# plan of review/a\n');
    expect(source.status.get('prod/plans/review/b.json')).toBe(stableJson({ revision: sha('b'), summary: 'plan of review/b' }));
    expect([...source.status.keys()].sort()).toEqual(['prod/plans/review/a.json', 'prod/plans/review/a.md', 'prod/plans/review/b.json', 'prod/plans/review/b.md']);
  });

  it('makes no commit when nothing changed, and one when a plan changed', async () => {
    const source = new MemorySource();
    await publishBranchPlans(source, 'prod', [plan('review/a', 'a'), plan('review/b', 'b')], ['review/a', 'review/b']);
    expect(await publishBranchPlans(source, 'prod', [plan('review/a', 'a'), plan('review/b', 'b')], ['review/a', 'review/b'])).toBeNull();
    expect(await publishBranchPlans(source, 'prod', [], ['review/a', 'review/b'])).toBeNull();
    expect(source.statusCommits).toBe(1);
    expect(await publishBranchPlans(source, 'prod', [plan('review/a', 'c', 'moved')], ['review/a', 'review/b'])).not.toBeNull();
    expect(source.statusCommits).toBe(2);
    expect(source.status.get('prod/plans/review/a.md')).toBe('# moved\n');
    expect(source.status.get('prod/plans/review/b.md')).toBe('# plan of review/b\n');
  });

  it("removes only the files of branches no longer present, leaving other instances' plans and files alone", async () => {
    const source = new MemorySource();
    await source.writeStatus({ 'prod/status.yaml': 'x: 1\n', 'staging/plans/review/b.md': '# other\n', 'staging/plans/review/b.json': '{}\n' }, 'seed');
    await publishBranchPlans(source, 'prod', [plan('review/a', 'a'), plan('review/b', 'b'), plan('review/b/c', 'c')], ['review/a', 'review/b', 'review/b/c']);
    const before = source.statusCommits;
    const commit = await publishBranchPlans(source, 'prod', [], ['review/a', 'review/b/c']);
    expect(commit).not.toBeNull();
    expect(source.statusCommits).toBe(before + 1);
    expect([...source.status.keys()].sort()).toEqual([
      'prod/plans/review/a.json', 'prod/plans/review/a.md', 'prod/plans/review/b/c.json', 'prod/plans/review/b/c.md',
      'prod/status.yaml', 'staging/plans/review/b.json', 'staging/plans/review/b.md',
    ]);
    expect(await publishBranchPlans(source, 'prod', [], ['review/a', 'review/b/c'])).toBeNull();
  });

  it('names updated and removed branches in the commit message', async () => {
    const source = new MemorySource();
    await publishBranchPlans(source, 'prod', [plan('review/a', '1'), plan('review/b', '2')], ['review/a', 'review/b']);
    await publishBranchPlans(source, 'prod', [plan('review/a', '3', 'moved')], ['review/a']);
    await publishBranchPlans(source, 'prod', [], []);
    expect(source.statusMessages).toEqual([
      'berth: plans for review/a (1111111), review/b (2222222)',
      'berth: plans for review/a (3333333), review/b removed',
      'berth: plans: review/a removed',
    ]);
  });
});
