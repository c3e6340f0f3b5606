/**
 * Registry credentials from a Docker client config file (what `docker login` writes to `~/.docker/config.json`),
 * per registry host, with the docker CLI's rules:
 *
 * - Which store answers for a host (docker/cli `configfile.GetCredentialsStore`, documented under "Credential
 *   helpers" of `docker login`): a `credHelpers` entry for the host wins over `credsStore`, which wins over the
 *   plain `auths` entries of the file. When a helper is chosen, its answer is final: a helper that has no credential
 *   for the host means no credential (the CLI does not fall back to `auths` either; with a credsStore, `auths`
 *   entries only record that a login happened).
 * - Keys match as the CLI's `ConvertToHostname` does: scheme and path are stripped, so `https://ghcr.io/v1/` matches
 *   `ghcr.io`; Docker Hub is stored under `https://index.docker.io/v1/` and answers for `docker.io`,
 *   `index.docker.io` and `registry-1.docker.io`.
 * - Helpers are `docker-credential-<name> get`, found on PATH, the server URL on stdin, answering
 *   `{"ServerURL","Username","Secret"}`; Username `<token>` means Secret is an identity token.
 *
 * No secret is ever put in an error's message or cause: not a password, not the base64 `auth`, not a helper's
 * output (a helper's stdout may hold the secret, and V8's JSON.parse messages quote the input).
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { BerthError } from '../model/errors.ts';

export interface RegistryCredential { username?: string; password?: string; identityToken?: string; registryToken?: string }
export interface CredentialSource { get(domain: string): Promise<RegistryCredential | undefined> }

const MAX_CONFIG_BYTES = 1024 * 1024;
const MAX_HELPER_STDOUT = 64 * 1024;
const DEFAULT_HELPER_TIMEOUT_MS = 5000;
const STAT_INTERVAL_MS = 1000;
const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** What docker-credential-helpers print (on stdout, exit 1) when they hold nothing for the server. */
const NOT_FOUND = 'credentials not found in native keychain';
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface ParsedConfig {
  /** Raw key → credential (entries with nothing usable are left out). */
  auths: Map<string, RegistryCredential>;
  credHelpers: Map<string, string>;
  credsStore?: string;
}

type Loaded = { config: ParsedConfig | undefined } | { error: BerthError };

export function dockerConfigCredentials(file: string, opts: { env?: NodeJS.ProcessEnv; helperTimeoutMs?: number } = {}): CredentialSource {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.helperTimeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  let cached: { identity: string; loaded: Loaded } | undefined;
  let checkedAt = -Infinity;
  let inflight: Promise<Loaded> | undefined;

  async function refresh(): Promise<Loaded> {
    let identity: string;
    try {
      const st = await stat(file);
      identity = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (cached && cached.identity === identity) return cached.loaded;
      if (st.size > MAX_CONFIG_BYTES) {
        cached = { identity, loaded: { error: new BerthError('E_CONFIG', `${file}: larger than ${MAX_CONFIG_BYTES} bytes`) } };
        return cached.loaded;
      }
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
        cached = { identity: 'missing', loaded: { config: undefined } };
        return cached.loaded;
      }
      cached = { identity: 'unreadable', loaded: { error: new BerthError('E_CONFIG', `${file}: cannot read (${errnoCode(err) ?? 'error'})`) } };
      return cached.loaded;
    }
    let loaded: Loaded;
    try {
      const buf = await readFile(file);
      if (buf.length > MAX_CONFIG_BYTES) throw new BerthError('E_CONFIG', `${file}: larger than ${MAX_CONFIG_BYTES} bytes`);
      loaded = { config: parseConfig(file, buf.toString('utf8')) };
    } catch (err) {
      if (err instanceof BerthError) loaded = { error: err };
      else if (errnoCode(err) === 'ENOENT') loaded = { config: undefined };
      else loaded = { error: new BerthError('E_CONFIG', `${file}: cannot read (${errnoCode(err) ?? 'error'})`) };
    }
    cached = { identity, loaded };
    return loaded;
  }

  async function current(): Promise<ParsedConfig | undefined> {
    const now = Date.now();
    let loaded: Loaded;
    if (cached && now - checkedAt < STAT_INTERVAL_MS) {
      loaded = cached.loaded;
    } else {
      inflight ??= refresh().finally(() => {
        checkedAt = Date.now();
        inflight = undefined;
      });
      loaded = await inflight;
    }
    if ('error' in loaded) throw loaded.error;
    return loaded.config;
  }

  return {
    async get(domain: string): Promise<RegistryCredential | undefined> {
      const config = await current();
      if (!config) return undefined;
      const host = toHostname(domain);
      const hosts = aliasesOf(host);
      const serverUrl = serverAddressOf(host);
      const helper = lookup(config.credHelpers, serverUrl, hosts) ?? config.credsStore;
      if (helper !== undefined) return runHelper(helper, serverUrl, host, env, timeoutMs);
      return lookup(config.auths, serverUrl, hosts);
    },
  };
}

