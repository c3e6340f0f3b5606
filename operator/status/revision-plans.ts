/**
 * The plan each revision was applied with, kept on the status branch as `<instance>/revisions/<sha>.md`: the markdown
 * of the pull-request comment (review/markdown.ts, within its size limit), so `GET /v1/plans/revision/<sha>` and the
 * dashboard's Revisions page show what a revision changed when it was applied, not what it would change today.
 *
 * Written once per revision in force (the reconciler's 'revision-planned' event), in its own status commit, after the
 * status; the newest KEEP_PLANS are kept and older ones deleted in the same commit. Writes are queued one at a time and
 * never fail a pass: a failure is logged and the revision's plan is simply absent.
 */
import type { GitSource } from '../source/source.ts';
import type { Logger } from '../util/log.ts';
import { COMMENT_LIMIT, commentBody } from '../review/comment.ts';

/** How many revisions keep their plan on the status branch. */
export const KEEP_PLANS = 50;

const APPLIED_LINE = /^<!-- berth:applied at=(\S+) -->$/;

export function revisionPlansDir(instance: string): string {
  return `${instance}/revisions`;
}

export function revisionPlanPath(instance: string, revision: string): string {
  return `${revisionPlansDir(instance)}/${revision}.md`;
}

/** A full commit id (40 or 64 hex digits): the only names the route reads. */
export function isRevisionId(s: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(s);
}

export interface RevisionPlansDeps {
  source: Pick<GitSource, 'readStatus' | 'readStatusDir' | 'writeStatus'>;
  instance: string;
  log: Logger;
  /** Last defence: no registered secret leaves in a plan (the markdown names images, reasons, file paths). */
  redact?: (text: string) => string;
  now?: () => Date;
  keep?: number;
}

export class RevisionPlans {
  /** The kept plans, oldest first (read from the branch before the first write). */
  private kept: { revision: string; at: string }[] | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: RevisionPlansDeps) {}

  /** Queues the write of `revision`'s plan markdown; resolves once written (or failed, logged). */
  record(revision: string, markdown: string): Promise<void> {
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    const redacted = this.deps.redact ? this.deps.redact(markdown) : markdown;
    const text = `<!-- berth:applied at=${at} -->\n${commentBody(this.deps.instance, redacted, COMMENT_LIMIT, { revision })}\n`;
    const next = this.queue.then(() => this.write(revision, at, text)).catch((err: unknown) => {
      this.deps.log.warn('could not record the plan of the revision', { revision: revision.slice(0, 12), error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    });
    this.queue = next;
    return next;
  }

  /** The recorded plan markdown of `revision` (marker lines removed), or null. */
  async read(revision: string): Promise<{ markdown: string; appliedAt: string | null } | null> {
    if (!isRevisionId(revision)) return null;
    const text = await this.deps.source.readStatus(revisionPlanPath(this.deps.instance, revision));
    return text === null ? null : parsePlanFile(text);
  }

  /** Resolves when every queued write is done. */
  idle(): Promise<void> {
    return this.queue;
  }

  private async write(revision: string, at: string, text: string): Promise<void> {
    const kept = (this.kept ??= await this.readKept()).filter((k) => k.revision !== revision);
    kept.push({ revision, at });
    const drop = kept.splice(0, Math.max(0, kept.length - (this.deps.keep ?? KEEP_PLANS)));
    const files: Record<string, string | null> = { [revisionPlanPath(this.deps.instance, revision)]: text };
    for (const d of drop) files[revisionPlanPath(this.deps.instance, d.revision)] = null;
    await this.deps.source.writeStatus(files, `berth: plan of revision ${revision.slice(0, 12)} (${this.deps.instance})`);
    this.kept = kept;
  }

  private async readKept(): Promise<{ revision: string; at: string }[]> {
    const files = await this.deps.source.readStatusDir(revisionPlansDir(this.deps.instance));
    const out: { revision: string; at: string }[] = [];
    for (const [path, text] of Object.entries(files)) {
      const revision = path.slice(path.lastIndexOf('/') + 1).replace(/\.md$/, '');
      if (isRevisionId(revision)) out.push({ revision, at: parsePlanFile(text).appliedAt ?? '' });
    }
    return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }
}

/** A plan file's markdown without its two marker lines, and when it was applied. */
export function parsePlanFile(text: string): { markdown: string; appliedAt: string | null } {
  const lines = text.split('\n');
  const at = APPLIED_LINE.exec(lines[0] ?? '')?.[1] ?? null;
  const body = lines.slice(at ? 1 : 0);
  if (body[0]?.startsWith('<!-- berth:plan ')) body.shift();
  return { markdown: body.join('\n').trimEnd(), appliedAt: at };
}
