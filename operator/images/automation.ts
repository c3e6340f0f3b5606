/**
 * Image update automation through git (what Flux's image automation does): every `spec.imagePolicy.interval`, the
 * registry's tag list of a Service's `spec.image` is read, the policy picks a tag (image-policy.ts), and when it is
 * newer than the manifest's, the new reference is committed into the manifest file (yaml-edit.ts: only the tag's
 * bytes change). Mode `branch` commits on the tracked branch (berth applies it on its next poll, like any push);
 * mode `pr` commits on `berth/image-updates/<namespace>/<name>` (created from the tracked branch's tip) and opens or
 * updates a pull request into the tracked branch, which berth's review then plans.
 *
 * Safety:
 * - the decision is made against the revision in force, and made again against the file at the branch tip inside
 *   the commit (someone may have pushed since): a service or file gone, an image already at the target, another
 *   repository, a digest pin, or a tag the policy ranks at least as high as the chosen one (a manual pin to a newer
 *   tag) commits nothing, so nothing is ever downgraded and the same update is never committed twice;
 * - credentials stay in the tag lister: this module sees tags and digests only;
 * - at most 4 services are checked at once; tick() never throws (failures are logged, retried at the next interval).
 */
import semver from 'semver';
import { isMap, parseAllDocuments, type Document } from 'yaml';
import { asBerthError, BerthError } from '../model/errors.ts';
import type { ImagePolicySpec } from '../model/manifest.ts';
import type { DesiredState } from '../model/state.ts';
import type { GitSource, RepoSnapshot } from '../source/source.ts';
import { limiter } from '../util/limit.ts';
import type { Logger } from '../util/log.ts';
import { selectTag, toImagePolicy, type ImagePolicy } from './image-policy.ts';
import { parseImageName, repositoryOf } from './reference.ts';
import { setServiceImage } from './yaml-edit.ts';

export interface TagLister {
  listTags(ref: string): Promise<string[]>;
  resolve(ref: string): Promise<{ digest: string }>;
}

export interface ImageAutomationDeps {
  source: GitSource;
  /** The tracked branch (the one berth applies). */
  branch: string;
  lister: TagLister;
  log: Logger;
  now?: () => number;
  mode: 'branch' | 'pr';
  /** Required for mode 'pr'. */
  github?: { openPull(head: string, base: string, title: string, body: string): Promise<{ number: number; action: 'created' | 'exists' }> };
}

export interface ImageUpdate {
  /** `namespace/name`. */
  service: string;
  /** Repository-relative path of the manifest file. */
  file: string;
  /** The tag before (as in the revision in force; `latest` when it had none) and the tag committed. */
  from: string;
  to: string;
  fromDigest?: string;
  toDigest?: string;
  /** The commit made (on the tracked branch, or on the pull request's branch). */
  commit: string;
  /** Mode 'pr': the pull request's number. */
  pull?: number;
}

/** Services checked at once within a tick. */
const CONCURRENCY = 4;
/** Tags considered per repository (the lister enforces the same bound). */
const MAX_TAGS = 10_000;
/** Prefix of the pull-request branches: `berth/image-updates/<namespace>/<name>`. */
export const IMAGE_UPDATE_BRANCH_PREFIX = 'berth/image-updates/';

interface Tracked {
  key: string;
  namespace: string;
  name: string;
  file: string;
  /** spec.image as written in the revision in force. */
  image: string;
  spec: ImagePolicySpec;
  /** The compiled policy, or the reason it does not compile (validation refuses such revisions: defensive). */
  policy: ImagePolicy | string;
  /** When the next check is due (ms epoch). */
  due: number;
}

interface Remembered {
  /** The image last committed or found at the branch tip for this service. */
  image: string;
  /** Mode 'pr': the pull request known open for it. */
  pull?: number;
}

/** The pull-request branch of a service. */
export function imageUpdateBranch(namespace: string, name: string): string {
  return `${IMAGE_UPDATE_BRANCH_PREFIX}${namespace}/${name}`;
}

export class ImageAutomation {
  private readonly deps: ImageAutomationDeps;
  private readonly now: () => number;
  private readonly limit = limiter(CONCURRENCY);
  private readonly services = new Map<string, Tracked>();
  /** Keys warned about once (digest pin, bad policy, no tag): `key\0image\0reason`. */
  private readonly warned = new Set<string>();
  /** What was committed per service, so an interval with nothing new makes no git write nor GitHub call. */
  private readonly done = new Map<string, Remembered>();
  private revision = '';
  private chain: Promise<unknown> = Promise.resolve();

