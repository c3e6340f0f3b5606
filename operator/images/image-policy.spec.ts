import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { imagePolicyProblem, selectTag, toImagePolicy, type ImagePolicy } from './image-policy.ts';

const sv = (range: string): ImagePolicy => ({ kind: 'semver', range });
const pat = (pattern: string, order: 'numerical' | 'alphabetical' = 'alphabetical', extract?: string): ImagePolicy =>
  extract === undefined ? { kind: 'pattern', pattern, order } : { kind: 'pattern', pattern, order, extract };

describe('imagePolicyProblem', () => {
  it('accepts valid policies', () => {
    expect(imagePolicyProblem({ semver: '>=2.3 <3' })).toBeUndefined();
    expect(imagePolicyProblem({ semver: '^1.0.0-0', interval: '1m' })).toBeUndefined();
    expect(imagePolicyProblem({ pattern: '^main-[0-9a-f]{7}$' })).toBeUndefined();
    expect(imagePolicyProblem({ pattern: '^main-(\\d+)$', order: 'numerical', extract: '$1' })).toBeUndefined();
    expect(imagePolicyProblem({ pattern: '^main-(?P<ts>\\d+)-[0-9a-f]+$', order: 'numerical', extract: '$ts' })).toBeUndefined();
    expect(imagePolicyProblem({ pattern: '^(?<ts>\\d+)$', extract: '${ts}' })).toBeUndefined();
  });

  it('refuses an invalid semver range, naming it', () => {
    expect(imagePolicyProblem({ semver: 'not a range!' })).toEqual({ field: 'semver', message: '"not a range!" is not a semver range' });
    expect(imagePolicyProblem({ semver: '' })).toEqual({ field: 'semver', message: '"" is not a semver range' });
    expect(imagePolicyProblem({ semver: '>=1.0.0 <<2' })?.field).toBe('semver');
  });

  it('refuses a pattern that does not compile, or needs backtracking', () => {
    expect(imagePolicyProblem({ pattern: '(a' })).toMatchObject({ field: 'pattern' });
    expect(imagePolicyProblem({ pattern: '(a' })?.message).toMatch(/missing closing \)/);
    expect(imagePolicyProblem({ pattern: 'a(?=b)' })?.field).toBe('pattern');
    expect(imagePolicyProblem({ pattern: '(a)\\1' })?.field).toBe('pattern');
  });

  it('names the field of other problems', () => {
    expect(imagePolicyProblem(undefined)?.field).toBe('');
    expect(imagePolicyProblem('x')?.field).toBe('');
    expect(imagePolicyProblem({})?.field).toBe('semver');
    expect(imagePolicyProblem({ semver: '1', pattern: 'x' })?.field).toBe('pattern');
    expect(imagePolicyProblem({ semver: 1 })).toEqual({ field: 'semver', message: 'semver must be a string' });
    expect(imagePolicyProblem({ pattern: 'x', order: 'random' })).toEqual({ field: 'order', message: '"random" is not one of numerical, alphabetical' });
    expect(imagePolicyProblem({ semver: '1.x', order: 'numerical' })?.field).toBe('order');
    expect(imagePolicyProblem({ semver: '1.x', extract: '$1' })?.field).toBe('extract');
    expect(imagePolicyProblem({ pattern: '^(\\d+)$', extract: '$2' })).toEqual({ field: 'extract', message: 'pattern has no capture group "2"' });
    expect(imagePolicyProblem({ pattern: '^(?P<ts>\\d+)$', extract: '$name' })?.field).toBe('extract');
    expect(imagePolicyProblem({ pattern: '^(\\d+)$', extract: 'constant' })?.field).toBe('extract');
    expect(imagePolicyProblem({ pattern: '^(\\d+)$', extract: '${1' })?.field).toBe('extract');
    expect(imagePolicyProblem({ pattern: '^(\\d+)$', extract: '$' })?.field).toBe('extract');
    expect(imagePolicyProblem({ pattern: 'x', interval: 60 })?.field).toBe('interval');
    expect(imagePolicyProblem({ pattern: 'x', bogus: 1 })?.field).toBe('bogus');
  });
});

