import { describe, expect, it } from 'vitest';
import { BerthError, ValidationError } from '../model/errors.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { RepoSnapshot } from '../source/source.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { loadDesired } from './load.ts';
import type { LoadOptions } from './load.ts';
import { parseManifests } from './parse.ts';
import { manifestLimits, parseCommandLine } from '../settings/flags.ts';

const MiB = 1024 * 1024;
const svc = (name: string): string => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { image: x }\n`;

/** A snapshot that lists no sizes (as a git tree does) and records what was read. */
function unsized(files: Record<string, string>): RepoSnapshot & { reads: string[] } {
  const inner = memorySnapshot(files, 'r1');
  const reads: string[] = [];
  return {
    ...inner,
    reads,
    list: async (dir) => (await inner.list(dir)).map(({ path, mode }) => ({ path, mode })),
    read: (path) => {
      reads.push(path);
      return inner.read(path);
    },
  };
}

async function issuesOf(snapshot: RepoSnapshot, opts: Partial<LoadOptions> = {}): Promise<ManifestIssue[]> {
  try {
    await loadDesired(snapshot, { instance: 'i', path: '', ...opts });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
  throw new Error('expected the revision to be rejected');
}

const where = (issues: ManifestIssue[]): string[] => issues.map((i) => `${i.code} ${i.file}:${i.line}:${i.col}`);

describe('size limits (checked before parsing)', () => {
  const hostile = 'a: ['.repeat(5 * MiB); // 20 MiB

  it('rejects a 20 MB file of `a: [` at file:1:1, from listed sizes or after one read', async () => {
    for (const snapshot of [memorySnapshot({ 'big.yaml': hostile, 'ok.yaml': svc('a') }, 'r1'), unsized({ 'big.yaml': hostile, 'ok.yaml': svc('a') })]) {
      const issues = await issuesOf(snapshot);
      expect(where(issues)).toEqual(['E_TOO_LARGE big.yaml:1:1']);
      expect(issues[0]?.message).toBe('file is 20Mi, more than --max-file-size 1Mi');
    }
  });

  it('reads nothing when listed sizes are over a limit, and stops at the first file past the total otherwise', async () => {
    const files = { 'a.yaml': svc('a'), 'b.yaml': svc('b') + '#'.repeat(600), 'c.yaml': svc('c') };
    const listed = memorySnapshot(files, 'r1');
    let reads = 0;
    const counting: RepoSnapshot = { ...listed, read: (p) => (reads++, listed.read(p)) };
    const issues = await issuesOf(counting, { maxRevisionSize: 700 });
    expect(where(issues)).toEqual(['E_TOO_LARGE b.yaml:1:1']);
    expect(issues[0]?.message).toMatch(/^the manifests up to this file are 7\d\d bytes, more than --max-revision-size 700 bytes$/);
    expect(reads).toBe(0);
    const snapshot = unsized(files);
    expect(where(await issuesOf(snapshot, { maxRevisionSize: 700 }))).toEqual(['E_TOO_LARGE b.yaml:1:1']);
    expect(snapshot.reads).toEqual(['a.yaml', 'b.yaml']);
  });

  it('honours --max-file-size, naming every file over it', async () => {
    const snapshot = memorySnapshot({ 'a.yaml': svc('a'), 'b.yaml': svc('b'), 'c.yaml': `${svc('c')}#${'x'.repeat(100)}\n` }, 'r1');
    expect(where(await issuesOf(snapshot, { maxFileSize: 60 }))).toEqual(['E_TOO_LARGE a.yaml:1:1', 'E_TOO_LARGE b.yaml:1:1', 'E_TOO_LARGE c.yaml:1:1']);
    expect(where(await issuesOf(snapshot, { maxFileSize: 100 }))).toEqual(['E_TOO_LARGE c.yaml:1:1']);
    expect((await loadDesired(snapshot, { instance: 'i', path: '', maxFileSize: 1000 })).services).toHaveLength(3);
  });

  it('parses --max-file-size and --max-revision-size as quantities, for validate and the source commands', () => {
    expect(manifestLimits(parseCommandLine(['validate', 'dir'], {}).flags)).toEqual({ maxFileSize: MiB, maxRevisionSize: 16 * MiB });
    expect(manifestLimits(parseCommandLine(['run', '--max-file-size', '512Ki', '--max-revision-size', '2M'], {}).flags)).toEqual({ maxFileSize: 512 * 1024, maxRevisionSize: 2e6 });
    expect(manifestLimits(parseCommandLine(['plan'], { BERTH_MAX_FILE_SIZE: '2048' }).flags).maxFileSize).toBe(2048);
    for (const bad of ['lots', '0', '-1Mi']) {
      expect(() => manifestLimits(parseCommandLine(['apply', '--max-file-size', bad], {}).flags)).toThrow(BerthError);
    }
  });
});