  constructor(deps: ImageAutomationDeps) {
    if (deps.mode === 'pr' && !deps.github) throw new BerthError('E_CONFIG', 'image updates in pr mode need a GitHub client (--github-repo)');
    if (deps.mode !== 'pr' && deps.mode !== 'branch') throw new BerthError('E_CONFIG', `image update mode must be branch or pr, got "${String(deps.mode)}"`);
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** The desired state now in force (its services with spec.imagePolicy and source.file, repo-relative) and its revision. */
  track(desired: DesiredState): void {
    this.revision = desired.revision;
    const now = this.now();
    const next = new Map<string, Tracked>();
    for (const s of desired.services) {
      const spec = s.spec.imagePolicy;
      const image = s.spec.image;
      if (!spec || !image || s.image.type !== 'ref') continue;
      const before = this.services.get(s.key);
      let policy: ImagePolicy | string;
      try {
        const { semver: range, pattern, order, extract } = spec;
        policy = toImagePolicy({
          ...(range !== undefined ? { semver: range } : {}), ...(pattern !== undefined ? { pattern } : {}),
          ...(order !== undefined ? { order } : {}), ...(extract !== undefined ? { extract } : {}),
        });
      } catch (err) {
        policy = asBerthError(err).message;
      }
      // The schedule holds across revisions while the policy's interval is the same; a new service is checked at once.
      const due = before && before.spec.intervalMs === spec.intervalMs ? before.due : now;
      next.set(s.key, { key: s.key, namespace: s.namespace, name: s.name, file: s.source.file, image, spec, policy, due });
    }
    this.services.clear();
    for (const [k, v] of next) this.services.set(k, v);
    // Forget what was committed once it is in force (or the service gone): from then on the manifest speaks again.
    for (const [key, done] of this.done) {
      const t = next.get(key);
      if (!t || t.image === done.image) this.done.delete(key);
    }
  }

  /** When the next check is due (ms epoch), for the caller's timer; undefined when nothing is tracked. */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const s of this.services.values()) if (min === undefined || s.due < min) min = s.due;
    return min;
  }

  /**
   * Checks every service whose interval is due (now >= last check + intervalMs; first check at once); returns the
   * updates committed. Never throws: failures are logged and retried at the next interval. Calls made while one runs
   * run after it.
   */
  tick(): Promise<ImageUpdate[]> {
    const run = this.chain.then(() => this.runTick());
    this.chain = run.catch(() => undefined);
    return run.catch((err: unknown) => {
      this.deps.log.error('image automation: tick failed', { error: asBerthError(err).message });
      return [];
    });
  }

  private async runTick(): Promise<ImageUpdate[]> {
    const now = this.now();
    const due = [...this.services.values()].filter((s) => now >= s.due);
    for (const s of due) s.due = now + s.spec.intervalMs;
    const results = await Promise.all(due.map((s) => this.limit.run(() => this.checkSafely(s))));
    return results.filter((u): u is ImageUpdate => u !== undefined);
  }

  private async checkSafely(s: Tracked): Promise<ImageUpdate | undefined> {
    try {
      return await this.check(s);
    } catch (err) {
      const e = asBerthError(err);
      this.deps.log.warn('image automation: check failed, retrying at the next interval', {
        service: s.key, image: s.image, code: e.code, error: e.message, retryInMs: s.spec.intervalMs,
      });
      return undefined;
    }
  }

  private warnOnce(s: Tracked, reason: string, msg: string, fields: Record<string, unknown> = {}): void {
    const id = `${s.key}\0${s.image}\0${reason}`;
    if (this.warned.has(id)) return;
    if (this.warned.size > 10_000) this.warned.clear();
    this.warned.add(id);
    this.deps.log.warn(msg, { service: s.key, image: s.image, file: s.file, ...fields });
  }

  /** One service: list, select, compare, commit (and open the pull request). */
  private async check(s: Tracked): Promise<ImageUpdate | undefined> {
    const { log } = this.deps;
    if (typeof s.policy === 'string') {
      this.warnOnce(s, 'policy', 'image automation: imagePolicy does not compile, service skipped', { error: s.policy });
      return undefined;
    }
    const policy = s.policy;
    const current = splitRef(s.image);
    if (!current) {
      this.warnOnce(s, 'ref', 'image automation: spec.image is not an image name, service skipped');
      return undefined;
    }
    if (current.digest !== undefined) {
      this.warnOnce(s, 'digest', 'image automation: spec.image is pinned by digest, service skipped (pin a tag to let the policy move it)');
      return undefined;
    }
    const fromTag = current.tag ?? 'latest';
    const tags = (await this.deps.lister.listTags(s.image)).slice(0, MAX_TAGS);
    const chosen = selectTag(policy, tags);
    if (chosen === undefined) {
      this.warnOnce(s, 'none', 'image automation: no tag of the registry matches the policy', { tags: tags.length, policy: describePolicy(s.spec) });
      return undefined;
    }
    if (!isUpgrade(policy, fromTag, chosen)) {
      log.debug('image automation: up to date', { service: s.key, tag: fromTag, selected: chosen });
      return undefined;
    }
    const target = `${current.name}:${chosen}`;
    const remembered = this.done.get(s.key);
    // Already committed in this process (branch mode: not applied yet; pr mode: its pull request is open).
    if (remembered?.image === target && (this.deps.mode === 'branch' || remembered.pull !== undefined)) {
      log.debug('image automation: update already committed', { service: s.key, image: target });
      return undefined;
    }

    const [fromDigest, toDigest] = await Promise.all([
      // The old tag may be gone from the registry: the message then names no old digest.
      this.deps.lister.resolve(s.image).then((r) => r.digest, () => undefined),
      this.deps.lister.resolve(target).then((r) => r.digest),
    ]);
    const message = commitMessage({ key: s.key, file: s.file, from: fromTag, to: chosen, fromDigest, toDigest, spec: s.spec, image: s.image, target, revision: this.revision });
    const edit = this.editor(s, policy, chosen, target);
    const pr = this.deps.mode === 'pr';
    const branch = pr ? imageUpdateBranch(s.namespace, s.name) : this.deps.branch;
    const createFrom = pr ? await this.deps.source.resolve(`refs/heads/${this.deps.branch}`) : undefined;
    const commit = await this.deps.source.commitFiles(branch, edit.run, message, createFrom ? { createFrom } : {});

    if (!pr) {
      if (commit === null) {
        log.debug('image automation: nothing to commit', { service: s.key, image: target, reason: edit.reason() });
        if (edit.reason() === 'already') this.done.set(s.key, { image: target });
        return undefined;
      }
      this.done.set(s.key, { image: target });
      log.info('image update committed', { service: s.key, file: s.file, from: fromTag, to: chosen, branch, commit });
      return { service: s.key, file: s.file, from: fromTag, to: chosen, ...(fromDigest ? { fromDigest } : {}), toDigest, commit };
    }

    // Pull request mode: the branch holds the update (just committed, or from before) -> make sure a pull request is open.
    if (commit === null && edit.reason() !== 'already') {
      log.debug('image automation: nothing to commit', { service: s.key, image: target, branch, reason: edit.reason() });
      return undefined;
    }
    const [title, ...rest] = message.split('\n');
    const body = [...rest.filter((l, i) => i > 0 || l !== ''), '', `Opened by berth image automation from \`${branch}\`; berth applies it once merged into \`${this.deps.branch}\`.`].join('\n');
    const pull = await (this.deps.github as NonNullable<ImageAutomationDeps['github']>).openPull(branch, this.deps.branch, title ?? message, body);
    this.done.set(s.key, { image: target, pull: pull.number });
    if (commit === null) {
      log.info('image update pull request', { service: s.key, to: chosen, branch, pull: pull.number, action: pull.action, commit: 'unchanged' });
      return undefined;
    }
    log.info('image update committed', { service: s.key, file: s.file, from: fromTag, to: chosen, branch, commit, pull: pull.number, action: pull.action });
    return { service: s.key, file: s.file, from: fromTag, to: chosen, ...(fromDigest ? { fromDigest } : {}), toDigest, commit, pull: pull.number };
  }

  /**
   * The `edit` of commitFiles: reads the manifest at the branch tip and returns it with the new tag, or null (with the
   * reason kept) when the tip does not call for it.
   */
  private editor(s: Tracked, policy: ImagePolicy, chosen: string, target: string): { run: (tip: RepoSnapshot | null) => Promise<Record<string, string> | null>; reason: () => string } {
    let reason = '';
    const skip = (why: string): null => {
      reason = why;
      return null;
    };
    const run = async (tip: RepoSnapshot | null): Promise<Record<string, string> | null> => {
      reason = '';
      if (!tip) return skip('no branch');
      let text: string;
      try {
        text = (await tip.read(s.file)).toString('utf8');
      } catch (err) {
        if (err instanceof BerthError && err.code === 'E_PATH_MISSING') return skip('file gone');
        throw err;
      }
      const atTip = serviceImageIn(text, { name: s.name, namespace: s.namespace });
      if (atTip === undefined) return skip('service gone');
      if (atTip === target) return skip('already');
      const tipRef = splitRef(atTip);
      if (!tipRef || tipRef.digest !== undefined) return skip('pinned at the tip');
      if (!sameRepository(tipRef.name, splitRef(target)?.name ?? '')) return skip('another image at the tip');
      const tipTag = tipRef.tag ?? 'latest';
      if (tipTag === chosen) return skip('already');
      if (!isUpgrade(policy, tipTag, chosen)) return skip(`tip has ${tipTag}, ranked at least as high`);
      // The name as spelled at the tip, with the chosen tag.
      const out = setServiceImage(text, { name: s.name, namespace: s.namespace }, `${tipRef.name}:${chosen}`);
      return out === text ? skip('already') : { [s.file]: out };
    };
    return { run, reason: () => reason };
  }
}