describe('toImagePolicy', () => {
  it('defaults order to alphabetical', () => {
    expect(toImagePolicy({ semver: '^1' })).toEqual({ kind: 'semver', range: '^1' });
    expect(toImagePolicy({ pattern: '^x' })).toEqual({ kind: 'pattern', pattern: '^x', order: 'alphabetical' });
    expect(toImagePolicy({ pattern: '^x-(\\d+)', order: 'numerical', extract: '$1' })).toEqual({
      kind: 'pattern', pattern: '^x-(\\d+)', order: 'numerical', extract: '$1',
    });
  });
  it('throws E_CONFIG on an invalid policy', () => {
    expect(() => toImagePolicy({ semver: '~~' })).toThrow(BerthError);
    try {
      toImagePolicy({});
    } catch (err) {
      expect((err as BerthError).code).toBe('E_CONFIG');
    }
  });
});

describe('selectTag: semver', () => {
  const tags = ['1.0.0', 'v2.2.9', '2.3.0', 'v2.3.1', '2.4.0-rc.1', '2.10.0', '3.0.0', 'latest', 'main-abc1234', '2.11', '2.12.0.1'];

  it('picks the highest version in range, with or without a v prefix', () => {
    expect(selectTag(sv('>=2.3 <3'), tags)).toBe('2.10.0');
    expect(selectTag(sv('~2.3'), tags)).toBe('v2.3.1');
    expect(selectTag(sv('*'), tags)).toBe('3.0.0');
    expect(selectTag(sv('^1'), tags)).toBe('1.0.0');
  });

  it('never coerces: 2.11 and 2.12.0.1 are not versions', () => {
    expect(selectTag(sv('>=2.11'), ['2.11', '2.12.0.1', 'v2.13', 'V2.14.0', '=2.15.0', ' 2.16.0'])).toBeUndefined();
  });

  it('excludes prereleases unless the range names one', () => {
    expect(selectTag(sv('>=2.3 <3'), ['2.3.0', '2.4.0-rc.1'])).toBe('2.3.0');
    expect(selectTag(sv('>=2.4.0-rc.0 <3'), ['2.3.0', '2.4.0-rc.1', '2.4.0-rc.2'])).toBe('2.4.0-rc.2');
    expect(selectTag(sv('>=2.4.0-rc.0 <3'), ['2.4.0-rc.2', '2.4.0'])).toBe('2.4.0');
    // a prerelease of another version than the comparator's stays excluded (semver's default)
    expect(selectTag(sv('>=2.4.0-rc.0 <3'), ['2.5.0-beta.1', '2.4.0-rc.1'])).toBe('2.4.0-rc.1');
    expect(selectTag(sv('^2'), ['2.0.0-alpha', '2.1.0-beta'])).toBeUndefined();
  });

  it('returns undefined when nothing matches', () => {
    expect(selectTag(sv('>=9'), tags)).toBeUndefined();
    expect(selectTag(sv('*'), [])).toBeUndefined();
  });

  it('is deterministic for equal versions whatever the input order', () => {
    const a = ['v1.2.3', '1.2.3'];
    expect(selectTag(sv('1.x'), a)).toBe(selectTag(sv('1.x'), [...a].reverse()));
    const b = ['1.2.3+build.1', '1.2.3+build.2', '1.2.3'];
    expect(selectTag(sv('1.x'), b)).toBe('1.2.3+build.2');
    expect(selectTag(sv('1.x'), [...b].reverse())).toBe('1.2.3+build.2');
  });

  it('ignores tags longer than 128 characters', () => {
    expect(selectTag(sv('*'), [`1.0.0-${'a'.repeat(130)}`, '0.1.0'])).toBe('0.1.0');
  });

  it('handles a full page of 10,000 tags quickly', () => {
    const many: string[] = [];
    for (let i = 0; i < 10_000; i++) many.push(i % 3 === 0 ? `v${i % 7}.${i % 100}.${i}` : `build-${i}`);
    const t0 = performance.now();
    expect(selectTag(sv('>=5 <6'), many)).toBe('v5.99.9399');
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('selectTag: pattern', () => {
  it('filters then orders alphabetically (code points) by default', () => {
    const tags = ['main-abc1234', 'main-fff0000', 'dev-zzz9999', 'main-0000000', 'main-abc12345'];
    expect(selectTag(pat('^main-[0-9a-f]{7}$'), tags)).toBe('main-fff0000');
    expect(selectTag(pat('^dev-'), tags)).toBe('dev-zzz9999');
    expect(selectTag(pat('^nothing'), tags)).toBeUndefined();
    // code points: 'Z' (0x5A) < 'a' (0x61); astral characters above BMP characters
    expect(selectTag(pat('^x'), ['xa', 'xZ'])).toBe('xa');
    expect(selectTag(pat('^x'), ['x\u{1F600}', 'x\uFFFD'])).toBe('x\u{1F600}');
  });

  it('matches unanchored like Go regexp', () => {
    expect(selectTag(pat('rc'), ['1.0-rc1', 'stable', '2.0-rc0'])).toBe('2.0-rc0');
  });

  it('orders numerically by an extracted group, skipping non-numbers', () => {
    const tags = ['main-9-aaaaaaa', 'main-10-bbbbbbb', 'main-2-ccccccc', 'main-x-ddddddd', 'other-99-eeeeeee'];
    expect(selectTag(pat('^main-([0-9]+)-[a-f]{7}$', 'numerical', '$1'), tags)).toBe('main-10-bbbbbbb');
    // alphabetical on the same group: "9" > "2" > "10"
    expect(selectTag(pat('^main-([0-9]+)-[a-f]{7}$', 'alphabetical', '$1'), tags)).toBe('main-9-aaaaaaa');
    expect(selectTag(pat('^main-(?P<n>[^-]+)-', 'numerical', '$n'), tags)).toBe('main-10-bbbbbbb');
    expect(selectTag(pat('^main-(?P<n>[^-]+)-', 'numerical', '${n}'), ['main-x-1', 'main-y-2'])).toBeUndefined();
    expect(selectTag(pat('^(\\d+)$', 'numerical'), ['1.5', '10', '9.99', '1e1'])).toBe('10');
    expect(selectTag(pat('^[0-9.e-]+$', 'numerical'), ['-3', '0.5', '1.25'])).toBe('1.25');
  });

  it('breaks ties by the tag, whatever the input order', () => {
    const tags = ['a-1-x', 'a-1-y', 'a-01-z'];
    const p = pat('^a-(\\d+)-', 'numerical', '$1');
    expect(selectTag(p, tags)).toBe('a-1-y');
    expect(selectTag(p, [...tags].reverse())).toBe('a-1-y');
  });

  it('supports templates mixing text and groups', () => {
    const p = pat('^(\\d{4})(\\d{2})-(\\d{2})$', 'alphabetical', '$1-$2-${3}');
    expect(selectTag(p, ['202401-31', '202402-01', '202312-31'])).toBe('202402-01');
  });

  it('finishes an evil (backtracking) pattern on 10,000 long tags quickly', () => {
    const evil = pat('(a+)+$');
    const tags = Array.from({ length: 10_000 }, (_, i) => `${'a'.repeat(120)}!${i % 10}`);
    const t0 = performance.now();
    expect(selectTag(evil, tags)).toBeUndefined();
    expect(selectTag(pat('^(a|a)*$'), tags)).toBeUndefined();
    expect(selectTag(pat('(x+x+)+y', 'alphabetical', '$1'), Array.from({ length: 10_000 }, () => 'x'.repeat(127)))).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('handles a full page of 10,000 tags quickly', () => {
    const tags = Array.from({ length: 10_000 }, (_, i) => `main-${1_700_000_000 + i}-${(i * 2654435761 % 0xfffffff).toString(16).padStart(7, '0')}`);
    const t0 = performance.now();
    expect(selectTag(pat('^main-(?P<ts>[0-9]+)-[0-9a-f]{7}$', 'numerical', '$ts'), tags)).toBe(tags[9_999]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
