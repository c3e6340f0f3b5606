/**
 * The plans the dashboard's Revisions page shows, in the pull-request comment's markdown (review/markdown.ts):
 * - each applied revision's plan as it was applied (recorded on the status branch, status/revision-plans.ts);
 * - the branch head's plan while it is not applied yet (waiting, or rejected: then its errors with file:line), planned
 *   on request like `berth plan` (one planning at a time; the answer reused while head and applied revision stay);
 * - the last review round's plans: pull requests and review branches.
 */
import type { ReconcilerEvent } from '../reconciler/types.ts';
import type { StatusDoc } from '../status/report.ts';
import type { RevisionPlans } from '../status/revision-plans.ts';
import { jobsPreviewOf, planTarget, type PlannerDeps, type PlannedReview, type RoundReport } from './reviewer.ts';
import { renderPlanMarkdown } from './markdown.ts';

/** One review plan as GET /v1/plans/reviews lists it. */
export interface ReviewPlanView {
  /** `pull/7` or `branch/review/a`. */
  key: string;
  title: string;
  /** The pull request on GitHub (absent for a review branch). */
  url?: string;
  revision: string;
  ok: boolean;
  summary: string;
  markdown: string;
  plannedAt: string;
}

export interface HeadPlan {
  /** The branch head (latest revision), null before the first fetch. */
  revision: string | null;
  /** True when the head is the revision in force: its plan is the recorded one. */
  applied: boolean;
  markdown: string | null;
  ok: boolean;
}

/** Review plans kept at most (one round's; the rest are dropped, newest planned kept). */
const MAX_REVIEWS = 200;
/** How long a head plan is reused while neither the head nor the applied revision moved. */
const HEAD_FRESH_MS = 10_000;

export interface DashboardPlansDeps {
  planner: PlannerDeps;
  plans: RevisionPlans;
  status: () => StatusDoc | null;
  /** `owner/name` of the GitHub repository, for links to pull requests. */
  githubRepo?: string;
  /** Removes registered secrets from what is served (the markdown quotes reasons, messages and paths). */
  redact?: (text: string) => string;
  now?: () => number;
}

export class DashboardPlans {
  private reviewed: ReviewPlanView[] = [];
  private recording: Promise<void> = Promise.resolve();
  private head: { key: string; at: number; p: Promise<HeadPlan> } | null = null;

  constructor(private readonly deps: DashboardPlansDeps) {}

  /** Reconciler events: a newly planned revision's markdown goes to the status branch. */
  onReconcilerEvent(e: ReconcilerEvent): void {
    if (e.kind !== 'revision-planned') return;
    this.recording = this.recording.then(() => this.recordPlan(e)).catch(() => undefined);
  }

  /** A review round finished: its plans replace the previous round's. */
  onRound(r: RoundReport): void {
    const at = new Date(this.now()).toISOString();
    this.reviewed = r.planned.slice(-MAX_REVIEWS).map((p) => this.view(p, at));
  }

  /** The plan `revision` was applied with, as recorded on the status branch. */
  recorded(revision: string): Promise<{ markdown: string; appliedAt: string | null } | null> {
    return this.deps.plans.read(revision);
  }

  /** Resolves when the plans being recorded are written. */
  async idle(): Promise<void> {
    await this.recording;
    await this.deps.plans.idle();
  }

  reviews(): ReviewPlanView[] {
    return this.reviewed;
  }

  /** The branch head's plan: planned when it is not the applied revision, the recorded plan otherwise. */
  headPlan(): Promise<HeadPlan> {
    const status = this.deps.status();
    const latest = status?.revision.latest ?? null;
    const applied = status?.revision.applied ?? null;
    const key = `${latest}\0${applied}`;
    if (this.head && this.head.key === key && this.now() - this.head.at < HEAD_FRESH_MS) return this.head.p;
    const p = this.planHead(latest, applied, status);
    this.head = { key, at: this.now(), p };
    p.catch(() => { if (this.head?.p === p) this.head = null; });
    return p;
  }

  private async planHead(latest: string | null, applied: string | null, status: StatusDoc | null): Promise<HeadPlan> {
    if (!latest) return { revision: null, applied: false, markdown: null, ok: false };
    if (latest === applied) {
      const recorded = await this.deps.plans.read(latest);
      return { revision: latest, applied: true, markdown: recorded?.markdown ?? null, ok: true };
    }
    const planned = await planTarget(this.deps.planner, { key: 'head', ref: latest, sha: latest }, { revision: applied, status });
    return { revision: planned.revision, applied: false, markdown: this.redact(planned.markdown), ok: planned.ok };
  }

  private async recordPlan(e: Extract<ReconcilerEvent, { kind: 'revision-planned' }>): Promise<void> {
    const status = this.deps.status();
    const jobs = await jobsPreviewOf(this.deps.planner, e.desired, e.plan, status, this.now()).catch(() => undefined);
    const markdown = renderPlanMarkdown({
      instance: this.deps.planner.instance, revision: e.revision, ...(e.base ? { base: { revision: e.base } } : {}),
      plan: e.plan, warnings: e.desired.warnings, ...(jobs ? { jobs } : {}),
    });
    await this.deps.plans.record(e.revision, markdown);
  }

  private view(p: PlannedReview, at: string): ReviewPlanView {
    const pull = p.target.pull;
    const url = pull && this.deps.githubRepo ? `https://github.com/${this.deps.githubRepo}/pull/${pull.number}` : undefined;
    const title = pull ? `pull request #${pull.number} (${pull.headRef})` : `review branch ${p.target.branch ?? p.target.key}`;
    return { key: p.target.key, title, ...(url ? { url } : {}), revision: p.revision, ok: p.ok, summary: this.redact(p.description), markdown: this.redact(p.markdown), plannedAt: at };
  }

  private redact(text: string): string {
    return this.deps.redact ? this.deps.redact(text) : text;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}
