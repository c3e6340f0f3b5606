/**
 * Release review: what a merge would change, shown before the merge. One round lists the review targets
 * (open pull requests on GitHub, branches matching --review-branches on plain git), plans each head against the live
 * engine like `berth plan`, and publishes: one marked comment + a `berth/plan` commit status per pull request, plan
 * files on the status branch per review branch. Publishing skips every call whose content did not change.
 *
 * Planning never runs repository content: manifests are parsed and validated, build contexts are only hashed
 * ("build at merge"), scripts are never executed, and nothing from a review head is ever applied.
 */
import { planRevision, type PlanRevisionDeps } from '../reconciler/plan-revision.ts';
import { renderJson } from '../diff/render.ts';
import { ValidationError, asBerthError, formatIssue, type ManifestIssue } from '../model/errors.ts';
import type { Plan } from '../model/plan.ts';
import type { DesiredState } from '../model/state.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Logger } from '../util/log.ts';
import { readStatusDoc } from '../status/read.ts';
import { matchReviewBranches, publishBranchPlans } from './branches.ts';
import { COMMENT_LIMIT, commentBody } from './comment.ts';
import type { GitHubClient, OpenPull, StatusState } from './github.ts';
import { renderPlanMarkdown, reviewSummary } from './markdown.ts';
import { previewJobs, type JobsPreview } from '../jobs/preview.ts';

/** One head to plan: a pull request or a review branch. */
export interface ReviewTarget {
  /** `pull/7` or `branch/review/a`. */
  key: string;
  /** The git ref to fetch: `refs/pull/7/head` or `refs/heads/review/a`. */
  ref: string;
  /** The head commit as announced (GitHub API or ls-refs). */
  sha: string;
  pull?: OpenPull;
  branch?: string;
}

/** The plan of one head, rendered. */
export interface PlannedReview {
  target: ReviewTarget;
  /** The commit planned. */
  revision: string;
  plan: Plan | null;
  /** What its Jobs and CronJobs do at merge (jobs/preview.ts); absent without any. */
  jobs?: JobsPreview;
  issues: ManifestIssue[];
  error?: { code: string; message: string };
  markdown: string;
  /** Valid and planned. */
  ok: boolean;
  /** One line for a commit status: the summary, or the first error. */
  description: string;
}

export type PlannerDeps = PlanRevisionDeps & {
  /** The clock of the CronJobs' next fire times (default Date.now), anchored at the start of its hour (PREVIEW_ANCHOR_MS). */
  now?: () => number;
};

/**
 * The comment lists the next fire times after the start of the current hour, not after the instant of the round: the
 * comment then changes (one write) at most hourly for them, and an unchanged round stays no write at all.
 */
export const PREVIEW_ANCHOR_MS = 3_600_000;

export interface ReviewerOptions extends PlannerDeps {
  log: Logger;
  /** The tracked branch: pull requests against it are reviewed. */
  baseBranch: string;
  github?: GitHubClient;
  /** Glob patterns of plain-git review branches (`review/*`). */
  reviewBranches?: string[];
}

export interface RoundReport {
  planned: PlannedReview[];
  /** Targets that failed to plan or publish (logged; the next round retries). */
  failed: { key: string; error: string }[];
  /** GitHub API calls this round made (listing included). */
  githubCalls: number;
  ms: number;
}

/** Plans `target` against the live engine and the applied revision's state (from the status branch). */
export async function planTarget(deps: PlannerDeps, target: ReviewTarget, base: { revision: string | null; status: StatusDoc | null }): Promise<PlannedReview> {
  const { instance } = deps;
  const revision = await deps.source.resolve(target.ref);
  const fork = target.pull?.fromFork ? '\n\n_From a fork: planned only. Nothing from this branch is built, run or applied._' : '';
  const render = (input: { plan: Plan | null; issues?: ManifestIssue[]; error?: { code: string; message: string }; warnings?: DesiredState['warnings'] }) =>
    renderPlanMarkdown({ instance, revision, base: base.revision ? { revision: base.revision } : undefined, ...input }) + fork;
  let desired: DesiredState;
  try {
    desired = await deps.load(await deps.source.snapshot(revision));
  } catch (err) {
    if (err instanceof ValidationError) {
      const first = err.issues[0];
      return {
        target, revision, plan: null, issues: err.issues, ok: false, markdown: render({ plan: null, issues: err.issues }),
        description: `${err.issues.length} error(s): ${first ? formatIssue(first) : err.message}`,
      };
    }
    const e = asBerthError(err);
    return { target, revision, plan: null, issues: [], error: { code: e.code, message: e.message }, ok: false, markdown: render({ plan: null, error: e }), description: `${e.code}: ${e.message.split('\n')[0]}` };
  }
  const { plan } = await planRevision(deps, desired, base.status);
  const clock = deps.now?.() ?? Date.now();
  const jobs = await jobsPreviewOf(deps, desired, plan, base.status, Math.floor(clock / PREVIEW_ANCHOR_MS) * PREVIEW_ANCHOR_MS);
  return { target, revision, plan, ...(jobs ? { jobs } : {}), issues: [], ok: true, markdown: render({ plan, warnings: desired.warnings, ...(jobs ? { jobs } : {}) }), description: reviewSummary(plan) };
}

/**
 * What the revision's Jobs and CronJobs do at merge (jobs/preview.ts), next times from `now`: against the status
 * records, and the applied revision's own Jobs and CronJobs (old schedules and zones) when it is another one and loads.
 */
