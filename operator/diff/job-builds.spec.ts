/** A Job's (and a CronJob template's) `build:` is built by a Service's build-image action, before its run starts. */
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import type { Action } from '../model/plan.ts';
import type { ObservedState } from '../model/state.ts';
import { diff } from './diff.ts';

const JOB = 'apiVersion: berth/v1\nkind: Job\nmetadata: { name: migrate, namespace: shop }\nspec: { build: { context: tools }, command: [migrate] }\n';
const CRON = (suspend: boolean) => `apiVersion: berth/v1\nkind: CronJob\nmetadata: { name: report, namespace: shop }\nspec:\n  schedule: "0 3 * * *"\n  suspend: ${suspend}\n  jobTemplate:\n    spec: { build: { context: tools, args: { MODE: report } } }\n`;
const files = (extra: Record<string, string>) => ({ 'tools/Dockerfile': 'FROM berth-local/busybox:1\nARG MODE\n', ...extra });

async function plan(extra: Record<string, string>, images: Record<string, string> = {}) {
  const desired = await loadDesired(memorySnapshot(files(extra), 'r1'), { instance: 't', path: '' });
  const observed: ObservedState = { containers: [], volumes: [], networks: [{ name: 'berth.t.shop', labels: {} } as never], images };
  return { desired, plan: diff(desired, observed, { instance: 't', now: Date.parse('2026-12-03T10:00:00Z') }) };
}

const builds = (actions: readonly Action[]) => actions.flatMap((a) => (a.type === 'build-image' ? [a] : []));

describe('images built for Jobs', () => {
  it("plans the build of a Job's image before its run, as a Service's build (the Job seen as a Service)", async () => {
    const { desired, plan: p } = await plan({ 'job.yaml': JOB });
    const job = desired.jobs![0]!;
    expect(job.image).toMatchObject({ type: 'build', context: 'tools', ref: expect.stringMatching(/^berth\.local\/shop\/migrate:[0-9a-f]{16}$/) });
    const [b, more] = builds(p.actions);
    expect(more).toBeUndefined();
    expect(b).toMatchObject({ service: 'shop/migrate', job: 'shop/migrate', desired: { key: 'shop/migrate', image: job.image }, reason: `image ${job.image.ref} of job shop/migrate not built yet (context tools)` });
    expect(p.actions.indexOf(b!)).toBeLessThan(p.actions.findIndex((a) => a.type === 'run-job'));
  });

  it('does not build an image the engine has, nor one of a Job with no run to start', async () => {
    const { desired } = await plan({ 'job.yaml': JOB });
    const ref = desired.jobs![0]!.image.ref;
    expect(builds((await plan({ 'job.yaml': JOB }, { [ref]: 'sha256:1' })).plan.actions)).toEqual([]);
  });

  it("builds a CronJob template's image ahead of its schedule (with its args), but not while it is suspended", async () => {
    const active = await plan({ 'cron.yaml': CRON(false) });
    const cron = active.desired.cronJobs![0]!;
    expect(builds(active.plan.actions).map((a) => [a.service, a.desired.image])).toEqual([['shop/report', cron.template.image]]);
    expect(cron.template.image).toMatchObject({ type: 'build', args: { MODE: 'report' } });
    expect(builds((await plan({ 'cron.yaml': CRON(true) })).plan.actions)).toEqual([]);
  });
});
