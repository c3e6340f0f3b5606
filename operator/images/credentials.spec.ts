import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { dockerConfigCredentials, engineAuthConfig } from './credentials.ts';

const PASSWORD = 'pw-9f8e7d-DISTINCT';
const TOKEN = 'tok-1a2b3c-DISTINCT';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const FORBIDDEN = [PASSWORD, b64(PASSWORD), b64(`alice:${PASSWORD}`), b64(`bob:${PASSWORD}`), TOKEN, b64(TOKEN)];

let dir: string;
let bin: string;
let env: NodeJS.ProcessEnv;
let n = 0;
const thrown: unknown[] = [];

async function configFile(content: unknown): Promise<string> {
  const file = join(dir, `config-${++n}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

async function rejection(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (err) {
    thrown.push(err);
    expect(err).toBeInstanceOf(BerthError);
    return err as BerthError;
  }
  throw new Error('expected a rejection');
}

function everythingIn(err: unknown, seen = new Set<unknown>()): string {
  if (err === null || err === undefined || seen.has(err)) return '';
  seen.add(err);
  if (typeof err !== 'object') return String(err);
  const e = err as Record<string, unknown>;
  let s = `${String(e.message)}\n${String(e.stack)}\n`;
  for (const key of Object.getOwnPropertyNames(e)) {
    const v = e[key];
    s += typeof v === 'object' ? everythingIn(v, seen) : `${key}=${String(v)}\n`;
  }
  return s;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie (killed, not yet reaped by its new parent) counts as gone
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(st);
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-creds-'));
  bin = join(dir, 'bin');
  await mkdir(bin);
  // answers one host with a password, Docker Hub with an identity token, fails in chosen ways for some hosts
  await writeFile(
    join(bin, 'docker-credential-berthtest'),
    `#!/bin/sh
tr '\\0' '\\n' < /proc/$$/environ > "${dir}/helper-env.txt"
[ "$1" = get ] || exit 2
url=$(cat)
printf '%s' "$url" > "${dir}/helper-stdin.txt"
case "$url" in
  ghcr.io) printf '{"ServerURL":"ghcr.io","Username":"bob","Secret":"${PASSWORD}"}' ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"${TOKEN}"}' ;;
  garbage.example) printf '${PASSWORD} is not json' ;;
  fails.example) printf 'oops ${PASSWORD}'; exit 3 ;;
  big.example) head -c 200000 /dev/zero | tr '\\0' a ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
  );
  await writeFile(
    join(bin, 'docker-credential-berthslow'),
    `#!/bin/sh
sleep 30 &
echo $! > "${dir}/slow-child.pid"
echo $$ > "${dir}/slow.pid"
wait
printf '{"Username":"late","Secret":"${PASSWORD}"}'
`,
  );
  await chmod(join(bin, 'docker-credential-berthtest'), 0o755);
  await chmod(join(bin, 'docker-credential-berthslow'), 0o755);
  env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir, BERTH_SECRET_TOKEN: 'must-not-leak', GITHUB_TOKEN: 'nope' };
});

