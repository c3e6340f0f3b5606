import { describe, expect, it } from 'vitest';
import { RevisionPlans, parsePlanFile, revisionPlanPath } from './revision-plans.ts';
import { DashboardPlans } from '../review/dashboard-plans.ts';
import type { StatusDoc } from './report.ts';
import type { Logger } from '../util/log.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } } as unknown as Logger;
const sha = (n: number) => n.toString(16).padStart(40, '0');

/** The status branch as a map: what writeStatus commits, readStatus and readStatusDir read. */
function branch() {
  const files = new Map<string, string>();
  const commits: Record<string, string | null>[] = [];
  return {
    files, commits,
    readStatus: async (p: string) => files.get(p) ?? null,
    readStatusDir: async (dir: string) => Object.fromEntries([...files].filter(([p]) => p.startsWith(`${dir}/`)).sort()),
    writeStatus: async (f: Record<string, string | null>) => {
      commits.push(f);
      for (const [p, t] of Object.entries(f)) if (t === null) files.delete(p); else files.set(p, t);
      return 'c';
    },
  };
}

describe('revision plans on the status branch', () => {
  it('records a revision plan once, redacted, and reads it back without the marker lines', async () => {
    const b = branch();
    const plans = new RevisionPlans({ source: b, instance: 'prod', log: quiet, redact: (t) => t.replaceAll('hunter2-SECRET', '***'), now: () => new Date('2026-12-03T10:00:00Z') });
    await plans.record(sha(1), '### plan\n\n**1 to create** token hunter2-SECRET');
    const text = b.files.get(revisionPlanPath('prod', sha(1)))!;
    expect(text).not.toContain('hunter2-SECRET');
    expect(await plans.read(sha(1))).toEqual({ markdown: '### plan\n\n**1 to create** token ***', appliedAt: '2026-12-03T10:00:00.000Z' });
    expect(await plans.read('not-a-sha')).toBeNull();
    expect(await plans.read(sha(2))).toBeNull();
  });

  it('keeps the newest plans and deletes the oldest in the same commit, counting what the branch held before a restart', async () => {
    const b = branch();
    let t = Date.parse('2026-12-03T10:00:00Z');
    const now = () => new Date((t += 1000));
    const first = new RevisionPlans({ source: b, instance: 'prod', log: quiet, now, keep: 3 });
    for (const n of [1, 2, 3]) await first.record(sha(n), `plan ${n}`);
    // A new process reads what is kept from the branch before its first write.
    const second = new RevisionPlans({ source: b, instance: 'prod', log: quiet, now, keep: 3 });
    await second.record(sha(4), 'plan 4');
    expect(b.commits.at(-1)).toEqual({ [revisionPlanPath('prod', sha(4))]: expect.stringContaining('plan 4'), [revisionPlanPath('prod', sha(1))]: null });
    expect([...b.files.keys()].sort()).toEqual([2, 3, 4].map((n) => revisionPlanPath('prod', sha(n))));
    await second.record(sha(3), 'plan 3 again'); // applied again: one file, now the newest
    await second.record(sha(5), 'plan 5');
    expect([...b.files.keys()].sort()).toEqual([3, 4, 5].map((n) => revisionPlanPath('prod', sha(n))));
  });

  it('a failed write is logged and later writes go on', async () => {
    const b = branch();
    const warnings: string[] = [];
    const log = { ...quiet, warn: (m: string) => warnings.push(m) } as unknown as Logger;
    let fail = true;
    const plans = new RevisionPlans({ source: { ...b, writeStatus: async (f) => { if (fail) throw new Error('push rejected'); return b.writeStatus(f); } }, instance: 'prod', log });
    await plans.record(sha(1), 'plan 1');
    fail = false;
    await plans.record(sha(2), 'plan 2');
    expect(warnings).toEqual(['could not record the plan of the revision']);
    expect(parsePlanFile(b.files.get(revisionPlanPath('prod', sha(2)))!).markdown).toBe('plan 2');
  });

  it('the dashboard records the plan of a newly planned revision in the comment markdown, and serves the recorded plan as the head plan once applied', async () => {
    const b = branch();
    const status = { revision: { applied: sha(7), latest: sha(7) } } as unknown as StatusDoc;
    const plans = new DashboardPlans({
      planner: { instance: 'prod', source: {} as never, runtime: {} as never, load: async () => { throw new Error('not used'); } },
      plans: new RevisionPlans({ source: b, instance: 'prod', log: quiet }), status: () => status,
    });
    plans.onReconcilerEvent({ kind: 'revision-planned', revision: sha(7), base: sha(6), plan: { actions: [] } as never, desired: { warnings: [], jobs: [], cronJobs: [], services: [] } as never });
    await plans.idle();
    const recorded = await plans.recorded(sha(7));
    expect(recorded?.markdown).toContain('**no changes**');
    expect(await plans.headPlan()).toEqual({ revision: sha(7), applied: true, markdown: recorded!.markdown, ok: true });
  });
});
