/**
 * `berth history [--repo R | --server S] [--instance I] [--limit 20] [-o text|json|yaml]`: the applied revisions of an
 * instance with result and duration (status/history.ts), read from git: the versions of `<instance>/status.yaml` on the
 * status branch and the manifests commits they name. With --server (and no --repo) the repository and branch are the
 * ones the running berth reports in /v1/status: the record is the status branch either way.
 */
import { parse } from 'yaml';
import type { Flags } from '../settings/flags.ts';
import { BerthError, asBerthError } from '../model/errors.ts';
import { STATUS_BRANCH } from '../model/keys.ts';
import { settingsFor, type HistorySettings } from '../settings/settings.ts';
import { openGitSource } from '../source/git-source.ts';
import type { CommitInfo, GitHistory, GitSource } from '../source/source.ts';
import { entryCount, historyOf, renderHistoryText, type HistoryEntry, type StatusVersion } from '../status/history.ts';
import type { StatusDoc } from '../status/report.ts';
import { statusPath } from '../status/writer.ts';
import { apiJson } from './api-client.ts';
import { printValue } from './output.ts';
import type { Io } from './shared.ts';
import { EXIT_UNREACHABLE } from './status.ts';

/** Exit 0 with the entries (none is no error), EXIT_UNREACHABLE when the repository, its status branch or the server cannot be read. */
export async function history(flags: Flags, io: Io): Promise<number> {
  const s = settingsFor('history', flags);
  let entries: HistoryEntry[];
  try {
    entries = await readHistory(s);
  } catch (err) {
    io.err(`berth: ${asBerthError(err, 'E_GIT').message.split('\n')[0]}`);
    return EXIT_UNREACHABLE;
  }
  printValue(io, s.output, { instance: s.instance, revisions: entries }, () => renderHistoryText(entries));
  return 0;
}

async function readHistory(s: HistorySettings): Promise<HistoryEntry[]> {
  const repo = s.repo ?? (await apiJson<StatusDoc>(s.client, 'GET', 'v1/status')).source.repo;
  // Opened on the status branch: it must exist, and the tracked branch is read from the status itself.
  const source = await openGitSource({ repo, branch: STATUS_BRANCH, cacheDir: s.stateDir }).catch((e: unknown) => {
    const err = asBerthError(e, 'E_GIT');
    throw new BerthError(err.code, /not found/.test(err.message) ? `no status branch ${STATUS_BRANCH} in ${repo.replace(/\/\/[^@/]*@/, '//')}: has berth run or apply written to it?` : err.message);
  });
  return historyFrom(source, s.instance, s.limit);
}

/**
 * The newest `limit` history entries of `instance` from `source` (the CLI's own clone of the status branch, or the
 * running operator's source for GET /v1/history): bounded, at most 1000 + 100 x limit status commits walked.
 */
export async function historyFrom(source: GitSource & GitHistory, instance: string, limit: number): Promise<HistoryEntry[]> {
  const versions: StatusVersion[] = [];
  let branch: string | undefined;
  const files = await source.statusVersions(statusPath(instance), {
    maxCommits: Math.min(20_000, 1_000 + limit * 100),
    enough: (read) => {
      for (const f of read.slice(versions.length)) {
        const doc = parseDoc(f.content);
        branch ??= doc.source?.branch;
        versions.push({ at: f.committedAt, doc: { revision: doc.revision ?? { applied: null, latest: null }, conditions: doc.conditions ?? [], lastError: doc.lastError ?? null } });
      }
      return entryCount(versions) > limit;
    },
  });
  if (!files.length) throw new BerthError('E_GIT', `no status of instance "${instance}" on branch ${STATUS_BRANCH} of ${source.description}`);
  if (branch) await source.resolve(branch).catch(() => null); // fetches the manifests' history in one go
  const entries = historyOf(versions, new Map(), limit);
  const commits = new Map<string, CommitInfo>();
  for (const e of entries) {
    const info = await source.commitInfo(e.revision).catch(() => null);
    if (info) commits.set(e.revision, info);
  }
  return historyOf(versions, commits, limit);
}

/** A status file's document; an unreadable one counts as empty. */
function parseDoc(content: string): Partial<StatusDoc> {
  try {
    const doc = parse(content) as unknown;
    return doc && typeof doc === 'object' ? (doc as Partial<StatusDoc>) : {};
  } catch {
    return {};
  }
}