afterAll(async () => {
  // nothing thrown anywhere in this file carries a secret, plain or base64
  expect(thrown.length).toBeGreaterThan(10);
  for (const err of thrown) {
    const text = everythingIn(err);
    for (const f of FORBIDDEN) expect(text).not.toContain(f);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('dockerConfigCredentials: auths', () => {
  it('decodes auth, matching keys by hostname as the docker CLI', async () => {
    const file = await configFile({
      auths: {
        'https://ghcr.io/v1/': { auth: b64(`alice:${PASSWORD}`) },
        'registry.local:5000': { username: 'u', password: 'p' },
        'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
        'quay.io': { identitytoken: 'idtok', registrytoken: 'regtok' },
        'empty.example': {},
      },
    });
    const src = dockerConfigCredentials(file, { env });
    expect(await src.get('ghcr.io')).toEqual({ username: 'alice', password: PASSWORD });
    expect(await src.get('GHCR.io')).toEqual({ username: 'alice', password: PASSWORD });
    expect(await src.get('registry.local:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await src.get('registry.local')).toBeUndefined();
    for (const hub of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(await src.get(hub)).toEqual({ username: 'hubuser', password: 'hubpass' });
    }
    expect(await src.get('quay.io')).toEqual({ identityToken: 'idtok', registryToken: 'regtok' });
    expect(await src.get('empty.example')).toBeUndefined();
    expect(await src.get('other.example')).toBeUndefined();
  });

  it('matches docker.io under any of its spellings', async () => {
    for (const key of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/']) {
      const src = dockerConfigCredentials(await configFile({ auths: { [key]: { auth: b64('h:p') } } }), { env });
      expect(await src.get('docker.io')).toEqual({ username: 'h', password: 'p' });
    }
  });

  it('a missing file or directory means no credentials', async () => {
    expect(await dockerConfigCredentials(join(dir, 'nope.json'), { env }).get('ghcr.io')).toBeUndefined();
    expect(await dockerConfigCredentials(join(dir, 'nodir', 'config.json'), { env }).get('ghcr.io')).toBeUndefined();
    expect(await dockerConfigCredentials(await configFile({}), { env }).get('ghcr.io')).toBeUndefined();
  });

  it('re-reads the file when it changes, checking at most once per second', async () => {
    const file = await configFile({ auths: { 'ghcr.io': { auth: b64('one:1') } } });
    const src = dockerConfigCredentials(file, { env });
    expect(await src.get('ghcr.io')).toEqual({ username: 'one', password: '1' });
    await writeFile(file, JSON.stringify({ auths: { 'ghcr.io': { auth: b64('second:22') } } }));
    expect(await src.get('ghcr.io')).toEqual({ username: 'one', password: '1' }); // within the second: not stat'ed
    await new Promise((r) => setTimeout(r, 1100));
    expect(await src.get('ghcr.io')).toEqual({ username: 'second', password: '22' });
    await rm(file);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await src.get('ghcr.io')).toBeUndefined();
  });

  it('refuses invalid JSON without quoting it', async () => {
    const file = await configFile(`{"auths": {"ghcr.io": {"auth": ${PASSWORD}}}}`);
    const err = await rejection(dockerConfigCredentials(file, { env }).get('ghcr.io'));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toBe(`${file}: not valid JSON (unexpected token)`);
    const file2 = await configFile(`{"auths": {"ghcr.io": {"password": "${PASSWORD}",}}}`);
    const err2 = await rejection(dockerConfigCredentials(file2, { env }).get('ghcr.io'));
    expect(err2.message).toMatch(new RegExp(`^${file2.replace(/[.]/g, '\\.')}: not valid JSON \\(.* at line 1 column \\d+\\)$`));
    const err3 = await rejection(dockerConfigCredentials(await configFile(`{"auths": {"x": "${PASSWORD}`), { env }).get('x'));
    expect(err3.message).toMatch(/not valid JSON \(/);
  });

  it('refuses an auth that is not base64 of user:pass, naming the field, never the value', async () => {
    for (const auth of [b64(PASSWORD), `${PASSWORD}!!`, b64(`:${PASSWORD}`), 42]) {
      const file = await configFile({ auths: { 'ghcr.io': { auth } } });
      const err = await rejection(dockerConfigCredentials(file, { env }).get('ghcr.io'));
      expect(err.code).toBe('E_CONFIG');
      expect(err.message).toContain(file);
      expect(err.message).toContain('auths["ghcr.io"].auth');
    }
  });

  it('refuses a file over 1 MiB, and bad helper names', async () => {
    const big = await configFile(JSON.stringify({ auths: {}, pad: 'x'.repeat(1024 * 1024) }));
    const err = await rejection(dockerConfigCredentials(big, { env }).get('ghcr.io'));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain(big);
    const bad = await configFile({ credHelpers: { 'ghcr.io': '../../bin/sh' } });
    expect((await rejection(dockerConfigCredentials(bad, { env }).get('ghcr.io'))).message).toContain('credHelpers["ghcr.io"]');
    const bad2 = await configFile({ credsStore: 'a b' });
    expect((await rejection(dockerConfigCredentials(bad2, { env }).get('ghcr.io'))).code).toBe('E_CONFIG');
  });
});

describe('dockerConfigCredentials: helpers', () => {
  it('runs the helper of credHelpers with the server URL on stdin', async () => {
    const file = await configFile({ credHelpers: { 'ghcr.io': 'berthtest' } });
    const src = dockerConfigCredentials(file, { env });
    expect(await src.get('ghcr.io')).toEqual({ username: 'bob', password: PASSWORD });
    expect(await readFile(join(dir, 'helper-stdin.txt'), 'utf8')).toBe('ghcr.io');
  });

  it('gives the helper only PATH and HOME', async () => {
    const file = await configFile({ credsStore: 'berthtest' });
    await dockerConfigCredentials(file, { env }).get('ghcr.io');
    const lines = (await readFile(join(dir, 'helper-env.txt'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((l) => l.slice(0, l.indexOf('='))).sort()).toEqual(['HOME', 'PATH']);
    expect(lines).toContain(`HOME=${dir}`);
    expect(lines).toContain(`PATH=${env.PATH}`);
  });

  it('reads a <token> username as an identity token; Docker Hub is asked as https://index.docker.io/v1/', async () => {
    const file = await configFile({ credHelpers: { 'https://index.docker.io/v1/': 'berthtest' } });
    expect(await dockerConfigCredentials(file, { env }).get('docker.io')).toEqual({ identityToken: TOKEN });
    expect(await readFile(join(dir, 'helper-stdin.txt'), 'utf8')).toBe('https://index.docker.io/v1/');
    const file2 = await configFile({ credsStore: 'berthtest' });
    expect(await dockerConfigCredentials(file2, { env }).get('registry-1.docker.io')).toEqual({ identityToken: TOKEN });
  });

  it('credHelpers wins over credsStore, which wins over auths', async () => {
    const file = await configFile({
      auths: { 'ghcr.io': { auth: b64('fromfile:x') }, 'quay.io': { auth: b64('fromfile:y') }, 'only.example': { auth: b64('f:z') } },
      credHelpers: { 'ghcr.io': 'berthtest', 'quay.io': 'missinghelper' },
      credsStore: 'berthtest',
    });
    const src = dockerConfigCredentials(file, { env });
    expect(await src.get('ghcr.io')).toEqual({ username: 'bob', password: PASSWORD });
    // the host's helper is not installed: no credential (no fallback to credsStore or auths, as the CLI)
    expect(await src.get('quay.io')).toBeUndefined();
    // credsStore answers "not found" for this host: no credential, auths not consulted
    expect(await src.get('only.example')).toBeUndefined();
    const noStore = dockerConfigCredentials(await configFile({ auths: { 'ghcr.io': { auth: b64('fromfile:x') } }, credHelpers: { 'quay.io': 'berthtest' } }), { env });
    expect(await noStore.get('ghcr.io')).toEqual({ username: 'fromfile', password: 'x' });
  });

  it('a helper that is not installed, or has nothing for the host, means no credential', async () => {
    const src = dockerConfigCredentials(await configFile({ credsStore: 'not-installed-anywhere' }), { env });
    expect(await src.get('ghcr.io')).toBeUndefined();
    const src2 = dockerConfigCredentials(await configFile({ credsStore: 'berthtest' }), { env });
    expect(await src2.get('unknown.example')).toBeUndefined();
  });

  it('other helper failures are E_PULL naming the helper and host, never its output', async () => {
    const src = dockerConfigCredentials(await configFile({ credsStore: 'berthtest' }), { env });
    for (const host of ['fails.example', 'garbage.example', 'big.example']) {
      const err = await rejection(src.get(host));
      expect(err.code).toBe('E_PULL');
      expect(err.message).toContain('docker-credential-berthtest');
      expect(err.message).toContain(host);
      expect(err.message).not.toContain('oops');
    }
  });

  it('kills a helper that does not answer in time, with what it started', async () => {
    const src = dockerConfigCredentials(await configFile({ credsStore: 'berthslow' }), { env, helperTimeoutMs: 300 });
    const t0 = Date.now();
    const err = await rejection(src.get('ghcr.io'));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err.code).toBe('E_PULL');
    expect(err.message).toMatch(/docker-credential-berthslow failed for ghcr\.io: no answer within 300 ms/);
    const shellPid = Number(await readFile(join(dir, 'slow.pid'), 'utf8'));
    const sleepPid = Number(await readFile(join(dir, 'slow-child.pid'), 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(shellPid)).toBe(false);
    expect(alive(sleepPid)).toBe(false);
  });

  it('never gives berth’s environment to the helper even when opts.env is omitted', async () => {
    // with the process environment: still only PATH and HOME (PATH then lacks the test bin: helper not found)
    const src = dockerConfigCredentials(await configFile({ credsStore: 'berthtest' }));
    expect(await src.get('ghcr.io')).toBeUndefined();
    await stat(dir); // the temp dir is still there for afterAll
  });
});

describe('engineAuthConfig', () => {
  it('builds the X-Registry-Auth payload', () => {
    expect(engineAuthConfig({ username: 'u', password: 'p' }, 'ghcr.io')).toEqual({ username: 'u', password: 'p', serveraddress: 'ghcr.io' });
    expect(engineAuthConfig({ identityToken: 't' }, 'docker.io')).toEqual({ identitytoken: 't', serveraddress: 'https://index.docker.io/v1/' });
    expect(engineAuthConfig({ registryToken: 'r' }, 'registry-1.docker.io')).toEqual({ registrytoken: 'r', serveraddress: 'https://index.docker.io/v1/' });
    expect(engineAuthConfig({}, 'localhost:5000')).toEqual({ serveraddress: 'localhost:5000' });
  });
});
