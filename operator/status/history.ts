/**
 * `berth history` (and the dashboard's revisions): the applied revisions of an instance, from the versions of its
 * status file on the status branch and the manifests branch's commits. Pure: versions and commits in, entries out.
 *
 * One entry is a run of consecutive status versions with the same applied revision (a revision applied again later,
 * say by `berth apply --revision`, is a new entry), or with the same rejected latest revision (Stalled: it was never
 * applied; the one before kept running). Its result is the Ready condition of its last version (preferring versions
 * where the revision was also the latest), so a revision that was replaced shows how it ended, the current one how it is.
 *
 * Duration is what the data can say honestly: from the revision's commit time (its committer timestamp; for an entry
 * that re-applies an older revision, from when the entry before it began, if later) to the first status commit showing
 * it applied with Ready True. So it includes the wait for the poll or webhook, the apply and the readiness probes, at
 * the status commits' one-second resolution; transitions (a new revision, Ready) are committed at once by the status
 * writer. It is null for a revision that never became Ready (or was rejected), and never negative (clocks differ).
 */
import type { CommitInfo } from '../source/source.ts';
import type { Condition, StatusDoc } from './report.ts';

/** One version of the status file, as far as history reads it. */
export interface StatusVersion {
  /** The status commit's time, ISO 8601. */
  at: string;
  doc: Pick<StatusDoc, 'revision' | 'conditions' | 'lastError'>;
}

export interface HistoryEntry {
  revision: string;
  /** The manifests commit (null when the repository no longer has it). */
  commit: { subject: string; author: string; committedAt: string } | null;
  /** False for a revision that was rejected (Stalled) and never applied. */
  applied: boolean;
  /** Ready's reason at the entry's last version (Converged, Progressing, ...), or Stalled's for a rejected revision. */
  result: string;
  ready: boolean;
  message: string;
  /** The first status commit of the entry. */
  since: string;
  /** The first status commit showing it applied and Ready True. */
  readyAt: string | null;
  durationMs: number | null;
  /** The revision applied now (the newest applied entry). */
  current: boolean;
}

/** A run of versions being grouped. */
interface Run {
  key: string;
  revision: string;
  applied: boolean;
  versions: StatusVersion[];
}

/** The entries of `versions` (any order), newest first, at most `limit`; `commits` by sha. */
export function historyOf(versions: readonly StatusVersion[], commits: ReadonlyMap<string, CommitInfo>, limit: number): HistoryEntry[] {
  const runs = runsOf([...versions].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)));
  const entries = runs.map((run, i) => {
    const again = runs.slice(0, i).some((r) => r.applied && r.revision === run.revision);
    return entryOf(run, commits.get(run.revision) ?? null, again ? runs[i - 1]!.versions[0]!.at : null);
  });
  const current = entries.map((e) => e.applied).lastIndexOf(true);
  if (current >= 0) entries[current] = { ...entries[current]!, current: true };
  return entries.reverse().slice(0, limit);
}

/** How many entries `versions` (newest first, as read) make up so far: history reads until it has one more than it shows. */
export function entryCount(versions: readonly StatusVersion[]): number {
  return runsOf([...versions].reverse()).length;
}

/** Groups versions (oldest first) into runs. */
function runsOf(versions: readonly StatusVersion[]): Run[] {
  const runs: Run[] = [];
  for (const v of versions) {
    const key = keyOf(v);
    if (!key) continue;
    const last = runs[runs.length - 1];
    if (last?.key === key.key) last.versions.push(v);
    else runs.push({ ...key, versions: [v] });
  }
  return runs;
}

/** The run a version belongs to: its rejected latest revision, else its applied one; none before anything was applied or rejected. */
function keyOf(v: StatusVersion): { key: string; revision: string; applied: boolean } | null {
  const { applied, latest } = v.doc.revision;
  const stalled = condition(v, 'Stalled')?.status === 'True';
  if (latest && latest !== applied && stalled && v.doc.lastError?.revision === latest) return { key: `rejected:${latest}`, revision: latest, applied: false };
  return applied ? { key: `applied:${applied}`, revision: applied, applied: true } : null;
}

/** `againSince`: for a revision applied again, when the entry before it began. */
function entryOf(run: Run, commit: CommitInfo | null, againSince: string | null): HistoryEntry {
  const settled = run.versions.filter((v) => v.doc.revision.latest === run.revision);
  const last = (settled.length ? settled : run.versions)[(settled.length ? settled : run.versions).length - 1]!;
  const ready = condition(last, 'Ready');
  const stalled = condition(last, 'Stalled');
  const readyAt = run.applied ? run.versions.find((v) => condition(v, 'Ready')?.status === 'True')?.at ?? null : null;
  const since = run.versions[0]!.at;
  const start = commit ? (againSince && againSince > commit.committedAt ? againSince : commit.committedAt) : null;
  const durationMs = readyAt && start ? Math.max(0, Date.parse(readyAt) - Date.parse(start)) : null;
  return {
    revision: run.revision,
    commit: commit ? { subject: commit.subject, author: commit.author.name, committedAt: commit.committedAt } : null,
    applied: run.applied,
    result: run.applied ? ready?.reason ?? 'Unknown' : stalled?.reason ?? 'Rejected',
    ready: run.applied && ready?.status === 'True',
    message: run.applied ? ready?.message ?? '' : oneLine(last.doc.lastError?.message ?? stalled?.message ?? ''),
    since, readyAt, durationMs, current: false,
  };
}

/** A multi-line error (every file:line:col of a rejected revision) on one line, at most 1000 characters. */
function oneLine(message: string): string {
  const line = message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  return line.length > 1000 ? `${line.slice(0, 999)}…` : line;
}

function condition(v: StatusVersion, type: Condition['type']): Condition | undefined {
  return v.doc.conditions?.find((c) => c.type === type);
}

/** The entries as a table (berth history's text output). */
export function renderHistoryText(entries: readonly HistoryEntry[]): string {
  if (!entries.length) return 'no applied revision in the status branch yet';
  const rows = entries.map((e) => [
    `${e.revision.slice(0, 7)}${e.current ? '*' : ''}`,
    e.commit?.committedAt.replace(/\.\d{3}Z$/, 'Z') ?? '-',
    e.durationMs === null ? '-' : formatMs(e.durationMs),
    e.applied ? e.result : `rejected: ${e.result}`,
    e.commit?.author ?? '-',
    e.commit?.subject ?? '(commit not in the repository)',
  ]);
  const header = ['REVISION', 'COMMITTED', 'DURATION', 'RESULT', 'AUTHOR', 'SUBJECT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line), '', '* applied now; DURATION: from the commit to the first status commit showing it applied and Ready'].join('\n');
}

/** 850ms, 12s, 3m04s, 2h05m. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
