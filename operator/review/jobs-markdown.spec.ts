import { describe, expect, it } from 'vitest';
import { desiredCronJob, desiredJob, desiredService } from '../../test/doubles/jobs-fixtures.ts';
import { diff } from '../diff/diff.ts';
import type { CronJobSpec, JobSpec } from '../model/manifest.ts';
import type { DesiredCronJob, DesiredJob, DesiredService, DesiredState, ObservedState } from '../model/state.ts';
import { previewJobs, type JobsPreview } from '../jobs/preview.ts';
import { jobsSections, renderPlanMarkdown } from './markdown.ts';

const NOW = Date.parse('2026-12-03T13:30:00.000Z');

const job = (name: string, spec: Partial<JobSpec> = {}): DesiredJob => desiredJob(name, spec);
const cron = (name: string, spec: Partial<CronJobSpec> = {}): DesiredCronJob => desiredCronJob(name, { timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid', ...spec });
const svc = desiredService;

const OBSERVED: ObservedState = { containers: [], volumes: [], networks: [{ name: 'berth.t.shop', id: 'n', labels: {} } as unknown as ObservedState['networks'][number]], images: { 'img:1': 'sha256:i', 'busybox:1': 'sha256:b' } };

function planned(d: { jobs?: DesiredJob[]; cronJobs?: DesiredCronJob[]; services?: DesiredService[] }, base?: { cronJobs?: DesiredCronJob[] }) {
  const desired: DesiredState = { revision: 'r'.repeat(40), services: d.services ?? [], volumes: [], networks: [], routes: [], nodes: [], jobs: d.jobs ?? [], cronJobs: d.cronJobs ?? [] };
  const plan = diff(desired, OBSERVED, { instance: 't', now: NOW });
  const jobs = previewJobs({ plan, desired, now: NOW, ...(base ? { base } : {}) })!;
  return { plan, jobs, md: renderPlanMarkdown({ instance: 'prod', revision: 'r'.repeat(40), plan, jobs }) };
}

describe('pull request comment: Jobs and CronJobs', () => {
  it('a section per kind: the Jobs that would run with the Services waiting for them, the CronJobs with their next times', () => {
    const { md } = planned({ jobs: [job('migrate', { completions: 2 })], cronJobs: [cron('nightly')], services: [svc('web', ['migrate'])] }, { cronJobs: [cron('nightly', { schedule: '0 2 * * *', timeZone: 'UTC' })] });
    const lines = md.split('\n');
    const from = lines.indexOf('#### Jobs at merge');
    expect(from).toBeGreaterThan(0);
    expect(lines.slice(from, lines.indexOf('<details>'))).toEqual([
      '#### Jobs at merge',
      '',
      '- `shop/migrate`: **would run: 2 completions, parallelism 1 (run aaaabbbbccccdddd)**',
      '  - service `shop/web` rolls out after job `shop/migrate` succeeds',
      '',
      '#### CronJobs',
      '',
      "Next times after `2026-12-03T13:30:00Z`, on each CronJob's clock (UTC in brackets):",
      '',
      '- `shop/nightly`: `0 3 * * *` (every day at 03:00) in `Europe/Berlin`, concurrencyPolicy Forbid',
      '  - next: `2026-12-04T03:00:00+01:00` (`2026-12-04T02:00:00Z`), `2026-12-05T03:00:00+01:00` (`2026-12-05T02:00:00Z`), `2026-12-06T03:00:00+01:00` (`2026-12-06T02:00:00Z`)',
      '  - **schedule changed**: was `0 2 * * *` in `UTC`, next `2026-12-04T02:00:00Z`, `2026-12-05T02:00:00Z`, `2026-12-06T02:00:00Z`',
      '',
    ]);
    // The run-job actions are in the Jobs section, not rows of the volumes and networks table; the full list keeps them.
    expect(md).not.toContain('| run job |');
    expect(md).toMatch(/<details>[\s\S]*run-job\s+job shop\/migrate completion 1 attempt 1/);
    // The summary still counts them.
    expect(md).toContain('1 job container to run');
  });

  it('without a preview the comment is as before (run-job actions in the table)', () => {
    const { plan } = planned({ jobs: [job('migrate')] });
    const md = renderPlanMarkdown({ instance: 'prod', revision: 'r'.repeat(40), plan });
    expect(md).toContain('| run job | `shop/migrate #1.1` |');
    expect(md).not.toContain('#### Jobs at merge');
  });

  it('a plan without changes still lists the CronJobs; suspended and new ones say so', () => {
    const { md } = planned({ cronJobs: [cron('paused', { suspend: true, schedule: '@weekly', timeZone: 'UTC' })] });
    expect(md).toContain('**no changes**');
    expect(md).toContain('- `shop/paused`: `@weekly` (every Sun at 00:00) in `UTC`, concurrencyPolicy Forbid, **suspended**: no run starts · new');
    expect(md).toContain('  - next: `2026-12-06T00:00:00Z`, `2026-12-13T00:00:00Z`, `2026-12-20T00:00:00Z`');
  });

  it('escapes what comes from the manifest, and caps each listing', () => {
    const p: JobsPreview = {
      now: '2026-12-03T13:30:00Z',
      jobs: [{ key: 'shop/<b>x</b>', run: 'r', completions: 1, parallelism: 1, state: 'idle', starts: 0, holds: [], summary: 'no container to start for run <img src=x> @team' }],
      cronJobs: Array.from({ length: 30 }, (_, i) => ({
        key: `shop/c${i}`, schedule: '`*` | x', timeZone: 'UTC', suspend: false, concurrencyPolicy: 'Allow' as const, next: [], starting: [],
        ...(i === 0 ? { error: 'field "*" <script>' } : {}),
      })),
    };
    const lines = jobsSections(p, 5);
    expect(lines).toContain('- `shop/<b>x</b>`: no container to start for run &lt;img src=x&gt; @&#8203;team');
    expect(lines).toContain('- `shop/c0`: `` `*` | x `` in `UTC`, concurrencyPolicy Allow');
    expect(lines).toContain('  - ❌ invalid schedule: field &quot;\\*&quot; &lt;script&gt;');
    expect(lines.filter((l) => l.startsWith('- `shop/c'))).toHaveLength(5);
    expect(lines[lines.length - 1]).toBe('- ... and 25 more');
    expect(lines.join('\n')).not.toMatch(/<script>|<img/);
  });
});