/**
 * The chosen tag is an upgrade of `current`: different, and the policy prefers it over `current`. With a semver
 * policy a current version above the chosen one is never an upgrade either, even outside the range (a manual pin to
 * `3.1.0` under `>=2.3 <3` stays).
 */
function isUpgrade(policy: ImagePolicy, current: string, chosen: string): boolean {
  if (chosen === current || selectTag(policy, [current, chosen]) !== chosen) return false;
  if (policy.kind === 'semver') {
    const a = semver.valid(current.replace(/^v/, ''));
    const b = semver.valid(chosen.replace(/^v/, ''));
    if (a && b && semver.gt(a, b)) return false;
  }
  return true;
}

/** Name (as spelled), tag and digest of a reference, or undefined for an image ID / unparseable value. */
function splitRef(ref: string): { name: string; tag?: string; digest?: string } | undefined {
  try {
    const parsed = parseImageName(ref);
    return { name: repositoryOf(ref), ...(parsed.tag !== undefined ? { tag: parsed.tag } : {}), ...(parsed.digest !== undefined ? { digest: parsed.digest } : {}) };
  } catch {
    return undefined;
  }
}

/** The same registry repository, however spelled (`nginx` = `docker.io/library/nginx`). */
function sameRepository(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    const x = parseImageName(a);
    const y = parseImageName(b);
    return x.domain === y.domain && x.repository === y.repository;
  } catch {
    return false;
  }
}