/** The engine's X-Registry-Auth payload (dockerode's `authconfig` option takes this object). */
export function engineAuthConfig(cred: RegistryCredential, domain: string): { username?: string; password?: string; identitytoken?: string; registrytoken?: string; serveraddress: string } {
  const out: { username?: string; password?: string; identitytoken?: string; registrytoken?: string; serveraddress: string } = {
    serveraddress: serverAddressOf(toHostname(domain)),
  };
  if (cred.username !== undefined) out.username = cred.username;
  if (cred.password !== undefined) out.password = cred.password;
  if (cred.identityToken !== undefined) out.identitytoken = cred.identityToken;
  if (cred.registryToken !== undefined) out.registrytoken = cred.registryToken;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// host names

/** docker/cli `credentials.ConvertToHostname`: strips `http(s)://` and everything from the first `/`. */
function toHostname(key: string): string {
  let s = key.trim();
  if (s.startsWith('https://')) s = s.slice(8);
  else if (s.startsWith('http://')) s = s.slice(7);
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  return s.toLowerCase();
}

function aliasesOf(host: string): Set<string> {
  return DOCKER_HUB_HOSTS.has(host) ? DOCKER_HUB_HOSTS : new Set([host]);
}

/** The key the CLI stores a host under, and the server URL it gives helpers: Docker Hub's legacy URL, or the host. */
function serverAddressOf(host: string): string {
  return DOCKER_HUB_HOSTS.has(host) ? DOCKER_HUB_SERVER : host;
}

/** The exact key first (as the CLI), then any key whose hostname is one of `hosts`, in sorted key order. */
function lookup<T>(map: Map<string, T>, exact: string, hosts: Set<string>): T | undefined {
  const direct = map.get(exact);
  if (direct !== undefined) return direct;
  for (const key of [...map.keys()].sort()) {
    if (hosts.has(toHostname(key))) return map.get(key);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// the file

function parseConfig(file: string, text: string): ParsedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new BerthError('E_CONFIG', `${file}: not valid JSON (${describeJsonError(err, text)})`);
  }
  if (!isRecord(raw)) throw new BerthError('E_CONFIG', `${file}: not a JSON object`);
  const config: ParsedConfig = { auths: new Map(), credHelpers: new Map() };

  if (raw.auths !== undefined && raw.auths !== null) {
    if (!isRecord(raw.auths)) throw new BerthError('E_CONFIG', `${file}: auths is not an object`);
    for (const [key, entry] of Object.entries(raw.auths)) {
      const field = `auths[${JSON.stringify(key)}]`;
      if (entry === null || entry === undefined) continue;
      if (!isRecord(entry)) throw new BerthError('E_CONFIG', `${file}: ${field} is not an object`);
      const cred: RegistryCredential = {};
      for (const [name, prop] of [['username', 'username'], ['password', 'password'], ['identitytoken', 'identityToken'], ['registrytoken', 'registryToken']] as const) {
        const v = entry[name];
        if (v === undefined || v === null || v === '') continue;
        if (typeof v !== 'string') throw new BerthError('E_CONFIG', `${file}: ${field}.${name} is not a string`);
        cred[prop] = v;
      }
      const auth = entry.auth;
      if (auth !== undefined && auth !== null && auth !== '') {
        const decoded = typeof auth === 'string' ? decodeAuth(auth) : undefined;
        if (!decoded) throw new BerthError('E_CONFIG', `${file}: ${field}.auth is not the base64 of "user:password"`);
        cred.username = decoded.username;
        cred.password = decoded.password;
      }
      if (Object.keys(cred).length > 0) config.auths.set(key, cred);
    }
  }

  if (raw.credHelpers !== undefined && raw.credHelpers !== null) {
    if (!isRecord(raw.credHelpers)) throw new BerthError('E_CONFIG', `${file}: credHelpers is not an object`);
    for (const [key, name] of Object.entries(raw.credHelpers)) {
      const field = `credHelpers[${JSON.stringify(key)}]`;
      if (typeof name !== 'string' || !HELPER_NAME.test(name)) throw new BerthError('E_CONFIG', `${file}: ${field} is not a credential helper name`);
      config.credHelpers.set(key, name);
    }
  }

  if (raw.credsStore !== undefined && raw.credsStore !== null && raw.credsStore !== '') {
    if (typeof raw.credsStore !== 'string' || !HELPER_NAME.test(raw.credsStore)) {
      throw new BerthError('E_CONFIG', `${file}: credsStore is not a credential helper name`);
    }
    config.credsStore = raw.credsStore;
  }
  return config;
}

/** docker/cli `decodeAuth`: standard padded base64 of `user:password`, user not empty. */
function decodeAuth(auth: string): { username: string; password: string } | undefined {
  const s = auth.trim();
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const decoded = Buffer.from(s, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/\0+$/, '') };
}

