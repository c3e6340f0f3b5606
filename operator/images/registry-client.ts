/**
 * A small client for the distribution (OCI) registry API: resolve a tag to a manifest digest, list a repository's
 * tags. It speaks to registries as dockerd does: https verified with the system CAs plus the host's CA files under
 * /etc/docker/certs.d/HOST:PORT/*.crt; loopback registries (127.0.0.0/8, localhost) over https without verification
 * first, then plain http when the TLS handshake fails; hosts listed as insecure over plain http. It answers Basic and
 * Bearer (token service) challenges with the credentials of a CredentialSource.
 *
 * Every failure is a transient BerthError('E_PULL') naming the image, the registry and its answer. No credential
 * (password, token, Authorization header, base64 of user:pass) ever appears in a message or a thrown object: errors
 * carry no `cause`, and messages are scrubbed of the secrets used.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { BerthError } from '../model/errors.ts';
import { parseImageName, registryEndpoint } from './reference.ts';

export interface RegistryCredential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker's `identitytoken`), traded at the token service with grant_type=refresh_token. */
  identityToken?: string;
  /** A bearer token sent to the registry as is (docker's `registrytoken`). */
  registryToken?: string;
}

/** Credentials per registry domain (as written in the image reference, `docker.io` for Docker Hub). */
export interface CredentialSource {
  get(domain: string): Promise<RegistryCredential | undefined>;
}

export interface RegistryClientOptions {
  credentials: CredentialSource;
  /** Default /etc/docker/certs.d: CA files for HOST:PORT at <certsDir>/<HOST:PORT>/*.crt (read once per host), plus the system CAs. */
  certsDir?: string;
  /** Hosts (HOST:PORT) spoken to over plain http. */
  insecure?: string[];
  /** Per request (connect and the whole answer), default 10,000. */
  timeoutMs?: number;
  /** Page size asked of tags/list (`?n=`); the registry's default when unset. */
  pageSize?: number;
}

export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
] as const;

const MiB = 1024 * 1024;
const MANIFEST_CAP = 4 * MiB;
const TAGS_CAP = 4 * MiB;
const TOKEN_CAP = 64 * 1024;
const ERROR_BODY_CAP = 64 * 1024;
const MAX_REDIRECTS = 3;
export const MAX_TAGS = 10_000;
const DEFAULT_TOKEN_SECONDS = 60;
const USER_AGENT = 'berth';
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'CERT_CHAIN_TOO_LONG', 'HOSTNAME_MISMATCH',
]);

type Scheme = 'http:' | 'https:';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  url: URL;
}

/** What one operation is about, for its error messages, and the secrets to scrub from them. */
interface Op {
  ref: string;
  /** The registry host (HOST:PORT) of the reference. */
  host: string;
  /** e.g. `for shop/api:9.9`, `listing the tags of shop/api`. */
  what: string;
  secrets: Set<string>;
}

type Challenge = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string };

class TransportError extends Error {
  constructor(readonly kind: 'timeout' | 'tls' | 'protocol' | 'dns' | 'refused' | 'too-large' | 'other', message: string) {
    super(message);
  }
}

interface CaSet {
  ca?: (string | Buffer)[];
  files: string[];
  dir: string;
}

