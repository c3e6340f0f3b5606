/**
 * `berth rollback <revision> [--repo R] [--branch main] [--path .] [--pr [--github-repo owner/name]]`: the GitOps
 * rollback. Nothing is changed on the engines: a new commit on the tracked branch (pushed, never forced) makes the
 * manifests directory (--path) equal to that revision's, with the message "Revert manifests to <rev>: <subject>", and
 * berth applies it like any other commit. With --pr the commit goes to a branch berth/rollback-<rev> instead and, with
 * --github-repo and a token, a pull request into the tracked branch is opened (review/github.ts's openPull); without
 * --github-repo the branch is pushed and the command says where to open the pull request.
 * Exit 0 done (or nothing to do: the manifests already equal that revision's), 1 refused (unknown revision, not in
 * the branch's history, no manifests directory at it) or failed.
 */
import { BerthError } from '../model/errors.ts';
import { createGitHubClient } from '../review/github.ts';
import type { Flags } from '../settings/flags.ts';
import { settingsFor, type RollbackSettings } from '../settings/settings.ts';
import { openGitSource } from '../source/git-source.ts';
import type { CommitInfo } from '../source/source.ts';
import type { Io } from './shared.ts';

export async function rollback(flags: Flags, positionals: string[], io: Io): Promise<number> {
  const [ref, ...more] = positionals;
  if (!ref || more.length) {
    io.err('berth: usage: berth rollback <revision> --repo <url|path> [--branch main] [--path .] [--pr] (a revision of berth history)');
    return 1;
  }
  const s = settingsFor('rollback', flags);
  const source = await openGitSource({ repo: s.repo, branch: s.branch, cacheDir: s.stateDir });
  const head = await source.head();
  const target = await source.resolveRevision(ref);
  const short = target.slice(0, 7);
  if (!(await source.onTrackedBranch(target))) throw new BerthError('E_GIT', `revision ${short} is not in the history of branch '${s.branch}' of ${source.description}: rollback restores a revision the branch had`, { terminal: true });
  const info = await source.commitInfo(target);
  const [now, then] = await Promise.all([source.snapshot(head).then((x) => x.treeId(s.path)), source.snapshot(target).then((x) => x.treeId(s.path))]);
  if (then === null) throw new BerthError('E_PATH_MISSING', `revision ${short} has no directory ${s.path} (--path): nothing to restore`, { terminal: true });
  if (target === head || now === then) {
    io.out(`nothing to do: ${target === head ? `${short} is the head of ${s.branch}` : `the manifests (${s.path}) of ${s.branch} already equal those of ${short}`}`);
    return 0;
  }
  const message = rollbackMessage(info, s);
  const opts = s.author ? { author: s.author } : {};
  if (!s.pr) {
    const commit = await source.restoreTree(s.branch, target, s.path, message, opts);
    if (!commit) io.out(`nothing to do: the manifests (${s.path}) of ${s.branch} already equal those of ${short}`);
    else io.out(`${s.branch}: ${commit.slice(0, 7)} ${message.split('\n')[0]} (pushed to ${source.description}; berth applies it on its next pass)`);
    return 0;
  }
  const branch = `berth/rollback-${short}`;
  const commit = await source.restoreTree(branch, target, s.path, message, { ...opts, createFrom: head });
  io.out(commit ? `${branch}: ${commit.slice(0, 7)} ${message.split('\n')[0]} (pushed to ${source.description})` : `${branch}: already holds the manifests of ${short}`);
  if (!s.github) {
    const compare = compareUrl(source.description, s.branch, branch);
    io.out(`open a pull request from ${branch} into ${s.branch}${compare ? `: ${compare}` : ''} (or pass --github-repo owner/name with a token to have berth open it)`);
    return 0;
  }
  const github = createGitHubClient({ repo: s.github.repo, token: s.github.token, apiUrl: s.github.apiUrl });
  const body = `${message.split('\n').slice(2).join('\n')}\n\nMerging this pull request rolls the manifests back; berth applies the merge like any other commit.`;
  const pull = await github.openPull(branch, s.branch, message.split('\n')[0]!, body);
  io.out(`pull request #${pull.number} ${pull.action === 'created' ? 'opened' : 'exists already'} in ${s.github.repo}: ${branch} -> ${s.branch}`);
  return 0;
}

/** "Revert manifests to <rev>: <subject>", then what was restored from where. */
export function rollbackMessage(info: CommitInfo, s: Pick<RollbackSettings, 'branch' | 'path'>): string {
  const what = s.path === '.' || s.path === '' ? 'the whole tree' : `directory ${s.path}`;
  return [
    `Revert manifests to ${info.sha.slice(0, 7)}: ${info.subject}`,
    '',
    `Restores ${what} of ${info.sha} (${info.author.name}, ${info.committedAt}) on ${s.branch}.`,
    'Made by berth rollback: the commits in between stay in the history.',
  ].join('\n');
}

/** GitHub's compare page of a github.com repository URL (null for any other host). */
export function compareUrl(repo: string, base: string, head: string): string | null {
  const m = /^https?:\/\/(?:[^@/]*@)?github\.com\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(repo);
  return m ? `https://github.com/${m[1]}/${m[2]}/compare/${base}...${head}?expand=1` : null;
}