/** JSON.parse's message without the input it may quote (V8 quotes a snippet: it may be a password). */
function describeJsonError(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : '';
  const pos = /at position (\d+)/.exec(message);
  let what: string;
  if (/^Unexpected end of JSON input/.test(message)) what = 'unexpected end of input';
  else if (/^Unexpected token/.test(message) || /is not valid JSON/.test(message)) what = 'unexpected token';
  else what = (message.replace(/\s*in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '') || 'syntax error').slice(0, 120);
  if (!pos) return what;
  const offset = Number(pos[1]);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${what} at line ${line} column ${col}`;
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

function runHelper(name: string, serverUrl: string, host: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${name}`;
  const fail = (why: string): BerthError => new BerthError('E_PULL', `credential helper ${program} failed for ${host}: ${why}`);
  // Only PATH and HOME: berth's own environment holds secrets (tokens, webhook keys) no helper needs.
  const childEnv: NodeJS.ProcessEnv = {};
  if (env.PATH !== undefined) childEnv.PATH = env.PATH;
  if (env.HOME !== undefined) childEnv.HOME = env.HOME;

  return new Promise((resolve, reject) => {
    let settled = false;
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = '';
    // detached: its own process group, so a kill on timeout also ends what the helper started (a `sleep`).
    const child = spawn(program, ['get'], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true });

    const kill = (): void => {
      const pid = child.pid;
      if (pid === undefined) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    const finish = (err: BerthError | undefined, value?: RegistryCredential): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      kill();
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish(fail(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);

    child.on('error', (err) => {
      const code = errnoCode(err);
      if (code === 'ENOENT') finish(undefined, undefined); // not installed: no credential
      else finish(fail(`cannot run (${code ?? 'error'})`));
    });
    child.stdin?.on('error', () => { /* EPIPE: the helper did not read its input; judged by its exit */ });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_HELPER_STDOUT) {
        kill();
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(fail(`answered more than ${MAX_HELPER_STDOUT} bytes`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4096);
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      const out = Buffer.concat(stdout).toString('utf8');
      if (code !== 0) {
        if (out.includes(NOT_FOUND) || stderrTail.includes(NOT_FOUND)) finish(undefined, undefined);
        else finish(fail(signal ? `killed by ${signal}` : `exit code ${code}`)); // never its output
        return;
      }
      let answer: unknown;
      try {
        answer = JSON.parse(out);
      } catch {
        finish(fail('its answer is not JSON'));
        return;
      }
      if (!isRecord(answer) || typeof answer.Secret !== 'string' || (answer.Username !== undefined && typeof answer.Username !== 'string')) {
        finish(fail('its answer has no string Secret'));
        return;
      }
      const username = (answer.Username as string | undefined) ?? '';
      const secret = answer.Secret;
      if (secret === '' && username === '') finish(undefined, undefined);
      else if (username === '<token>') finish(undefined, { identityToken: secret });
      else finish(undefined, { username, password: secret });
    });
    child.stdin?.end(serverUrl);
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
