import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import type { LoadOptions } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { ValidationError, formatIssue } from '../model/errors.ts';
import { bindVolumeName } from './convert-volumes.ts';
import { octalMode } from './convert-secrets.ts';

const AGE = readFileSync(new URL('../../test/fixtures/secrets/age/secret.txt.age.asc', import.meta.url), 'utf8');
const SOPS = readFileSync(new URL('../../test/fixtures/secrets/sops-age-humphd/secret.enc.yaml', import.meta.url), 'utf8');

const parse = (content: string, path = 'stack/compose.yaml') => parseEntries([{ path, content }]);
const issuesOf = (content: string, path?: string) => parse(content, path).issues.map(formatIssue);

async function loadIssues(files: Record<string, string>, opts: Partial<LoadOptions> = {}): Promise<string[]> {
  try {
    await loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '', ...opts });
    return [];
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
}

const SECRETS = [
  'services:',
  '  web:',
  '    image: web',
  '    secrets:',
  '      - db_password',
  '      - { source: tls, target: cert, uid: "100", gid: "101", mode: 0440 }',
  '      - { source: db_password, target: /etc/app/pw }',
  'secrets:',
  '  db_password: { file: ./db_password.age }',
  '  tls:',
  '    file: ../shared/tls.enc.yaml',
  '    labels: { team: web }',
  '',
].join('\n');

