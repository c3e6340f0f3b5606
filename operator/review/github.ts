/**
 * berth's GitHub edge: open pull requests of the tracked branch, the one plan comment per pull request (upserted by its
 * hidden marker, skipped when unchanged), commit statuses (`berth/plan`, `berth/sync`) and the after-merge comment.
 * Thin over Octokit: its throttling plugin waits out rate limits (403/429 with `x-ratelimit-reset` / `retry-after`,
 * capped), its retry plugin retries 5xx and network failures with backoff; what still fails surfaces as a BerthError.
 * The token only ever travels in the Authorization header: it is scrubbed from every log line and error message.
 */
import { randomUUID } from 'node:crypto';
import { Octokit, RequestError } from 'octokit';
import { BerthError, type ErrorCode } from '../model/errors.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { redact, Redactor } from '../util/redact.ts';
import { COMMENT_MARKER, commentBody, contentDigest, findMarkedComment } from './comment.ts';

/** GitHub API failures: transient (retried on the next round) unless the request itself was wrong. */
export const GITHUB_ERROR_CODE: ErrorCode = 'E_GITHUB';
/** GitHub rejects commit status descriptions longer than this. */
export const STATUS_DESCRIPTION_LIMIT = 140;

export type StatusContext = 'berth/plan' | 'berth/sync';
export type StatusState = 'pending' | 'success' | 'failure' | 'error';

export interface GitHubClientOptions {
  /** `owner/name` of the manifests repository. */
  repo: string;
  token: string;
  /** REST root: `https://api.github.com` (default) or GitHub Enterprise's `https://host/api/v3`. */
  apiUrl?: string;
  log?: Logger;
  /** Prepended to Octokit's own user agent (default `berth`). */
  userAgent?: string;
  retry?: RetryTuning;
}

/** How long and how often to retry. Defaults suit GitHub; tests shrink `unitMs`. */
export interface RetryTuning {
  /** Milliseconds per second of `retry-after` / `x-ratelimit-reset`, and per backoff step (default 1000). */
  unitMs?: number;
  /** Longest rate-limit wait accepted, in seconds (default 60); a longer one surfaces at once as a transient error. */
  maxWaitSeconds?: number;
  /** Retries of one request after a rate limit (default 2). */
  rateLimitRetries?: number;
  /** Retries of one request after a 5xx or network failure, waiting 1, 4, 9 ... units (default 3). */
  serverRetries?: number;
}

/** An open pull request targeting the tracked branch. */
export interface OpenPull {
  number: number;
  headSha: string;
  headRef: string;
  /** `owner/name` of the head repository; null when the fork was deleted. */
  headRepo: string | null;
  baseRef: string;
  /** The head lives in another repository (or a deleted one): its code is untrusted. */
  fromFork: boolean;
}

export interface UpsertResult {
  action: 'created' | 'updated' | 'unchanged';
  /** The comment's id. */
  id: number;
  /** GitHub API calls this upsert made (each page of comments counts; retries of one call do not). */
  calls: number;
}

/** The pull request whose merge produced a commit. */
export interface MergedPull {
  number: number;
  title: string;
  baseRef: string;
  mergedAt: string;
}

export interface GitHubClient {
  /** Open pull requests whose base is `base`, every page. */
  listOpenPulls(base: string): Promise<OpenPull[]>;
  /**
   * Ensures pull request `pr` carries exactly one plan comment for `instance` with `body` (as built by `commentBody`;
   * a body without the instance's marker is wrapped by `commentBody`). Creates it, updates it, or writes nothing:
   * 0 calls while the plan is unchanged since the last upsert, 1 to update it, else 1 per page of comments + 1 write.
   */
  upsertPlanComment(pr: number, instance: string, body: string): Promise<UpsertResult>;
  /** Sets commit status `context` on `sha`; the description is cut to GitHub's 140 characters. */
  setStatus(sha: string, context: StatusContext, state: StatusState, description: string, targetUrl?: string): Promise<void>;
  /** Posts a new comment on pull request `pr` (the after-merge result). */
  commentOnPull(pr: number, body: string): Promise<{ id: number; url: string }>;
  /** The merged pull request that brought `sha` to its branch, or null when there is none. */
  pullForCommit(sha: string): Promise<MergedPull | null>;
}