export class RegistryClient {
  private readonly credentials: CredentialSource;
  private readonly certsDir: string;
  private readonly insecure: Set<string>;
  private readonly timeoutMs: number;
  private readonly pageSize: number | undefined;
  private readonly cas = new Map<string, Promise<CaSet>>();
  /** The scheme a loopback registry answered on (https first, http after a failed handshake). */
  private readonly schemes = new Map<string, Scheme>();
  /** The last challenge per registry host: later requests authenticate up front. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(opts: RegistryClientOptions) {
    this.credentials = opts.credentials;
    this.certsDir = opts.certsDir ?? '/etc/docker/certs.d';
    this.insecure = new Set(opts.insecure ?? []);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.pageSize = opts.pageSize;
  }

  /**
   * The digest and media type of the manifest `ref` names (its tag, `latest` when none, or its digest): HEAD with
   * the manifest types in Accept, the digest from Docker-Content-Digest; a GET (digest = sha256 of the body) when the
   * HEAD gives none or fails (the GET's error body names the problem).
   */
  async resolve(ref: string): Promise<{ digest: string; mediaType: string }> {
    const name = parseImageName(ref);
    const op: Op = { ref, host: registryEndpoint(name.domain), what: `for ${ref}`, secrets: new Set() };
    const reference = name.digest ?? name.tag ?? 'latest';
    const target = `/v2/${name.repository}/manifests/${reference}`;
    const scope = `repository:${name.repository}:pull`;
    const headers = { accept: MANIFEST_MEDIA_TYPES.join(', ') };
    try {
      const head = await this.call(op, name.domain, 'HEAD', target, scope, headers, MANIFEST_CAP);
      const headDigest = header(head.headers, 'docker-content-digest');
      if (head.status === 200 && headDigest && isDigest(headDigest)) {
        return this.checked(op, name.digest, { digest: headDigest, mediaType: mediaTypeOf(head.headers) ?? '' });
      }
      const get = await this.call(op, name.domain, 'GET', target, scope, headers, MANIFEST_CAP);
      if (get.status !== 200) throw this.answerError(op, get);
      const computed = `sha256:${createHash('sha256').update(get.body).digest('hex')}`;
      const given = header(get.headers, 'docker-content-digest');
      const digest = given && isDigest(given) ? given : computed;
      if (given && given.startsWith('sha256:') && given !== computed) {
        throw new BerthError('E_PULL', `registry ${op.host} sent a manifest whose sha256 is ${computed}, not the ${given} it announced ${op.what}`);
      }
      let mediaType = mediaTypeOf(get.headers);
      if (!mediaType || mediaType === 'application/json') {
        try {
          const parsed = JSON.parse(get.body.toString('utf8')) as { mediaType?: unknown };
          if (typeof parsed.mediaType === 'string') mediaType = parsed.mediaType;
        } catch { /* not JSON: keep the header's type */ }
      }
      return this.checked(op, name.digest, { digest, mediaType: mediaType ?? '' });
    } catch (err) {
      throw this.scrubbed(op, err);
    }
  }

  /** Every tag of `ref`'s repository (its tag or digest ignored), following `Link: <...>; rel="next"`; at most 10,000. */
  async listTags(ref: string): Promise<string[]> {
    const name = parseImageName(ref);
    const repo = `${name.domain}/${name.repository}`;
    const op: Op = { ref, host: registryEndpoint(name.domain), what: `listing the tags of ${repo}`, secrets: new Set() };
    const scope = `repository:${name.repository}:pull`;
    let target: string | undefined = `/v2/${name.repository}/tags/list${this.pageSize ? `?n=${this.pageSize}` : ''}`;
    const tags: string[] = [];
    const seen = new Set<string>();
    try {
      for (let page = 0; target !== undefined && tags.length < MAX_TAGS && page < MAX_TAGS; page++) {
        const answer = await this.call(op, name.domain, 'GET', target, scope, { accept: 'application/json' }, TAGS_CAP);
        if (answer.status !== 200) throw this.answerError(op, answer);
        let list: unknown;
        try {
          list = (JSON.parse(answer.body.toString('utf8')) as { tags?: unknown }).tags;
        } catch {
          throw new BerthError('E_PULL', `registry ${op.host} answered a tag list that is not JSON ${op.what}`);
        }
        if (list !== null && list !== undefined && !Array.isArray(list)) throw new BerthError('E_PULL', `registry ${op.host} answered a tag list without a tags array ${op.what}`);
        let added = 0;
        for (const tag of (list ?? []) as unknown[]) {
          if (typeof tag !== 'string' || seen.has(tag)) continue;
          seen.add(tag);
          tags.push(tag);
          added++;
          if (tags.length >= MAX_TAGS) break;
        }
        const next = nextLink(header(answer.headers, 'link'));
        if (!next || added === 0) break;
        const url = new URL(next, answer.url);
        if (url.origin !== answer.url.origin) throw new BerthError('E_PULL', `registry ${op.host} sent a next-page link to another host (${url.host}) ${op.what}`);
        target = `${url.pathname}${url.search}`;
      }
      return tags;
    } catch (err) {
      throw this.scrubbed(op, err);
    }
  }