describe('compose secrets', () => {
  it('maps top-level secrets to berth Secrets of the stack and service secrets to spec.secrets', () => {
    const r = parse(SECRETS);
    expect(r.issues).toEqual([]);
    expect(r.entries.map((e) => `${e.kind} ${e.namespace}/${e.name}`)).toEqual(['Secret stack/db-password', 'Secret stack/tls', 'Service stack/web']);
    const [pw, tls, web] = r.entries.map((e) => e.doc.value);
    expect(pw).toEqual({ apiVersion: 'berth/v1', kind: 'Secret', metadata: { name: 'db-password', namespace: 'stack' }, spec: { file: 'stack/db_password.age', format: 'age' } });
    expect(tls).toEqual({ apiVersion: 'berth/v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'stack', labels: { team: 'web' } }, spec: { file: 'shared/tls.enc.yaml', format: 'sops' } });
    expect((web as { spec: { secrets: unknown } }).spec.secrets).toEqual([
      // an age file: its one value, the file /run/secrets/<source> as compose delivers it
      { secret: 'db-password', key: 'value', target: '/run/secrets/db_password' },
      // a SOPS document: every item, under the directory /run/secrets/<target>/
      { secret: 'tls', target: '/run/secrets/cert', uid: 100, gid: 101, mode: '0440' },
      { secret: 'db-password', key: 'value', target: '/etc/app/pw' },
    ]);
  });

  it('reads the encrypted files from the snapshot; a plaintext file is reported at the compose file field', async () => {
    const files = { 'stack/compose.yaml': SECRETS, 'stack/db_password.age': AGE, 'shared/tls.enc.yaml': SOPS };
    const desired = await loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '' });
    expect(desired.secrets?.map((s) => `${s.key} ${s.format} ${s.file}`)).toEqual(['stack/db-password age stack/db_password.age', 'stack/tls sops-yaml shared/tls.enc.yaml']);
    // the file name says which encryption: a SOPS document named .age is refused as well
    const plain = await loadIssues({ ...files, 'stack/db_password.age': 'hunter2\n' });
    expect(plain).toEqual(['stack/compose.yaml:9:24: spec.file: not encrypted: stack/db_password.age is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it']);
    expect(await loadIssues({ ...files, 'stack/db_password.age': SOPS })).toEqual([expect.stringMatching(/^stack\/compose\.yaml:9:24: spec\.file: not encrypted: stack\/db_password\.age is not an age file/)]);
    expect(plain.join('\n')).not.toContain('hunter2');
  });

  it('refuses external, environment and content secrets, other fields, name clashes and undeclared secrets at their position', () => {
    expect(issuesOf([
      'services:',
      '  web:',
      '    image: web',
      '    secrets: [a, nope, { source: b, mode: 0999 }]',
      'secrets:',
      '  a: { external: true }',
      '  b: { file: ./b.age }',
      '  c: { environment: TOKEN }',
      '  e: { file: ./e.age, driver: vault }',
      '  f_g: { file: ./f.age }',
      '  f.g: { file: ./g.age }',
      '  h: { file: /etc/shadow }',
      '  i: { labels: [x=1] }',
      '',
    ].join('\n'))).toEqual([
      'stack/compose.yaml:4:18: services.web.secrets[1]: secret "nope" is not declared in the top-level secrets',
      'stack/compose.yaml:4:43: services.web.secrets[2].mode: must be a file mode in octal digits such as 0440 (found 999)',
      'stack/compose.yaml:6:8: secrets.a.external: external secrets are not supported yet (use file: an encrypted file of the repository)',
      'stack/compose.yaml:8:8: secrets.c.environment: secrets from an environment variable are not supported yet (use file: an encrypted file of the repository)',
      'stack/compose.yaml:9:23: secrets.e.driver: compose field secrets.e.driver is not supported by berth',
      'stack/compose.yaml:11:3: secrets["f.g"]: secrets f_g and f.g are both the berth Secret f-g: rename one',
      'stack/compose.yaml:12:14: secrets.h.file: must be a file of the repository, relative to the compose file (berth reads secrets from git, encrypted), not an absolute path',
      'stack/compose.yaml:13:3: secrets.i: needs file: an encrypted (SOPS or age) file of the repository, relative to the compose file',
    ]);
  });

  it('refuses inline content (not in the Compose Specification berth checks against)', () => {
    expect(issuesOf('services:\n  web: { image: web }\nsecrets:\n  d: { content: hi }\n')).toEqual(['stack/compose.yaml:4:8: secrets.d.content: unknown compose field secrets.d.content (not in the Compose Specification)']);
  });

  it('reads compose modes as octal digits', () => {
    expect(['0440', 440, '400', 400, '0o600', 40].map(octalMode)).toEqual(['0440', '0440', '0400', '0400', '0600', '0040']);
    expect([999, '0x1', -1, 1.5, '07777'].map(octalMode)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});

const BINDS = [
  'services:',
  '  web:',
  '    image: web',
  '    volumes:',
  '      - /srv/site:/usr/share/site:ro',
  '      - { type: bind, source: /srv/site/, target: /again }',
  '  worker:',
  '    image: worker',
  '    volumes: ["/srv/spool:/spool"]',
  '',
].join('\n');

describe('compose bind mounts', () => {
  it('maps an absolute host path to one retained local bind Volume per path', () => {
    const r = parse(BINDS);
    expect(r.issues).toEqual([]);
    const site = bindVolumeName('/srv/site');
    expect(site).toMatch(/^bind-srv-site-[0-9a-f]{8}$/);
    expect(r.entries.map((e) => `${e.kind} ${e.name}`)).toEqual([`Volume ${site}`, 'Service web', `Volume ${bindVolumeName('/srv/spool')}`, 'Service worker']);
    const [volume, web] = r.entries.map((e) => e.doc.value);
    expect(volume).toEqual({ apiVersion: 'berth/v1', kind: 'Volume', metadata: { name: site, namespace: 'stack' }, spec: { driver: 'local', driverOpts: { type: 'none', o: 'bind', device: '/srv/site' }, retain: true } });
    expect((web as { spec: { volumes: unknown } }).spec.volumes).toEqual([
      { volume: site, mountPath: '/usr/share/site', readOnly: true },
      { volume: site, mountPath: '/again', readOnly: false },
    ]);
  });

  it('names bind Volumes as DNS labels, deterministically', () => {
    const long = `/${'a'.repeat(100)}`;
    expect(bindVolumeName(long)).toHaveLength(63);
    expect(bindVolumeName(long)).toBe(bindVolumeName(long));
    expect(bindVolumeName('/')).toMatch(/^bind-[0-9a-f]{8}$/);
    expect(bindVolumeName('/srv/My_Data')).not.toBe(bindVolumeName('/srv/my-data'));
  });

  it('goes through the host-path check: without --allow-host-path the compose line is reported', async () => {
    const files = { 'stack/compose.yaml': BINDS };
    expect(await loadIssues(files)).toEqual([
      'stack/compose.yaml:5:9: spec.driverOpts: mounts the host path "/srv/site" (o: bind): host paths are refused unless they lie under a prefix given to the operator with --allow-host-path (none is set)',
      'stack/compose.yaml:9:15: spec.driverOpts: mounts the host path "/srv/spool" (o: bind): host paths are refused unless they lie under a prefix given to the operator with --allow-host-path (none is set)',
    ]);
    expect(await loadIssues(files, { allowHostPaths: ['/srv'] })).toEqual([]);
    expect(await loadIssues(files, { allowHostPaths: ['/srv/site'] })).toHaveLength(1);
  });

  it('refuses ~ sources, bind options and a clash with a named volume', () => {
    const clash = bindVolumeName('/x');
    expect(issuesOf([
      'services:',
      '  web:',
      '    image: web',
      '    volumes:',
      '      - ./conf:/etc/conf',
      '      - { type: bind, source: data, target: /data }',
      '      - ~/cache:/cache',
      '      - { type: bind, source: /srv, target: /srv, bind: { propagation: shared } }',
      '      - /srv:/srv2:z',
      '      - /x:/x',
      'volumes:',
      `  ${clash}:`,
      '',
    ].join('\n'))).toEqual([
      // ./conf and data (long syntax) are files of the repository (spec.files; repo-files.spec.ts)
      'stack/compose.yaml:7:9: services.web.volumes[2]: a bind source under ~ is a path of the home directory of whoever runs compose; use an absolute host path, or a path of the repository relative to the compose file',
      'stack/compose.yaml:8:72: services.web.volumes[3].bind.propagation: bind.propagation is not supported yet',
      'stack/compose.yaml:9:9: services.web.volumes[4]: bind mode "z" is not supported yet (ro and rw are)',
      `stack/compose.yaml:10:9: services.web.volumes[5]: the bind mount of /x is the berth Volume ${clash}, which a top-level volume is already named: rename that volume`,
    ]);
  });
});
