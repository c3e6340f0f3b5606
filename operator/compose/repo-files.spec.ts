import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import type { LoadOptions } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { ValidationError, formatIssue } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import { containerSpec } from '../diff/container-spec.ts';

const parse = (content: string, path = 'stack/compose.yaml') => parseEntries([{ path, content }]);
const issuesOf = (content: string, path?: string) => parse(content, path).issues.map(formatIssue);
const specOf = (content: string) => (parse(content).entries.find((e) => e.kind === 'Service')!.doc.value as { spec: Record<string, unknown> }).spec;

async function load(files: Record<string, string>, opts: Partial<LoadOptions> = {}): Promise<DesiredState> {
  return loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '', ...opts });
}

async function loadIssues(files: Record<string, string>, opts: Partial<LoadOptions> = {}): Promise<string[]> {
  try {
    await load(files, opts);
    return [];
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
}

const STACK = [
  'services:',
  '  web:',
  '    image: web',
  '    volumes:',
  '      - ./conf/site.conf:/etc/site.conf:ro',
  '      - ./www:/www',
  '      - /usr/src/app/node_modules',
  '      - { type: bind, source: ., target: /code }',
  '      - { type: volume, target: /cache }',
  '    configs:',
  '      - motd',
  '      - { source: banner, target: /etc/banner, mode: 0400, uid: "100", gid: "101" }',
  'configs:',
  '  motd: { file: ./conf/motd.txt }',
  '  banner: { content: "hello from compose" }',
  '',
].join('\n');

const FILES: Record<string, string> = {
  'stack/compose.yaml': STACK,
  'stack/conf/site.conf': 'site v1\n',
  'stack/conf/motd.txt': 'motd\n',
  'stack/www/index.html': '<h1>one</h1>\n',
  'stack/www/img/logo.svg': '<svg/>\n',
};

describe('compose files of the repository', () => {
  it('maps relative bind sources and configs to spec.files, and target-only volumes to spec.anonymousVolumes', () => {
    expect(issuesOf(STACK)).toEqual([]);
    const spec = specOf(STACK);
    expect(spec.files).toEqual([
      { source: 'stack/conf/site.conf', target: '/etc/site.conf' },
      { source: 'stack/www', target: '/www' },
      { source: 'stack', target: '/code' },
      { source: 'stack/conf/motd.txt', target: '/motd', mode: '0444' },
      { content: 'hello from compose', target: '/etc/banner', mode: '0400', uid: 100, gid: 101 },
    ]);
    expect(spec.anonymousVolumes).toEqual(['/usr/src/app/node_modules', '/cache']);
    expect(spec.volumes).toBeUndefined();
  });

  it('reads the files from the snapshot into the desired service, with the mode of git or of the entry', async () => {
    const desired = await load(FILES);
    const web = desired.services.find((s) => s.name === 'web')!;
    const byPath = Object.fromEntries(web.files!.flatMap((f) => f.entries).map((e) => [e.path, { mode: e.mode.toString(8), text: Buffer.from(e.content ?? '', 'base64').toString(), uid: e.uid }]));
    expect(byPath['/etc/site.conf']).toEqual({ mode: '644', text: 'site v1\n', uid: undefined });
    expect(byPath['/www/index.html']?.text).toBe('<h1>one</h1>\n');
    expect(byPath['/www/img/logo.svg']?.text).toBe('<svg/>\n');
    expect(byPath['/code/compose.yaml']?.text).toBe(STACK);
    expect(byPath['/motd']).toEqual({ mode: '444', text: 'motd\n', uid: undefined });
    expect(byPath['/etc/banner']).toEqual({ mode: '400', text: 'hello from compose', uid: 100 });
    // what the runtime writes into each replica, and its anonymous volumes
    const create = containerSpec('t', 'r1', web, 1);
    expect(create.anonymousVolumes).toEqual(['/usr/src/app/node_modules', '/cache']);
    const banner = create.files!.find((f) => f.path === '/etc/banner')!;
    expect({ text: banner.content.toString(), mode: banner.mode, uid: banner.uid, gid: banner.gid }).toEqual({ text: 'hello from compose', mode: 0o400, uid: 100, gid: 101 });
  });

  it('puts the content of the files into the spec hash: a change in git replaces the replicas, an unrelated file does not', async () => {
    const hash = async (files: Record<string, string>) => (await load(files)).services.find((s) => s.name === 'web')!.specHash;
    const before = await hash(FILES);
    expect(await hash({ ...FILES, 'other/readme.md': 'x' })).toBe(before);
    expect(await hash({ ...FILES, 'stack/conf/site.conf': 'site v2\n' })).not.toBe(before);
    expect(await hash({ ...FILES, 'stack/www/new.html': 'new' })).not.toBe(before);
  });

  it('reports a missing file, a path leaving the repository and a too large file at the compose line', async () => {
    const compose = (volume: string) => ['services:', '  web:', '    image: web', '    volumes:', `      - ${volume}`, ''].join('\n');
    expect(await loadIssues({ 'stack/compose.yaml': compose('./nope.conf:/etc/nope.conf') })).toEqual([
      'stack/compose.yaml:5:9: spec.files[0].source: stack/nope.conf does not exist at revision r1',
    ]);
    expect(await loadIssues({ 'stack/compose.yaml': compose('../../etc/passwd:/etc/passwd:ro') })).toEqual([
      'stack/compose.yaml:5:9: spec.files[0].source: ../etc/passwd leaves the repository (resolves to ../etc/passwd)',
    ]);
    expect(await loadIssues({ 'stack/compose.yaml': compose('./big.bin:/big.bin'), 'stack/big.bin': 'x'.repeat(2048) }, { maxFileSize: 1024 })).toEqual([
      'stack/compose.yaml:5:9: spec.files[0].source: stack/big.bin is 2Ki, more than --max-file-size 1Ki',
    ]);
    // all files of spec.files together count with the manifests against --max-revision-size
    const many = Object.fromEntries([...Array(5).keys()].map((i) => [`stack/www/${i}.txt`, 'y'.repeat(900)]));
    const budget = await loadIssues({ 'stack/compose.yaml': compose('./www:/www'), ...many }, { maxFileSize: 1024, maxRevisionSize: 4096 });
    expect(budget).toHaveLength(1);
    expect(budget[0]).toMatch(/^stack\/compose\.yaml:5:9: spec\.files\[0\]\.source: stack\/www\/\d\.txt: the manifests and the files of spec\.files are more than --max-revision-size 4Ki$/);
    // a config's file is reported at its top-level declaration
    const config = ['services:', '  web:', '    image: web', '    configs: [app]', 'configs:', '  app:', '    file: ./app.conf', ''].join('\n');
    expect(await loadIssues({ 'stack/compose.yaml': config })).toEqual(['stack/compose.yaml:7:11: spec.files[0].source: stack/app.conf does not exist at revision r1']);
  });

  it('refuses ~ sources, unsupported configs and files on a read-only root filesystem, at the compose key', () => {
    const svc = (lines: string[], top: string[] = []) => ['services:', '  web:', '    image: web', ...lines, ...top, ''].join('\n');
    expect(issuesOf(svc(['    volumes: ["~/site:/site"]']))).toEqual([
      'stack/compose.yaml:4:15: services.web.volumes[0]: a bind source under ~ is a path of the home directory of whoever runs compose; use an absolute host path, or a path of the repository relative to the compose file',
    ]);
    expect(issuesOf(svc(['    configs: [a, b]'], ['configs:', '  a: { environment: A }', '  b: { external: true }']))).toEqual([
      'stack/compose.yaml:6:8: configs.a.environment: configs from an environment variable are not supported yet (use file: a file of the repository, or content:)',
      'stack/compose.yaml:7:8: configs.b.external: external configs are not supported yet (use file: a file of the repository, or content:)',
    ]);
    expect(issuesOf(svc(['    configs: [c]']))).toEqual(['stack/compose.yaml:4:15: services.web.configs[0]: config "c" is not declared in the top-level configs']);
    expect(issuesOf(svc(['    read_only: true', '    volumes: ["./a:/etc/a"]']))).toEqual([
      'stack/compose.yaml:5:5: spec.files: needs a writable root filesystem: the files are copied into it before the replica starts, and the engine refuses that with readOnly: true (mount a Volume for them instead, or drop readOnly)',
    ]);
  });
  it('drops a trailing "/" of a target, as Docker does (./app:/var/www/html/, - /data/)', () => {
    const spec = specOf('services:\n  web:\n    image: web\n    volumes:\n      - ./app:/var/www/html/\n      - /data/\n      - { type: bind, source: ./conf, target: /etc/conf// }\n');
    expect(spec.files).toEqual([{ source: 'stack/app', target: '/var/www/html' }, { source: 'stack/conf', target: '/etc/conf' }]);
    expect(spec.anonymousVolumes).toEqual(['/data']);
  });
});