/** What image automation's pull-request mode needs (kept apart from GitHubClient so review fakes need not implement it). */
export interface PullOpener {
  /**
   * Ensures an open pull request from branch `head` (of this repository) into `base`: lists the open ones with
   * `head=<owner>:<head>` and `base` first (1 call), creates one only when there is none (1 more). An existing one whose
   * title or body differ is updated to them (1 more) and still reported as `exists`. Two berths racing to create it:
   * the loser's 422 "already exists" is answered by listing again.
   */
  openPull(head: string, base: string, title: string, body: string): Promise<{ number: number; action: 'created' | 'exists' }>;
}

interface CachedComment { commentId: number; digest: string }
interface Counter { calls: number }
type Comment = { id: number; body?: string | null; user?: { type?: string } | null };

/** A client for one repository. Throws E_CONFIG for a repository not `owner/name` or an empty token. */
export function createGitHubClient(opts: GitHubClientOptions): GitHubClient & PullOpener {
  const [owner, repo] = opts.repo.split('/');
  if (!owner || !repo || opts.repo.split('/').length !== 2) throw new BerthError('E_CONFIG', `GitHub repository must be owner/name, got "${opts.repo}"`);
  if (!opts.token) throw new BerthError('E_CONFIG', 'a GitHub token is required');
  const log = new Redactor().add(opts.token).logger(opts.log ?? silentLogger);
  const octokit = newOctokit(opts, log);
  const where = { owner, repo };
  const upsert = planCommentUpserter(octokit, where, log);
  const lanes = new Map<string, Promise<unknown>>();
  const fail = (what: string) => (err: unknown): never => { throw githubError(err, what, opts.token); };

  /** Runs upserts of one pull request one after another, so two passes never both create a comment. */
  function inLane<T>(key: string, run: () => Promise<T>): Promise<T> {
    const next = (lanes.get(key) ?? Promise.resolve()).then(run, run);
    const tail = next.then(() => undefined, () => undefined);
    lanes.set(key, tail);
    void tail.then(() => { if (lanes.get(key) === tail) lanes.delete(key); });
    return next;
  }

  return {
    async listOpenPulls(base) {
      const out: OpenPull[] = [];
      const pages = octokit.paginate.iterator(octokit.rest.pulls.list, { ...where, state: 'open', base, per_page: 100 });
      try {
        for await (const page of pages) out.push(...page.data.map((p) => openPull(p, opts.repo)));
      } catch (err) { fail(`list open pull requests of ${base}`)(err); }
      return out;
    },

    upsertPlanComment(pr, instance, body) {
      return inLane(`${instance}#${pr}`, () => upsert(pr, instance, body)).catch(fail(`upsert plan comment on #${pr}`));
    },

    async setStatus(sha, context, state, description, targetUrl) {
      await octokit.rest.repos.createCommitStatus({
        ...where, sha, context, state, description: truncateDescription(description), ...(targetUrl ? { target_url: targetUrl } : {}),
      }).catch(fail(`set status ${context}=${state} on ${sha.slice(0, 12)}`));
    },

    async commentOnPull(pr, body) {
      const { data } = await octokit.rest.issues.createComment({ ...where, issue_number: pr, body }).catch(fail(`comment on #${pr}`));
      return { id: data.id, url: data.html_url };
    },

    async openPull(head, base, title, body) {
      const what = `open a pull request from ${head} into ${base}`;
      const find = async (): Promise<{ number: number; title: string; body?: string | null } | undefined> => {
        const { data } = await octokit.rest.pulls.list({ ...where, state: 'open', head: `${owner}:${head}`, base, per_page: 100 }).catch(fail(what));
        return data.find((p) => p.head.ref === head && p.base.ref === base) ?? data[0];
      };
      const existing = await find();
      if (existing) {
        if (existing.title !== title || (existing.body ?? '') !== body) {
          await octokit.rest.pulls.update({ ...where, pull_number: existing.number, title, body }).catch(fail(`update pull request #${existing.number}`));
        }
        return { number: existing.number, action: 'exists' };
      }
      try {
        const { data } = await octokit.rest.pulls.create({ ...where, head, base, title, body });
        log.info('github pull request created', { number: data.number, head, base });
        return { number: data.number, action: 'created' };
      } catch (err) {
        // Created meanwhile by another writer: GitHub answers 422 "A pull request already exists for owner:head".
        if (err instanceof RequestError && err.status === 422) {
          const raced = await find();
          if (raced) return { number: raced.number, action: 'exists' };
        }
        return fail(what)(err);
      }
    },

    async pullForCommit(sha) {
      const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...where, commit_sha: sha })
        .catch(fail(`find the pull request of ${sha.slice(0, 12)}`));
      const merged = data.filter((p) => p.merged_at);
      const pull = merged.find((p) => p.merge_commit_sha === sha) ?? merged[0];
      return pull ? { number: pull.number, title: pull.title, baseRef: pull.base.ref, mergedAt: pull.merged_at ?? '' } : null;
    },
  };
}

