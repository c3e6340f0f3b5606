import { describe, expect, it } from 'vitest';
import { interpolateString, interpolateTree } from './interpolate.ts';
import { parseDotEnv } from './dotenv.ts';
import { shellSplit } from './shell-split.ts';
import { composeBytes, composeDuration } from './units.ts';
import { sanitizeNamespace } from './detect.ts';

const env = { A: 'a', EMPTY: '', N: '3' };

describe('interpolateString', () => {
  it.each([
    ['${A}', 'a'],
    ['$A-x', 'a-x'],
    ['pre${A}post', 'preapost'],
    ['${MISSING:-dflt}', 'dflt'],
    ['${EMPTY:-dflt}', 'dflt'],
    ['${EMPTY-dflt}', ''],
    ['${MISSING-dflt}', 'dflt'],
    ['${A:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${MISSING:-${A}}', 'a'],
    ['$$A costs $$5', '$A costs $5'],
    ['${A:?never}', 'a'],
  ])('%s -> %s', (input, out) => {
    expect(interpolateString(input, env)).toEqual({ value: out, unset: [] });
  });

  it('makes an unset variable without default empty, and names it', () => {
    expect(interpolateString('x${NOPE}y$NOPE2', env)).toEqual({ value: 'xy', unset: ['NOPE', 'NOPE2'] });
  });

  it('fails on :? and ? naming the variable, and on a lone $', () => {
    expect(interpolateString('${NOPE:?set it in .env}', env)).toEqual({ error: 'required variable NOPE is not set: set it in .env' });
    expect(interpolateString('${EMPTY:?}', env)).toEqual({ error: 'required variable EMPTY is empty' });
    expect(interpolateString('${EMPTY?}', env)).toEqual({ value: '', unset: [] });
    expect(interpolateString('cost $5', env)).toHaveProperty('error');
    expect(interpolateString('${A', env)).toHaveProperty('error');
  });

  it('walks values, not keys, and reports problems by path', () => {
    const r = interpolateTree({ services: { web: { image: 'x:${TAG}', environment: { $KEY: '${A}' }, command: ['${N:?}', '${X:?needed}'] } } }, env);
    expect(r.value).toEqual({ services: { web: { image: 'x:', environment: { $KEY: 'a' }, command: ['3', '${X:?needed}'] } } });
    expect(r.problems).toEqual([
      { path: ['services', 'web', 'image'], severity: 'warning', message: 'variable TAG is not set: it is an empty string (as compose does)' },
      { path: ['services', 'web', 'command', 1], severity: 'error', message: 'required variable X is not set: needed' },
    ]);
  });
});

describe('parseDotEnv', () => {
  it('reads KEY=value lines as compose does', () => {
    const text = '# c\nA=1\nexport B = two words # note\nC="x\\ny ${A}"\nD=\'${A} lit\'\n\nE=\nbroken line\n';
    const r = parseDotEnv(text);
    expect(r.vars).toEqual({ A: '1', B: 'two words', C: 'x\ny 1', D: '${A} lit', E: '' });
    expect(r.problems).toEqual([{ line: 8, message: 'expected KEY=value, found "broken line"' }]);
  });
});

describe('shellSplit', () => {
  it.each([
    ['httpd -f -p 8080', ['httpd', '-f', '-p', '8080']],
    ['sh -c "echo hi; exit 1"', ['sh', '-c', 'echo hi; exit 1']],
    ["echo 'a  b' c\\ d", ['echo', 'a  b', 'c d']],
    ['--save "" x', ['--save', '', 'x']],
    ['a"b"c', ['abc']],
  ])('%s', (input, words) => {
    expect(shellSplit(input)).toEqual(words);
  });

  it('refuses an unterminated quote', () => {
    expect(shellSplit('echo "x')).toEqual({ error: 'unterminated double quote' });
  });
});

describe('compose units', () => {
  it.each([
    ['1m30s', '1m30s'], ['1.5s', '1s500ms'], ['100ms', '100ms'], ['2h', '2h'], ['0', '0s'], [10, '10s'], ['10us', '1ms'],
  ])('duration %s -> %s', (input, out) => expect(composeDuration(input)).toBe(out));
  it.each([['1x', undefined], ['', undefined], ['-1s', undefined]])('duration %s is refused', (input, out) => expect(composeDuration(input)).toBe(out));
  it.each([
    ['512m', 512 * 1024 ** 2], ['1gb', 1024 ** 3], ['100k', 102400], ['2048', 2048], [4096, 4096], ['1.5g', 1.5 * 1024 ** 3],
  ])('bytes %s -> %s', (input, out) => expect(composeBytes(input)).toBe(out));
  it('sanitises directory names into namespaces', () => {
    expect(sanitizeNamespace('My_Shop.v2')).toBe('my-shop-v2');
    expect(sanitizeNamespace('__')).toBe('');
  });
});