describe('YAML limits (checked while tokenizing, before composing)', () => {
  const one = (content: string, limits = {}): ManifestIssue[] => parseManifests([{ path: 'a.yaml', content }], { limits }).issues;

  it('stops `a: [` repeated at the nesting limit, even when the size limits let 20 MB through', () => {
    const issues = one('a: ['.repeat(5 * MiB), { maxFileSize: 32 * MiB });
    // The block mapping, then one level per bracket: the 64th bracket is the 65th level.
    expect(where(issues)).toEqual([`E_TOO_LARGE a.yaml:1:${3 + 4 * 63 + 1}`]);
    expect(issues[0]?.message).toBe('nesting deeper than 64 levels');
  });

  it('counts block nesting too, and accepts 64 levels', () => {
    const nested = (depth: number): string => `${'- '.repeat(depth)}x\n`;
    expect(one(nested(64)).map((i) => i.code)).toEqual(['E_UNKNOWN_KIND']);
    expect(where(one(nested(65)))).toEqual(['E_TOO_LARGE a.yaml:1:129']);
    const keys = Array.from({ length: 70 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n');
    expect(one(keys)[0]?.message).toBe('nesting deeper than 64 levels');
  });

  it('limits the nodes of one file', () => {
    const flood = `a: [${'1,'.repeat(300_000)}1]\n`;
    const issues = one(flood);
    expect(issues.map((i) => [i.code, i.line, i.message])).toEqual([['E_TOO_LARGE', 1, 'more than 262144 YAML nodes in one file']]);
    expect(one('a: [1, 2, 3]\nb: { c: 4 }\n', { maxNodes: 5 })[0]?.code).toBe('E_TOO_LARGE');
  });

  it('limits the length of one scalar, at the scalar', () => {
    const doc = (value: string): string => `# not a manifest\n\nblob: { text: ${value} }\n`;
    expect(one(doc('a'.repeat(128 * 1024))).map((i) => i.code)).toEqual(['E_UNKNOWN_KIND']);
    expect(where(one(doc('a'.repeat(128 * 1024 + 1))))).toEqual(['E_TOO_LARGE a.yaml:3:15']);
    expect(where(one(doc(`"${'a'.repeat(128 * 1024)}"`)))).toEqual(['E_TOO_LARGE a.yaml:3:15']);
    const block = `apiVersion: berth/v1\nkind: Service\nmetadata: { name: a }\nspec:\n  image: x\n  env:\n    PEM: |\n${'      0123456789abcdef\n'.repeat(8000)}`;
    expect(one(block)[0]?.message).toBe('a scalar of 179.7Ki characters exceeds the limit of 128Ki');
  });

  it('limits alias expansion', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]'].join('\n');
    expect(where(one(bomb))).toEqual(['E_TOO_LARGE a.yaml:1:1']);
  });

  it('reports a duplicate key among 40k keys at the later key, as yaml did (its check is quadratic, this one linear)', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}\n`).join('');
    const issues = one(`apiVersion: berth/v1\nkind: Service\nmetadata: { name: a }\nspec:\n  image: x\n  env:\n${keys}  k7: again\n`);
    expect(issues.map((i) => [i.code, i.line, i.col, i.message])).toEqual([['E_YAML', 40_007, 3, 'duplicate key "k7" (mapping keys must be unique)']]);
  });
});

describe('reported issues', () => {
  it('caps 40k unknown fields at 100 issues and one saying how many more, keeping the total', async () => {
    const fields = Array.from({ length: 40_000 }, (_, i) => `  f${i}: ${i}\n`).join('');
    const content = `apiVersion: berth/v1\nkind: Service\nmetadata: { name: a }\nspec:\n  image: x\n${fields}`;
    let err: unknown;
    try {
      await loadDesired(memorySnapshot({ 'a.yaml': content }, 'r1'), { instance: 'i', path: '' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const { issues, total } = err as ValidationError;
    expect(total).toBe(40_000);
    expect(issues).toHaveLength(101);
    expect(where(issues.slice(0, 2))).toEqual(['E_SCHEMA a.yaml:6:3', 'E_SCHEMA a.yaml:7:3']);
    expect(issues[99]?.field).toBe('spec.f99');
    expect(issues[100]).toEqual({ file: 'a.yaml', line: 106, col: 3, code: 'E_SCHEMA', field: '', message: 'and 39900 more error(s)' });
    expect((err as ValidationError).message).toMatch(/^40000 error\(s\) in manifests:/);
  });
});