type Api = InstanceType<typeof Octokit>;

/**
 * The plan comment upsert with its cache (instance#pr -> comment id and digest). A cache hit with the same digest
 * costs no call; a changed plan PATCHes the cached id (1 call); otherwise list the comments (1 call a page) and
 * create, update or leave the marked one. An edit made by hand is therefore corrected by the next changed plan.
 */
function planCommentUpserter(octokit: Api, where: { owner: string; repo: string }, log: Logger): GitHubClient['upsertPlanComment'] {
  const cache = new Map<string, CachedComment>();

  async function findComment(pr: number, instance: string, n: Counter): Promise<Comment | undefined> {
    const seen: Comment[] = [];
    const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, { ...where, issue_number: pr, per_page: 100 });
    for await (const page of pages) {
      n.calls++;
      seen.push(...page.data);
      // A bot's marked comment is the one findMarkedComment prefers: no later page can beat it.
      if (findMarkedComment(seen, instance)?.user?.type === 'Bot') break;
    }
    return findMarkedComment(seen, instance);
  }

  function remember(key: string, id: number, digest: string, action: UpsertResult['action'], n: Counter): UpsertResult {
    cache.set(key, { commentId: id, digest });
    log.debug('github plan comment', { key, action, id, calls: n.calls });
    return { action, id, calls: n.calls };
  }

  return async function upsert(pr: number, instance: string, text: string): Promise<UpsertResult> {
    const body = text.startsWith(COMMENT_MARKER(instance)) ? text : commentBody(instance, text);
    const digest = contentDigest(body);
    const key = `${instance}#${pr}`;
    const n: Counter = { calls: 0 };
    const cached = cache.get(key);
    if (cached?.digest === digest) return { action: 'unchanged', id: cached.commentId, calls: 0 };
    if (cached) {
      n.calls++;
      const patched = await octokit.rest.issues.updateComment({ ...where, comment_id: cached.commentId, body }).catch(gone);
      if (patched) return remember(key, patched.data.id, digest, 'updated', n);
      cache.delete(key); // deleted by someone: find or create it again
    }
    const existing = await findComment(pr, instance, n);
    if (existing && contentDigest(existing.body ?? '') === digest) return remember(key, existing.id, digest, 'unchanged', n);
    n.calls++;
    if (existing) {
      const { data } = await octokit.rest.issues.updateComment({ ...where, comment_id: existing.id, body });
      return remember(key, data.id, digest, 'updated', n);
    }
    const { data } = await octokit.rest.issues.createComment({ ...where, issue_number: pr, body });
    return remember(key, data.id, digest, 'created', n);
  };
}

/** `description` cut to GitHub's limit on a code point boundary, ending with `…` when cut. */
export function truncateDescription(description: string, limit = STATUS_DESCRIPTION_LIMIT): string {
  const clean = description.replace(/\s+/g, ' ').trim();
  if (clean.length <= limit) return clean;
  let out = '';
  for (const p of clean) {
    if ((out + p).length > limit - 1) break;
    out += p;
  }
  return out.trimEnd() + '…';
}

