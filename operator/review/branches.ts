/**
 * Plain-git review branches (`--review-branches 'review/*'`): which branches are reviewed, and their plans
 * published on the status branch as `<instance>/plans/<branch>.md` and `.json`, one commit per change, none when
 * nothing changed. A branch's files go when the branch is deleted or stops matching.
 */
import picomatch from 'picomatch';
import { BerthError } from '../model/errors.ts';
import { STATUS_BRANCH } from '../model/keys.ts';
import type { Branch, GitSource } from '../source/source.ts';

/** The plan of one review branch head, rendered. */
export interface BranchPlan {
  branch: string;
  /** The commit planned. */
  sha: string;
  markdown: string;
  /** Written pretty-printed with sorted keys, so an equal plan gives equal text. */
  json: unknown;
}

/** The two status-branch files of a review branch's plan. */
export interface PlanFiles {
  md: string;
  json: string;
}

/**
 * A predicate over branch names for `patterns`, git-style globs: `*` stays within one path segment (`review/*` matches
 * `review/a`, not `review/a/b`), `**` crosses them. A pattern may name the full ref (`refs/heads/review/*`); one starting
 * with `!` excludes what it matches (`!review/wip-*`). Throws BerthError E_CONFIG naming an invalid pattern.
 */
export function reviewBranchMatcher(patterns: readonly string[]): (name: string) => boolean {
  const include: Array<(name: string) => boolean> = [];
  const exclude: Array<(name: string) => boolean> = [];
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const glob = (negated ? pattern.slice(1) : pattern).trim().replace(/^refs\/heads\//, '');
    (negated ? exclude : include).push(compile(glob, pattern));
  }
  return (name) => include.some((m) => m(name)) && !exclude.some((m) => m(name));
}

function compile(glob: string, pattern: string): (name: string) => boolean {
  if (!glob) throw new BerthError('E_CONFIG', `--review-branches: empty pattern '${pattern}'`);
  try {
    return picomatch(glob, { strictBrackets: true, dot: true });
  } catch (err) {
    throw new BerthError('E_CONFIG', `--review-branches: invalid pattern '${pattern}': ${(err as Error).message}`, { cause: err });
  }
}

/** The branches matching `patterns`, in their order; never the tracked branch nor the status branch. */
export function matchReviewBranches(branches: readonly Branch[], patterns: readonly string[], tracked: string): Branch[] {
  const matches = reviewBranchMatcher(patterns);
  return branches.filter((b) => b.name !== tracked && b.name !== STATUS_BRANCH && matches(b.name));
}

/** Where the plan of `branch` lives on the status branch; slashes in the name become directories. */
export function planFiles(instance: string, branch: string): PlanFiles {
  const base = `${plansDir(instance)}/${branch}`;
  return { md: `${base}.md`, json: `${base}.json` };
}

function plansDir(instance: string): string {
  return `${instance}/plans`;
}

/** JSON with object keys sorted recursively, two-space indented, ending in a newline. */
export function stableJson(value: unknown): string {
  const sorted = (_key: string, v: unknown): unknown => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const obj = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
  };
  return `${JSON.stringify(value, sorted, 2)}\n`;
}

/**
 * Writes the `.md` and `.json` of every plan and deletes the plan files of branches no longer in `present` (the review
 * branches that still exist and match), in one status commit; plans of branches in `present` without a new plan are
 * kept. Only files whose content differs are written, so an unchanged round makes no commit (returns null); otherwise
 * returns the commit id. Other instances' files are never touched.
 */
export async function publishBranchPlans(source: GitSource, instance: string, plans: readonly BranchPlan[], present: readonly string[]): Promise<string | null> {
  const current = await source.readStatusDir(plansDir(instance));
  const files: Record<string, string | null> = {};
  const updated: string[] = [];
  for (const plan of plans) {
    const paths = planFiles(instance, plan.branch);
    const md = plan.markdown.endsWith('\n') ? plan.markdown : `${plan.markdown}\n`;
    const json = stableJson(plan.json);
    if (current[paths.md] === md && current[paths.json] === json) continue;
    files[paths.md] = md;
    files[paths.json] = json;
    updated.push(`${plan.branch} (${plan.sha.slice(0, 7)})`);
  }
  const keep = new Set([...present, ...plans.map((p) => p.branch)]);
  const removed = new Set<string>();
  for (const path of Object.keys(current)) {
    const branch = planBranch(instance, path);
    if (branch === null || keep.has(branch)) continue;
    files[path] = null;
    removed.add(branch);
  }
  if (Object.keys(files).length === 0) return null;
  return source.writeStatus(files, commitMessage(updated, [...removed]));
}

/** The branch a plan file belongs to (`<instance>/plans/review/a.md` -> `review/a`), or null for any other file. */
function planBranch(instance: string, path: string): string | null {
  const prefix = `${plansDir(instance)}/`;
  if (!path.startsWith(prefix)) return null;
  const match = /^(.+)\.(md|json)$/.exec(path.slice(prefix.length));
  return match?.[1] ?? null;
}

/** `berth: plans for review/a (1a2b3c4), review/b removed`. */
function commitMessage(updated: readonly string[], removed: readonly string[]): string {
  const parts = [...(updated.length ? [`plans for ${updated.join(', ')}`] : []), ...removed.map((b) => `${b} removed`)];
  return `berth: ${updated.length ? '' : 'plans: '}${parts.join(', ')}`;
}