export async function jobsPreviewOf(deps: Pick<PlannerDeps, 'source' | 'load'>, desired: DesiredState, plan: Plan, status: StatusDoc | null, now = Date.now()): Promise<JobsPreview | undefined> {
  if (!desired.jobs?.length && !desired.cronJobs?.length) return undefined;
  const applied = status?.revision.applied;
  const base = applied && applied !== desired.revision ? await deps.source.snapshot(applied).then((snap) => deps.load(snap)).catch(() => null) : null;
  const records = { ...(status?.jobs ? { jobs: status.jobs } : {}), ...(status?.cronJobs ? { cronJobs: status.cronJobs } : {}) };
  return previewJobs({ plan, desired, records, base, now });
}

export class Reviewer {
  /** `sha\0context` -> `state\0description` last set, so an unchanged status is not posted again. */
  private readonly statuses = new Map<string, string>();

  constructor(private readonly opts: ReviewerOptions) {}

  /** One round over every current target. Never throws: failures are logged and reported. */
  async round(): Promise<RoundReport> {
    const started = performance.now();
    const report: RoundReport = { planned: [], failed: [], githubCalls: 0, ms: 0 };
    const fail = (err: unknown): void => {
      const e = asBerthError(err);
      report.failed.push({ key: 'round', error: `${e.code}: ${e.message}` });
      this.opts.log.warn('review round failed; retrying on the next one', { code: e.code, error: e.message });
    };
    try {
      const base = await this.base();
      // A GitHub outage must not hold back the plain-git review branches.
      const pulls = this.opts.github ? await this.listPulls(report).catch((err: unknown) => { fail(err); return []; }) : [];
      for (const pull of pulls) await this.reviewPull(pull, base, report);
      if (this.opts.reviewBranches?.length) await this.reviewBranches(base, report);
    } catch (err) {
      fail(err);
    }
    report.ms = performance.now() - started;
    return report;
  }

  /** Plans and publishes one pull request (also used by the pull_request webhook, which names it). */
  async reviewPull(pull: OpenPull, base: { revision: string | null; status: StatusDoc | null }, report: RoundReport): Promise<void> {
    const target: ReviewTarget = { key: `pull/${pull.number}`, ref: `refs/pull/${pull.number}/head`, sha: pull.headSha, pull };
    try {
      const planned = await planTarget(this.opts, target, base);
      report.planned.push(planned);
      const gh = this.opts.github!;
      const upsert = await gh.upsertPlanComment(pull.number, this.opts.instance, commentBody(this.opts.instance, planned.markdown, COMMENT_LIMIT, { revision: planned.revision }));
      report.githubCalls += upsert.calls;
      const state: StatusState = planned.ok ? 'success' : 'failure';
      if (await this.setStatus(planned.revision, state, planned.description)) report.githubCalls++;
      this.opts.log.info('pull request planned', { pull: pull.number, revision: planned.revision.slice(0, 12), ok: planned.ok, comment: upsert.action, summary: planned.description });
    } catch (err) {
      const e = asBerthError(err);
      report.failed.push({ key: target.key, error: `${e.code}: ${e.message}` });
      this.opts.log.warn('pull request review failed; retrying on the next round', { pull: pull.number, code: e.code, error: e.message });
    }
  }

  /** The applied revision and its status document, from the status branch. */
  async base(): Promise<{ revision: string | null; status: StatusDoc | null }> {
    const status = await readStatusDoc(this.opts.source, this.opts.instance).catch(() => null);
    return { revision: status?.revision?.applied ?? null, status };
  }

  private async listPulls(report: RoundReport): Promise<OpenPull[]> {
    report.githubCalls++;
    return this.opts.github!.listOpenPulls(this.opts.baseBranch);
  }

  private async setStatus(sha: string, state: StatusState, description: string): Promise<boolean> {
    const key = `${sha}\0berth/plan`;
    const value = `${state}\0${description}`;
    if (this.statuses.get(key) === value) return false;
    await this.opts.github!.setStatus(sha, 'berth/plan', state, description);
    this.statuses.set(key, value);
    return true;
  }

  private async reviewBranches(base: { revision: string | null; status: StatusDoc | null }, report: RoundReport): Promise<void> {
    const { source, instance, log } = this.opts;
    const branches = matchReviewBranches(await source.listBranches(), this.opts.reviewBranches ?? [], this.opts.baseBranch);
    const plans: { branch: string; sha: string; markdown: string; json: unknown }[] = [];
    const present: string[] = [];
    for (const b of branches) {
      const target: ReviewTarget = { key: `branch/${b.name}`, ref: `refs/heads/${b.name}`, sha: b.sha, branch: b.name };
      present.push(b.name);
      try {
        const planned = await planTarget(this.opts, target, base);
        report.planned.push(planned);
        plans.push({ branch: b.name, sha: planned.revision, markdown: planned.markdown, json: planJson(planned) });
      } catch (err) {
        const e = asBerthError(err);
        report.failed.push({ key: target.key, error: `${e.code}: ${e.message}` });
        log.warn('review branch failed to plan; keeping its previous plan', { branch: b.name, code: e.code, error: e.message });
      }
    }
    const commit = await publishBranchPlans(source, instance, plans, present);
    if (commit) log.info('review plans committed', { branches: plans.map((p) => p.branch).join(','), commit: commit.slice(0, 12) });
  }
}

/** The `.json` plan file of a review branch: the plan as `berth plan --json` prints it, or the errors. */
function planJson(p: PlannedReview): unknown {
  const errors: { file: string; line: number; col: number; field: string; code: string; message: string }[] =
    p.issues.map((i) => ({ file: i.file, line: i.line, col: i.col, field: i.field, code: i.code, message: i.message }));
  if (p.error) errors.push({ file: '', line: 0, col: 0, field: '', code: p.error.code, message: p.error.message });
  return {
    revision: p.revision,
    ok: p.ok,
    summary: p.description,
    plan: p.plan ? JSON.parse(renderJson(p.plan, p.jobs)) as unknown : null,
    errors,
  };
}
