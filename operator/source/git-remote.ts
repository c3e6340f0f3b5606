/** A remote (smart HTTP) repository mirrored into a bare cache clone: ls-refs to poll, fetch only on change, push without force. */
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import git, { type GitAuth, type HttpClient, type ServerRef } from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { BerthError } from '../model/errors.ts';
import type { Branch } from './source.ts';
import { gitError, isOid, peelToCommit, readRef, repoAt, setRef, sortBranches, type RefSync, type Repo } from './git-repo.ts';

/** A parsed http(s) repository URL: the URL without credentials plus the credentials themselves. */
export interface RemoteUrl {
  /** The URL without userinfo and without a trailing slash. */
  url: string;
  username: string;
  password: string;
  /** Strings that must never appear in a message. */
  secrets: string[];
}

const PUSH_REF = 'refs/berth/push';

/** Parses an http(s) URL (null for anything else, i.e. a local path). */
export function parseRemoteUrl(repo: string): RemoteUrl | null {
  if (!/^https?:\/\//i.test(repo)) return null;
  let u: URL;
  try {
    u = new URL(repo);
  } catch {
    throw new BerthError('E_CONFIG', 'the repository URL is not a valid http(s) URL');
  }
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const secretish = password ? [u.password, password] : username.length >= 8 ? [u.username, username] : [];
  u.username = '';
  u.password = '';
  const url = u.toString().replace(/\/+$/, '');
  const secrets = [...new Set(secretish.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  return { url, username, password, secrets };
}

/** The bare cache clone of `remote`: `cacheDir/<sha1(url)>.git`, created on first use and reused afterwards. */
export async function openCacheRepo(cacheDir: string, remote: RemoteUrl, branch: string): Promise<Repo> {
  const gitdir = join(cacheDir, `${createHash('sha1').update(remote.url).digest('hex')}.git`);
  const repo = repoAt(gitdir);
  const exists = await stat(join(gitdir, 'config')).then(() => true, () => false);
  if (!exists) {
    await mkdir(gitdir, { recursive: true });
    await git.init({ fs: repo.fs, gitdir, bare: true, defaultBranch: branch });
  }
  await git.setConfig({ fs: repo.fs, gitdir, path: 'remote.origin.url', value: remote.url });
  await git.setConfig({ fs: repo.fs, gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
  return repo;
}

/** RefSync against a smart-HTTP server. Credentials go through onAuth, and after a first accepted challenge are sent up front. */
export class RemoteSync implements RefSync {
  readonly description: string;
  readonly secrets: readonly string[];
  private readonly repo: Repo;
  private readonly remote: RemoteUrl;
  private readonly http: HttpClient;
  /** Local ref whose commit we tell the server we have when fetching other refs. */
  private readonly haveRef: string;
  private authAccepted = false;

  constructor(repo: Repo, remote: RemoteUrl, trackedBranch: string, timeoutMs: number) {
    this.repo = repo;
    this.remote = remote;
    this.description = remote.url;
    this.secrets = remote.secrets;
    this.haveRef = trackingRef(trackedBranch);
    this.http = { request: (req) => http.request({ ...req, fetchOptions: { timeout: timeoutMs, ...req.fetchOptions } }) };
  }

  /** Tip of `branch` on the server; fetches only when it differs from the local tracking ref. */
  async branchTip(branch: string): Promise<string | null> {
    const remoteRef = await this.lsRef(`refs/heads/${branch}`);
    if (!remoteRef) return null;
    const tracking = trackingRef(branch);
    if ((await readRef(this.repo, tracking)) === remoteRef.oid) return remoteRef.oid;
    if (await peelToCommit(this.repo, remoteRef.oid)) {
      await setRef(this.repo, tracking, remoteRef.oid);
      return remoteRef.oid;
    }
    return this.fetch(remoteRef.ref, tracking, `cannot fetch branch '${branch}' from ${this.description}`);
  }

  /**
   * Resolves on the server (tags before branches, like git), fetching the commit when it is not here yet.
   * The fetch asks for the commit id, not the ref name, so it writes no ref: a branch fetched by name would move its
   * `refs/remotes/origin/*` tracking ref (head() relies on the tracked branch's), and a stale one left by a deleted
   * branch (`review/a`) would block the ref of a later branch below it (`review/a/b`).
   */
  async resolve(ref: string): Promise<string> {
    if (isOid(ref)) return this.ensureCommit(ref);
    const candidates = ref.startsWith('refs/') ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`];
    const found = (await Promise.all(candidates.map((c) => this.lsRef(c)))).find((r) => r !== null);
    if (!found) throw new BerthError('E_GIT', `ref '${ref}' not found in ${this.description}`);
    const target = found.peeled ?? found.oid;
    const present = await peelToCommit(this.repo, target);
    if (present) return present;
    await this.fetch(target, this.haveRef, `cannot fetch ref '${ref}' from ${this.description}`);
    const commit = await peelToCommit(this.repo, target);
    if (!commit) throw new BerthError('E_GIT', `ref '${ref}' of ${this.description} does not point to a commit`);
    return commit;
  }

  /** Every branch on the server: one ls-refs request, nothing fetched. */
  async listBranches(): Promise<Branch[]> {
    const prefix = 'refs/heads/';
    const refs = await this.lsRefs(prefix, false);
    return sortBranches(refs.filter((r) => r.ref.startsWith(prefix)).map((r) => ({ name: r.ref.slice(prefix.length), sha: r.oid })));
  }

  /** Fetches commit `oid` by id when it is not present (the server must allow reachable ids in `want`, as smart HTTP does). */
  async ensureCommit(oid: string): Promise<string> {
    const present = await peelToCommit(this.repo, oid);
    if (present) return present;
    await this.fetch(oid, this.haveRef, `cannot fetch commit ${oid} from ${this.description}`);
    const commit = await peelToCommit(this.repo, oid);
    if (!commit) throw new BerthError('E_GIT', `commit ${oid} not found in ${this.description}`);
    return commit;
  }

  /** Pushes `commit` to `branch` (never forced); false when the server's tip is not an ancestor of it. */
  async publish(branch: string, commit: string, _expected: string | null): Promise<boolean> {
    await setRef(this.repo, PUSH_REF, commit);
    try {
      await git.push({ ...this.repoArgs(), ...this.netArgs(), ref: PUSH_REF, remoteRef: `refs/heads/${branch}`, remote: 'origin' });
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'PushRejectedError' || code === 'GitPushError') return false;
      throw gitError(`cannot push branch '${branch}' to ${this.description}`, err, this.secrets);
    }
  }

  /** The server's value of exactly `ref` (annotated tags peeled), or null when absent. */
  private async lsRef(ref: string): Promise<ServerRef | null> {
    const refs = await this.lsRefs(ref, true);
    return refs.find((r) => r.ref === ref) ?? null;
  }

  /** The server's refs starting with `prefix` (one protocol-v2 ls-refs request). */
  private async lsRefs(prefix: string, peelTags: boolean): Promise<ServerRef[]> {
    try {
      return await git.listServerRefs({ ...this.netArgs(), prefix, peelTags, protocolVersion: 2 });
    } catch (err) {
      throw gitError(`cannot list refs of ${this.description}`, err, this.secrets);
    }
  }

  /** Fetches one ref or commit id (no tags), telling the server we have `haveRef`; returns the fetched commit id. A ref name moves its tracking ref, an id moves none. */
  private async fetch(remoteRef: string, haveRef: string, context: string): Promise<string> {
    try {
      const res = await git.fetch({ ...this.repoArgs(), ...this.netArgs(), ref: haveRef, remoteRef, remote: 'origin', singleBranch: true, tags: false });
      if (!res.fetchHead) throw new Error('the repository is empty');
      return res.fetchHead;
    } catch (err) {
      throw gitError(context, err, this.secrets);
    }
  }

  private repoArgs(): { fs: Repo['fs']; gitdir: string; cache: object } {
    return { fs: this.repo.fs, gitdir: this.repo.gitdir, cache: this.repo.cache };
  }

  private netArgs(): { http: HttpClient; url: string; headers: Record<string, string>; onAuth: () => GitAuth; onAuthSuccess: () => void; onAuthFailure: () => GitAuth } {
    const { username, password } = this.remote;
    const hasCreds = username !== '' || password !== '';
    const headers: Record<string, string> = {};
    if (hasCreds && this.authAccepted) headers.Authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    return {
      http: this.http,
      url: this.remote.url,
      headers,
      onAuth: () => (hasCreds ? { username, password } : { cancel: true }),
      onAuthSuccess: () => { this.authAccepted = true; },
      onAuthFailure: () => { this.authAccepted = false; return { cancel: true }; },
    };
  }
}

function trackingRef(branch: string): string {
  return `refs/remotes/origin/${branch}`;
}