  // ---- requests with authentication ----

  /** One API request on the registry, authenticated up front when a challenge is known, else after its 401. */
  private async call(op: Op, domain: string, method: 'GET' | 'HEAD', target: string, scope: string, headers: Record<string, string>, cap: number): Promise<Answer> {
    const known = this.challenges.get(op.host);
    const first = known ? await this.authorization(op, domain, known, scope) : undefined;
    let answer = await this.request(op, method, target, { ...headers, ...(first ? { authorization: first } : {}) }, method === 'HEAD' ? 0 : cap);
    if (answer.status !== 401) return answer;
    const challenge = parseChallenge(answer.headers['www-authenticate']);
    if (!challenge) return answer;
    this.challenges.set(op.host, challenge);
    if (first?.startsWith('Bearer ')) this.forgetToken(op.host, challenge, scope);
    const next = await this.authorization(op, domain, challenge, scope);
    if (!next || next === first) return answer;
    answer = await this.request(op, method, target, { ...headers, authorization: next }, method === 'HEAD' ? 0 : cap);
    return answer;
  }

  /** The Authorization header for `challenge`, or undefined when there is nothing to send. */
  private async authorization(op: Op, domain: string, challenge: Challenge, scope: string): Promise<string | undefined> {
    const cred = await this.credentials.get(domain);
    if (cred) for (const s of secretsOf(cred)) op.secrets.add(s);
    if (challenge.scheme === 'basic') {
      if (!cred?.username || cred.password === undefined) return undefined;
      return basic(cred.username, cred.password);
    }
    if (cred?.registryToken) return `Bearer ${cred.registryToken}`;
    const key = tokenKey(op.host, challenge, scope);
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) {
      op.secrets.add(cached.token);
      return `Bearer ${cached.token}`;
    }
    const { token, seconds } = await this.fetchToken(op, challenge, scope, cred);
    op.secrets.add(token);
    this.tokens.set(key, { token, expires: Date.now() + Math.max(1, seconds - 5) * 1000 });
    if (this.tokens.size > 1_000) this.tokens.delete(this.tokens.keys().next().value!);
    return `Bearer ${token}`;
  }

  private forgetToken(host: string, challenge: Challenge, scope: string): void {
    this.tokens.delete(tokenKey(host, challenge, scope));
  }

  /** A token from the token service: POST grant_type=refresh_token with an identity token, else GET (basic auth when credentials exist). */
  private async fetchToken(op: Op, challenge: Challenge & { scheme: 'bearer' }, scope: string, cred: RegistryCredential | undefined): Promise<{ token: string; seconds: number }> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw new BerthError('E_PULL', `registry ${op.host} named a token service that is no URL (${printable(challenge.realm, 100)}) ${op.what}`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new BerthError('E_PULL', `registry ${op.host} named a token service that is not http(s) ${op.what}`);
    const where = `token service ${realm.host}${realm.pathname}`;
    let answer: Answer | undefined;
    if (cred?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: USER_AGENT, scope });
      if (challenge.service) form.set('service', challenge.service);
      const body = Buffer.from(form.toString());
      answer = await this.send(op, realm, 'POST', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) }, TOKEN_CAP, body, where);
      // Token services without POST support (404/405): fall back to GET with basic auth, as docker does.
      if ((answer.status === 404 || answer.status === 405) && cred.username && cred.password !== undefined) answer = undefined;
    }
    if (!answer) {
      const url = new URL(realm);
      if (challenge.service) url.searchParams.set('service', challenge.service);
      url.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (cred?.username && cred.password !== undefined) {
        url.searchParams.set('account', cred.username);
        headers.authorization = basic(cred.username, cred.password);
      }
      answer = await this.send(op, url, 'GET', headers, TOKEN_CAP, undefined, where);
    }
    if (answer.status !== 200) throw this.answerError(op, answer, where);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(answer.body.toString('utf8')) as typeof parsed;
    } catch {
      throw new BerthError('E_PULL', `${where} answered ${answer.status} with no JSON token ${op.what}`);
    }
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : '';
    if (!token) throw new BerthError('E_PULL', `${where} answered ${answer.status} without a token ${op.what}`);
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    return { token, seconds };
  }

  // ---- transport ----

  /** A request on the registry host, picking its scheme (https; loopback: https unverified, then http; insecure: http). */
  private async request(op: Op, method: 'GET' | 'HEAD', target: string, headers: Record<string, string>, cap: number): Promise<Answer> {
    const host = op.host;
    const where = `registry ${host}`;
    if (this.insecure.has(host)) return this.send(op, new URL(`http://${host}${target}`), method, headers, cap, undefined, where);
    const known = this.schemes.get(host);
    if (known || !isLoopback(host)) return this.send(op, new URL(`${known ?? 'https:'}//${host}${target}`), method, headers, cap, undefined, where);
    try {
      const answer = await this.send(op, new URL(`https://${host}${target}`), method, headers, cap, undefined, where);
      this.schemes.set(host, 'https:');
      return answer;
    } catch (err) {
      if (!(err instanceof TransportError) || (err.kind !== 'tls' && err.kind !== 'protocol')) throw err;
      const answer = await this.send(op, new URL(`http://${host}${target}`), method, headers, cap, undefined, where);
      this.schemes.set(host, 'http:');
      return answer;
    }
  }

  /** One HTTP exchange, following at most 3 redirects for GET (Authorization dropped when the host changes). */
  private async send(op: Op, url: URL, method: string, headers: Record<string, string>, cap: number, body: Buffer | undefined, where: string): Promise<Answer> {
    let current = url;
    let hdrs = headers;
    for (let hop = 0; ; hop++) {
      const answer = await this.exchange(current, method, hdrs, cap, body, where);
      const location = header(answer.headers, 'location');
      if (method !== 'GET' || ![301, 302, 303, 307, 308].includes(answer.status) || !location) return answer;
      if (hop >= MAX_REDIRECTS) throw new BerthError('E_PULL', `${where} redirected more than ${MAX_REDIRECTS} times ${op.what}`);
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new BerthError('E_PULL', `${where} redirected to a non-http(s) URL ${op.what}`);
      if (next.host !== current.host && hdrs.authorization) {
        const { authorization: _dropped, ...rest } = hdrs;
        hdrs = rest;
      }
      current = next;
    }
  }

  private async exchange(url: URL, method: string, headers: Record<string, string>, cap: number, body: Buffer | undefined, where: string): Promise<Answer> {
    const secure = url.protocol === 'https:';
    const loopbackUnverified = secure && isLoopback(url.host) && !this.insecure.has(url.host);
    const cas = secure ? await this.caFor(url.host) : undefined;
    const timeoutMs = this.timeoutMs;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err instanceof TransportError || err instanceof BerthError ? err : this.transportError(err, url, where, cas));
      };
      const options: https.RequestOptions = {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method,
        headers: { 'user-agent': USER_AGENT, ...headers },
        agent: secure ? this.httpsAgent : this.httpAgent,
        ...(secure && cas?.ca ? { ca: cas.ca } : {}),
        // dockerd speaks to insecure (loopback) registries over https without verifying them, then plain http.
        ...(loopbackUnverified ? { rejectUnauthorized: false } : {}),
      };
      const req = (secure ? https : http).request(options, (res) => {
        const status = res.statusCode ?? 0;
        const limit = status >= 400 ? Math.min(cap || ERROR_BODY_CAP, ERROR_BODY_CAP) : cap;
        const declared = Number(res.headers['content-length']);
        if (method !== 'HEAD' && Number.isFinite(declared) && declared > limit && status < 400) {
          fail(new TransportError('too-large', `${where} sent an answer larger than ${sizeText(limit)} (${sizeText(declared)})`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          size += chunk.length;
          if (size > limit) {
            if (status >= 400) {
              // an error page: its first bytes are enough for the message
              settled = true;
              clearTimeout(timer);
              req.destroy();
              resolve({ status, headers: res.headers, body: Buffer.concat(chunks), url });
              return;
            }
            fail(new TransportError('too-large', `${where} sent an answer larger than ${sizeText(limit)}`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status, headers: res.headers, body: Buffer.concat(chunks), url });
        });
        res.on('error', fail);
        res.on('aborted', () => fail(new TransportError('other', `${where} closed the connection mid-answer`)));
      });
      const timer = setTimeout(() => fail(new TransportError('timeout', `${where} did not answer within ${seconds(timeoutMs)}`)), timeoutMs);
      req.on('error', fail);
      req.end(body);
    });
  }

  /** The CA files of `host` under certsDir (`*.crt`, as dockerd reads them), with the system CAs; cached per host. */
  private caFor(host: string): Promise<CaSet> {
    let cached = this.cas.get(host);
    if (!cached) {
      cached = (async (): Promise<CaSet> => {
        const dir = path.join(this.certsDir, host);
        const names = await readdir(dir).catch(() => [] as string[]);
        const files = names.filter((n) => n.endsWith('.crt')).sort().map((n) => path.join(dir, n));
        const pems = (await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => undefined)))).filter((p): p is string => p !== undefined);
        return { dir, files, ...(pems.length ? { ca: [...tls.rootCertificates, ...pems] } : {}) };
      })();
      this.cas.set(host, cached);
    }
    return cached;
  }

  private transportError(err: Error, url: URL, where: string, cas: CaSet | undefined): TransportError {
    const code = (err as { code?: string }).code ?? '';
    if (TLS_CODES.has(code)) {
      const tried = cas?.files.length ? `CA files tried: ${cas.files.join(', ')} and the system CAs` : `no CA file in ${cas?.dir ?? this.certsDir}/ (*.crt), only the system CAs`;
      const what = code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH' ? `certificate is not valid for ${url.hostname}` : code === 'CERT_HAS_EXPIRED' ? 'certificate has expired' : 'certificate signed by unknown authority';
      return new TransportError('tls', `${where}: TLS verification failed: ${what} (${code}; ${tried})`);
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
      return new TransportError('dns', `${where}: cannot resolve host ${url.hostname} (${code})`);
    }
    if (code === 'ECONNREFUSED') return new TransportError('refused', `${where}: connection refused on ${url.host}`);
    if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || /wrong version number|packet length too long|unknown protocol/i.test(err.message)) {
      return new TransportError('protocol', `${where}: TLS handshake failed on ${url.host}, does it speak https? (${code || printable(err.message, 120)})`);
    }
    if (code.startsWith('HPE_')) return new TransportError('protocol', `${where}: answered something that is not HTTP (${code})`);
    return new TransportError('other', `${where}: ${url.protocol.replace(':', '')} request to ${url.host} failed: ${code ? `${code} ` : ''}${printable(err.message, 200)}`);
  }

  // ---- errors ----

  /** `registry HOST answered 404 MANIFEST_UNKNOWN (manifest unknown) for shop/api:9.9`. */
  private answerError(op: Op, answer: Answer, where = `registry ${op.host}`): BerthError {
    let detail = '';
    try {
      const parsed = JSON.parse(answer.body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[]; error?: unknown; details?: unknown };
      const first = parsed.errors?.[0];
      if (first) {
        const code = typeof first.code === 'string' ? printable(first.code, 60) : '';
        const message = typeof first.message === 'string' ? printable(first.message, 200) : '';
        detail = `${code}${message ? `${code ? ' ' : ''}(${message})` : ''}`;
      } else if (typeof parsed.error === 'string') {
        detail = `(${printable(parsed.error, 200)})`;
      } else if (typeof parsed.details === 'string') {
        detail = `(${printable(parsed.details, 200)})`;
      }
    } catch { /* no JSON body (a HEAD, an HTML page) */ }
    if (!detail) detail = answer.status === 401 ? 'UNAUTHORIZED' : answer.status === 403 ? 'DENIED' : answer.status === 404 ? 'NOT_FOUND' : http.STATUS_CODES[answer.status]?.toUpperCase().replace(/ /g, '_') ?? '';
    const hint = answer.status === 401 ? (op.secrets.size ? ' (credentials refused)' : ' (no credentials for this registry)') : '';
    return new BerthError('E_PULL', `${where} answered ${answer.status} ${detail}${hint} ${op.what}`.replace(/ {2,}/g, ' '));
  }

  private checked(op: Op, pinned: string | undefined, got: { digest: string; mediaType: string }): { digest: string; mediaType: string } {
    if (pinned !== undefined && got.digest !== pinned) throw new BerthError('E_PULL', `registry ${op.host} answered digest ${got.digest} for the pinned ${op.ref}`);
    return got;
  }

  /** A BerthError (E_PULL unless it was another BerthError) for anything thrown, its message scrubbed of the operation's secrets, with no cause attached. */
  private scrubbed(op: Op, err: unknown): BerthError {
    let message: string;
    let terminal = false;
    let code: BerthError['code'] = 'E_PULL';
    if (err instanceof BerthError) {
      // E_PULL here; a credential source's own error (E_CONFIG, say) keeps its code
      message = err.message;
      terminal = err.terminal;
      code = err.code;
    } else if (err instanceof TransportError) {
      message = `${err.message} ${op.what}`;
    } else {
      message = `registry ${op.host}: ${err instanceof Error ? err.message : String(err)} ${op.what}`;
    }
    for (const secret of [...op.secrets].sort((a, b) => b.length - a.length)) {
      if (secret.length >= 4) message = message.split(secret).join('***');
    }
    return new BerthError(code, message, { terminal });
  }
}

