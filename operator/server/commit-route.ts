/**
 * GET /v1/commits/<sha>: one manifests commit as the dashboard's overview shows the applied and latest revisions (its
 * subject, author and time). Needs `read status`. Commits never change: answers are kept (the newest 256 shas), so
 * five dashboards after each pass cost one lookup per new revision. Only full commit ids; 404 when the repository has none.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { send } from '../registry/http-util.ts';
import type { CommitInfo } from '../source/source.ts';
import { isRevisionId } from '../status/revision-plans.ts';

export const COMMITS_PREFIX = '/v1/commits/';
const KEEP = 256;

export function commitRoute(lookup: (sha: string) => Promise<CommitInfo>): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  const known = new Map<string, Promise<CommitInfo>>();
  return async (req, res, path) => {
    if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
    const sha = path.slice(COMMITS_PREFIX.length);
    if (!isRevisionId(sha)) return send(res, 400, { error: 'a full commit id (40 hex digits)' });
    let p = known.get(sha);
    if (!p) {
      p = lookup(sha);
      known.set(sha, p);
      p.catch(() => known.delete(sha)); // a failure is asked again next time
      if (known.size > KEEP) known.delete(known.keys().next().value!);
    }
    try {
      const c = await p;
      send(res, 200, { sha: c.sha, subject: c.subject, author: c.author.name, committedAt: c.committedAt });
    } catch (err) {
      send(res, 404, { error: `no commit ${sha.slice(0, 12)}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
    }
  };
}