/** spec.image of the Service `target` in a manifest file's text, or undefined when absent (or not a string). */
export function serviceImageIn(text: string, target: { name: string; namespace: string }): string | undefined {
  let docs: Document.Parsed[];
  try {
    const parsed = parseAllDocuments(text);
    if (!Array.isArray(parsed)) return undefined;
    docs = parsed;
  } catch {
    return undefined;
  }
  for (const d of docs) {
    if (d.errors.length > 0 || !isMap(d.contents)) continue;
    if (d.get('kind') !== 'Service' || d.getIn(['metadata', 'name']) !== target.name) continue;
    const ns = d.getIn(['metadata', 'namespace']);
    if ((ns === undefined || ns === null ? 'default' : ns) !== target.namespace) continue;
    const image = d.getIn(['spec', 'image']);
    return typeof image === 'string' ? image : undefined;
  }
  return undefined;
}

/** `semver ">=2.3 <3"`, `pattern "^main-([0-9]+)$" order numerical extract "$1"`. */
export function describePolicy(spec: ImagePolicySpec): string {
  if (spec.semver !== undefined) return `semver ${JSON.stringify(spec.semver)}`;
  const parts = [`pattern ${JSON.stringify(spec.pattern ?? '')}`];
  parts.push(`order ${spec.order ?? 'alphabetical'}`);
  if (spec.extract !== undefined) parts.push(`extract ${JSON.stringify(spec.extract)}`);
  return parts.join(' ');
}

/** `sha256:` and the first 12 hex digits. */
function shortDigest(digest: string | undefined): string {
  if (!digest) return 'unknown';
  const [alg, hex] = digest.split(':');
  return hex ? `${alg}:${hex.slice(0, 12)}` : digest;
}

/**
 * The commit message (and pull request title + body):
 * `image: shop/api 2.3.1 -> 2.4.0 (sha256:9f3e01234567 -> sha256:ab1201234567)`, a blank line, then the full
 * references and digests and `Policy: semver ">=2.3 <3" in shop/api.yaml`.
 */
export function commitMessage(u: {
  key: string; file: string; from: string; to: string; fromDigest?: string; toDigest?: string; spec: ImagePolicySpec; image: string; target: string; revision?: string;
}): string {
  const digests = u.fromDigest || u.toDigest ? ` (${shortDigest(u.fromDigest)} -> ${shortDigest(u.toDigest)})` : '';
  return [
    `image: ${u.key} ${u.from} -> ${u.to}${digests}`,
    '',
    `Image: ${u.image} -> ${u.target}`,
    ...(u.fromDigest ? [`From digest: ${u.fromDigest}`] : []),
    ...(u.toDigest ? [`To digest: ${u.toDigest}`] : []),
    `Policy: ${describePolicy(u.spec)} in ${u.file}`,
    ...(u.revision ? [`Decided at revision: ${u.revision}`] : []),
  ].join('\n');
}