// ---- helpers ----

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function mediaTypeOf(headers: http.IncomingHttpHeaders): string | undefined {
  const type = header(headers, 'content-type');
  return type ? type.split(';')[0]!.trim() : undefined;
}

function isDigest(s: string): boolean {
  return /^sha(256|384|512):[a-f0-9]{64,128}$/.test(s);
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Every string that must never appear in output: the secrets and the base64 forms they travel in. */
function secretsOf(cred: RegistryCredential): string[] {
  const out: string[] = [];
  if (cred.password) out.push(cred.password);
  if (cred.identityToken) out.push(cred.identityToken);
  if (cred.registryToken) out.push(cred.registryToken);
  if (cred.username && cred.password !== undefined) out.push(Buffer.from(`${cred.username}:${cred.password}`).toString('base64'));
  return out;
}

function tokenKey(host: string, challenge: Challenge, scope: string): string {
  return `${host}\n${challenge.scheme === 'bearer' ? `${challenge.realm}\n${challenge.service ?? ''}` : ''}\n${scope}`;
}

function isLoopback(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':')[0]!;
  return hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '::1';
}

/**
 * The challenge of a 401's WWW-Authenticate (RFC 7235): `Bearer realm="...",service="...",scope="..."` or
 * `Basic realm="..."`; Bearer preferred when several are offered.
 */
export function parseChallenge(value: string | string[] | undefined): Challenge | undefined {
  const values = Array.isArray(value) ? value : value ? [value] : [];
  let found: Challenge | undefined;
  for (const v of values) {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(v);
    if (!m) continue;
    const scheme = m[1]!.toLowerCase();
    const params: Record<string, string> = {};
    for (const p of m[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
    if (scheme === 'bearer' && params.realm) return { scheme: 'bearer', realm: params.realm, ...(params.service ? { service: params.service } : {}) };
    if (scheme === 'basic') found ??= { scheme: 'basic' };
  }
  return found;
}

/** The target of `Link: <url>; rel="next"`, if any. */
export function nextLink(value: string | undefined): string | undefined {
  if (!value) return undefined;
  for (const part of value.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

function printable(s: string, max: number): string {
  const clean = s.replace(/[^\x20-\x7e]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

function sizeText(bytes: number): string {
  return bytes >= MiB ? `${+(bytes / MiB).toFixed(1)} MiB` : bytes >= 1024 ? `${+(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}