interface PullLike {
  number: number;
  head: { sha: string; ref: string; repo: { full_name: string } | null };
  base: { ref: string; repo: { full_name: string } | null };
}

function openPull(p: PullLike, configured: string): OpenPull {
  const headRepo = p.head.repo?.full_name ?? null;
  const baseRepo = p.base.repo?.full_name ?? configured;
  return {
    number: p.number, headSha: p.head.sha, headRef: p.head.ref, headRepo, baseRef: p.base.ref,
    fromFork: headRepo === null || headRepo.toLowerCase() !== baseRepo.toLowerCase(),
  };
}

/** A PATCH of the cached comment id that found nothing: null, so the caller lists and creates. */
function gone(err: unknown): null {
  if (err instanceof RequestError && (err.status === 404 || err.status === 410)) return null;
  throw err;
}

function newOctokit(opts: GitHubClientOptions, log: Logger): Api {
  const unitMs = opts.retry?.unitMs ?? 1000;
  const maxWait = opts.retry?.maxWaitSeconds ?? 60;
  const rateLimitRetries = opts.retry?.rateLimitRetries ?? 2;
  const onLimit = (kind: string) => (retryAfter: number, o: { method: string; url: string }, _k: unknown, retryCount: number): boolean => {
    const fields = { kind, method: o.method, route: o.url, retryAfter, attempt: retryCount + 1 };
    if (retryCount >= rateLimitRetries || retryAfter > maxWait) {
      log.warn('github rate limit: not waiting', { ...fields, maxWaitSeconds: maxWait, retries: rateLimitRetries });
      return false;
    }
    log.warn('github rate limit: waiting, then retrying', fields);
    return true;
  };
  const octokit = new Octokit({
    auth: opts.token,
    baseUrl: (opts.apiUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: opts.userAgent ?? 'berth',
    log: {
      debug: (m: string) => log.debug(m), info: (m: string) => log.info(m),
      warn: (m: string) => log.warn(m), error: (m: string) => log.error(m),
    },
    // 429 is the throttling plugin's: it honours retry-after, the retry plugin would not.
    retry: { retries: opts.retry?.serverRetries ?? 3, retryAfterBaseValue: unitMs, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
    throttle: {
      id: `berth:${opts.repo}:${randomUUID()}`,
      retryAfterBaseValue: unitMs,
      onRateLimit: onLimit('primary'),
      onSecondaryRateLimit: onLimit('secondary'),
    },
  });
  octokit.hook.wrap('request', async (request, options) => {
    const started = performance.now();
    const fields = { method: options.method, route: options.url };
    try {
      const res = await request(options);
      log.debug('github request', { ...fields, status: res.status, ms: Math.round(performance.now() - started) });
      return res;
    } catch (err) {
      log.debug('github request failed', { ...fields, status: err instanceof RequestError ? err.status : undefined });
      throw err;
    }
  });
  return octokit;
}

/** A BerthError for a failed call: status and GitHub's message, never the token; 4xx other than limits are terminal. */
function githubError(err: unknown, what: string, token: string): BerthError {
  if (err instanceof BerthError) return err;
  if (!(err instanceof RequestError)) {
    const message = err instanceof Error ? err.message : String(err);
    return new BerthError(GITHUB_ERROR_CODE, redact(`GitHub: ${what}: ${message}`, [token]), { terminal: false, cause: err });
  }
  const headers = err.response?.headers ?? {};
  const limited = err.status === 429 || (err.status === 403 && (headers['x-ratelimit-remaining'] === '0' || headers['retry-after'] !== undefined));
  const terminal = !limited && err.status >= 400 && err.status < 500 && err.status !== 408;
  const detail = err.message.length > 300 ? `${err.message.slice(0, 300)}…` : err.message;
  const status = err.status ? `HTTP ${err.status}${limited ? ' (rate limited)' : ''}` : 'no response';
  return new BerthError(GITHUB_ERROR_CODE, redact(`GitHub: ${what}: ${status}: ${detail}`, [token]), { terminal, cause: err });
}
