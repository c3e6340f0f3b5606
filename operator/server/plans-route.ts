/**
 * The plans of the dashboard's Revisions page (review/dashboard-plans.ts), each in the pull-request comment's markdown:
 *   GET /v1/plans/revision/<sha>  the plan revision <sha> was applied with (404 when none was recorded)
 *   GET /v1/plans/head            the branch head's plan: planned against the engines while it is not applied yet
 *   GET /v1/plans/reviews         the last review round's plans (pull requests and review branches)
 * Needs `read status`. The head plan is one planning at a time, reused while head and applied revision stay.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { send } from '../registry/http-util.ts';
import type { HeadPlan, ReviewPlanView } from '../review/dashboard-plans.ts';
import { isRevisionId } from '../status/revision-plans.ts';

export interface PlansDeps {
  recorded(revision: string): Promise<{ markdown: string; appliedAt: string | null } | null>;
  head(): Promise<HeadPlan>;
  reviews(): ReviewPlanView[];
}

export const PLANS_PREFIX = '/v1/plans/';

export function plansRoute(deps: PlansDeps): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  return async (req, res, path) => {
    if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
    const rest = path.slice(PLANS_PREFIX.length);
    try {
      if (rest === 'head') return send(res, 200, await deps.head());
      if (rest === 'reviews') return send(res, 200, { reviews: deps.reviews() });
      if (rest.startsWith('revision/')) {
        const revision = rest.slice('revision/'.length);
        if (!isRevisionId(revision)) return send(res, 400, { error: 'revision: a full commit id (40 hex digits)' });
        const found = await deps.recorded(revision);
        if (!found) return send(res, 404, { error: `no plan recorded for revision ${revision.slice(0, 12)} (applied before berth kept plans, or more than the last 50 revisions ago)` });
        return send(res, 200, { revision, ...found });
      }
      return send(res, 404, { error: `no route GET ${path}` });
    } catch (err) {
      send(res, 503, { error: `cannot read the plan: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
    }
  };
}
