import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseCommandLine } from '../settings/flags.ts';
import { settingsFor } from '../settings/settings.ts';
import { formatEntry, formatValue } from './output.ts';
import { compareUrl, rollbackMessage } from './rollback.ts';

describe('-o text|json|yaml', () => {
  it('prints one value as indented JSON or one YAML document, and entries as JSON lines or YAML documents', () => {
    const value = { a: 1, b: ['x: y', 'z'] };
    expect(formatValue('json', value, () => 'T')).toBe(JSON.stringify(value, null, 2));
    expect(parse(formatValue('yaml', value, () => 'T'))).toEqual(value);
    expect(formatValue('text', value, () => 'T')).toBe('T');
    const stream = [formatEntry('yaml', value, () => ''), formatEntry('yaml', { a: 2 }, () => '')].join('\n');
    expect(parseAllDocuments(stream).map((d) => d.toJS())).toEqual([value, { a: 2 }]);
    expect(formatEntry('json', value, () => '')).toBe(JSON.stringify(value));
  });

  it('is a flag of every read command; the older --json and --format stay aliases, and -o wins over them', () => {
    const s = (argv: string[]) => settingsFor(argv[0] as 'status', parseCommandLine(argv, {}).flags);
    expect(s(['status', '-o', 'yaml']).output).toBe('yaml');
    expect(s(['status', '--json']).output).toBe('json');
    expect(s(['status']).output).toBe('text');
    expect(s(['status', '--json', '-o', 'yaml']).output).toBe('yaml');
    expect((settingsFor('audit', parseCommandLine(['audit', '--json'], {}).flags)).output).toBe('json');
    for (const cmd of ['logs', 'events', 'history', 'version'] as const) {
      expect((settingsFor(cmd, parseCommandLine([cmd, '--output', 'yaml'], {}).flags) as { output: string }).output).toBe('yaml');
    }
    const plan = (argv: string[]) => settingsFor('plan', parseCommandLine(['plan', '--repo', '/r', ...argv], {}).flags).format;
    expect([plan([]), plan(['--json']), plan(['--format', 'markdown']), plan(['-o', 'yaml']), plan(['--json', '-o', 'markdown'])]).toEqual(['text', 'json', 'markdown', 'yaml', 'markdown']);
    expect(settingsFor('diff', parseCommandLine(['diff', 'v1', '--repo', '/r', '-o', 'json'], {}).flags).format).toBe('json');
    expect(() => s(['status', '-o', 'xml'])).toThrow('-o: "xml" must be one of text, json, yaml');
  });

  it('history takes --limit up to 500; rollback needs --repo, and --github-repo only with --pr', () => {
    expect(settingsFor('history', parseCommandLine(['history'], {}).flags).limit).toBe(20);
    expect(() => settingsFor('history', parseCommandLine(['history', '--limit', '501'], {}).flags)).toThrow('--limit: at most 500');
    expect(() => settingsFor('rollback', parseCommandLine(['rollback', 'abc'], {}).flags, {})).toThrow('--repo is required');
    expect(() => settingsFor('rollback', parseCommandLine(['rollback', 'abc', '--repo', '/r', '--github-repo', 'o/n'], {}).flags, { GITHUB_TOKEN: 't' })).toThrow('goes with --pr');
    expect(settingsFor('rollback', parseCommandLine(['rollback', 'abc', '--repo', '/r', '--pr', '--github-repo', 'o/n'], {}).flags, { GITHUB_TOKEN: 't', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@x' })).toMatchObject({ pr: true, github: { repo: 'o/n', token: 't' }, author: { name: 'A', email: 'a@x' } });
  });
});

describe('rollback', () => {
  it('says what it restores in its commit message, and knows GitHub compare pages', () => {
    const info = { sha: 'a'.repeat(40), subject: 'two replicas', author: { name: 'Ann', email: 'a@x' }, committedAt: '2026-01-01T00:00:00.000Z', parents: [] };
    expect(rollbackMessage(info, { branch: 'main', path: 'deploy' }).split('\n')).toEqual([
      'Revert manifests to aaaaaaa: two replicas', '',
      `Restores directory deploy of ${'a'.repeat(40)} (Ann, 2026-01-01T00:00:00.000Z) on main.`,
      'Made by berth rollback: the commits in between stay in the history.',
    ]);
    expect(compareUrl('https://x:tok@github.com/o/n.git', 'main', 'berth/rollback-aaaaaaa')).toBe('https://github.com/o/n/compare/main...berth/rollback-aaaaaaa?expand=1');
    expect(compareUrl('http://127.0.0.1:8080/repo.git', 'main', 'b')).toBeNull();
  });
});
