import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { BerthError, ValidationError, formatIssue } from '../model/errors.ts';
import { readComposeEnv } from './host-env.ts';
import { envFileRefs } from './env-file.ts';
import { DEFAULT_LIMITS } from '../manifests/limits.ts';

type Files = Record<string, string>;
const parse = (files: Files, opts: Parameters<typeof parseEntries>[1] = {}) => parseEntries(Object.entries(files).map(([path, content]) => ({ path, content })), opts);
const envOf = (r: ReturnType<typeof parseEntries>, name = 'web') => (r.entries.find((e) => e.kind === 'Service' && e.name === name)?.manifest as { spec: { env?: Record<string, string> } } | undefined)?.spec.env;
const services = (r: ReturnType<typeof parseEntries>) => r.entries.filter((e) => e.kind === 'Service').map((e) => e.name);

describe('compose env_file', () => {
  it('merges the files in order below environment; values see the lines above, then the project variables', () => {
    const r = parse({
      'shop/compose.yaml': [
        'services:',
        '  web:',
        '    image: web',
        '    env_file:',
        '      - ./common.env',
        '      - path: conf/web.env',
        '      - { path: ./missing.env, required: false }',
        '    environment:',
        '      LEVEL: debug',
        '      TOKEN:',
        '',
      ].join('\n'),
      'shop/.env': 'REGION=eu\n',
      'shop/common.env': 'A=common\nB=common\nLEVEL=info\nURL="http://${HOST:-localhost}/${REGION}"\nRAW=\'${REGION}\'\nTOKEN=from-file\n',
      'shop/conf/web.env': '# web\nB=web\nexport C=${A}-c\n',
    });
    expect(r.issues.map(formatIssue)).toEqual([]);
    expect(envOf(r)).toEqual({ A: 'common', B: 'web', C: 'common-c', LEVEL: 'debug', URL: 'http://localhost/eu', RAW: '${REGION}', TOKEN: 'from-file' });
  });

  it('a string env_file, and a variable whose manifest problem is located at its env_file entry', () => {
    const r = parse({ 's/compose.yaml': 'services:\n  web:\n    image: web\n    env_file: web.env\n', 's/web.env': 'X=1\n' });
    expect(r.issues).toEqual([]);
    expect(envOf(r)).toEqual({ X: '1' });
    expect(r.entries[0]?.doc.loc.at(['spec', 'env', 'X'])).toMatchObject({ file: 's/compose.yaml', line: 4, col: 15 });
  });

  it('refuses a missing required file, and a path leaving the repository, at the entry', () => {
    const r = parse({
      's/compose.yaml': 'services:\n  web:\n    image: web\n    env_file:\n      - gone.env\n      - path: ../../etc/passwd\n      - /etc/environment\n',
    });
    expect(r.issues.map(formatIssue)).toEqual([
      's/compose.yaml:5:9: services.web.env_file[0]: env_file s/gone.env is not in the repository at this revision (required: false makes it optional)',
      's/compose.yaml:6:15: services.web.env_file[1].path: env_file "../../etc/passwd" must be a file of the repository, relative to the compose file\'s directory',
      's/compose.yaml:7:9: services.web.env_file[2]: env_file "/etc/environment" must be a file of the repository, relative to the compose file\'s directory',
    ]);
  });

  it('reports a bad line of an env file at that file and line', () => {
    const r = parse({ 's/compose.yaml': 'services:\n  web:\n    image: web\n    env_file: web.env\n', 's/web.env': 'A=1\n\nnot a line\n' });
    expect(r.issues.map(formatIssue)).toEqual(['s/web.env:3:1: expected KEY=value, found "not a line"']);
  });

  it('finds the files to read in the YAML, interpolating with the .env, inside the repository only', () => {
    const file = { path: 'a/compose.yaml', content: 'x-d: &d { env_file: [common.env] }\nservices:\n  w: { <<: *d, image: w }\n  v: { image: v, env_file: ["${DIR}/v.env", { path: ../../out.env }] }\n' };
    expect(envFileRefs(file, DEFAULT_LIMITS, { DIR: 'conf' }).sort()).toEqual(['a/common.env', 'a/conf/v.env']);
    expect(envFileRefs({ path: 'a/compose.yaml', content: 'services: [' }, DEFAULT_LIMITS)).toEqual([]);
  });

  it('loadDesired reads the env files (any name, outside --path too) within the size limits', async () => {
    const compose = 'name: shop\nservices:\n  web:\n    image: web\n    env_file: [../shared/web.env, .web.env]\n';
    const snap = memorySnapshot({ 'deploy/shop/compose.yaml': compose, 'deploy/shared/web.env': 'A=1\n', 'deploy/shop/.web.env': 'B=2\n' }, 'r1');
    const desired = await loadDesired(snap, { instance: 't', path: 'deploy/shop' });
    expect(desired.services[0]?.spec.env).toEqual({ A: '1', B: '2' });
    const big = memorySnapshot({ 's/compose.yaml': 'services:\n  web:\n    image: web\n    env_file: web.env\n', 's/web.env': `A=${'x'.repeat(2048)}\n` }, 'r2');
    const err = await loadDesired(big, { instance: 't', path: '.', maxFileSize: 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues.map(formatIssue)).toEqual(['s/web.env:1:1: file is 2Ki, more than --max-file-size 1Ki']);
  });
});

describe('compose profiles', () => {
  const compose = 'services:\n  web: { image: web }\n  debug: { image: d, profiles: [debug] }\n  tools: { image: t, profiles: [tools, ops] }\n';
  it('skips services none of whose profiles is active, with a warning', () => {
    const r = parse({ 's/compose.yaml': compose });
    expect(services(r)).toEqual(['web']);
    expect(r.warnings?.map((w) => `${w.line}:${w.col} ${w.field}`)).toEqual(['3:32 services.debug.profiles', '4:32 services.tools.profiles']);
  });
  it('starts those with an active profile (--compose-profiles, else COMPOSE_PROFILES of the .env)', () => {
    expect(services(parse({ 's/compose.yaml': compose }, { composeProfiles: ['ops'] }))).toEqual(['web', 'tools']);
    expect(services(parse({ 's/compose.yaml': compose }, { composeProfiles: ['debug', 'tools'] }))).toEqual(['web', 'debug', 'tools']);
    expect(services(parse({ 's/compose.yaml': compose, 's/.env': 'COMPOSE_PROFILES=debug\n' }))).toEqual(['web', 'debug']);
  });
  it('loadDesired passes LoadOptions.composeProfiles down', async () => {
    const desired = await loadDesired(memorySnapshot({ 's/compose.yaml': compose }, 'r'), { instance: 't', path: '.', composeProfiles: ['debug'] });
    expect(desired.services.map((s) => s.name).sort()).toEqual(['debug', 'web']);
  });
});

describe('--compose-env', () => {
  const compose = 'services:\n  web:\n    image: "web:${TAG}"\n    environment: { REGION: "${REGION}", FROM_ENV: "${DERIVED}" }\n';
  it('its variables go over the .env, and .env lines see them', () => {
    const r = parse({ 's/compose.yaml': compose, 's/.env': 'TAG=1\nREGION=eu\nDERIVED=${REGION}-x\n' }, { composeEnv: { TAG: '2' } });
    expect(r.issues).toEqual([]);
    expect((r.entries[0]?.manifest as { spec: { image: string } }).spec.image).toBe('web:2');
    expect(envOf(r)).toEqual({ REGION: 'eu', FROM_ENV: 'eu-x' });
    expect(envOf(parse({ 's/compose.yaml': compose, 's/.env': 'TAG=1\nDERIVED=${REGION}-x\n' }, { composeEnv: { REGION: 'us' } }))).toEqual({ REGION: 'us', FROM_ENV: 'us-x' });
  });
  it('loadDesired interpolates with LoadOptions.composeEnv', async () => {
    const desired = await loadDesired(memorySnapshot({ 's/compose.yaml': compose }, 'r'), { instance: 't', path: '.', composeEnv: { TAG: '3', REGION: 'ap', DERIVED: 'd' } });
    expect(desired.services[0]?.spec.image).toBe('web:3');
  });
  it('reads a host dotenv file, capped, errors naming the file and never a value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-compose-env-'));
    const ok = join(dir, 'ok.env');
    writeFileSync(ok, 'A=1\nexport B="two"\n');
    expect(readComposeEnv(ok)).toEqual({ A: '1', B: 'two' });
    const bad = join(dir, 'bad.env');
    writeFileSync(bad, 'A=1\nsecret-value-here\n');
    const badErr = (() => { try { readComposeEnv(bad); } catch (e) { return e; } })() as BerthError;
    expect(badErr).toBeInstanceOf(BerthError);
    expect(badErr.message).toBe(`--compose-env ${bad}: line 2: expected KEY=value`);
    const big = join(dir, 'big.env');
    writeFileSync(big, 'A=12345678901\n');
    expect(() => readComposeEnv(big, 8)).toThrow(`--compose-env ${big}: is 14 bytes, more than 8`);
    expect(() => readComposeEnv(join(dir, 'none.env'))).toThrow(`--compose-env ${join(dir, 'none.env')}: cannot read it (ENOENT)`);
    expect(() => readComposeEnv(dir)).toThrow(`--compose-env ${dir}: is not a regular file`);
  });
});
