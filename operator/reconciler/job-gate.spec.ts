/** A Service naming a Job in dependsOn rolls out only once that Job's run of the revision succeeded (migrations first). */
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { LABELS } from '../model/keys.ts';
import type { ObservedContainer, ObservedState } from '../model/state.ts';
import { planPass } from './plan-pass.ts';

const files = {
  'migrate.yaml': 'apiVersion: berth/v1\nkind: Job\nmetadata: { name: migrate, namespace: shop }\nspec: { image: img:1, command: [migrate], backoffLimit: 0 }\n',
  'web.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec: { image: img:1, replicas: 2, dependsOn: [migrate] }\n',
};

function jobContainer(run: string, exitCode: number, status: ObservedContainer['status'] = 'exited'): ObservedContainer {
  return {
    id: `job-${exitCode}`, name: 'berth.t.shop.migrate.job', status, exitCode, imageId: 'sha256:1', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0,
    createdAt: '2026-12-03T10:00:00Z', startedAt: '2026-12-03T10:00:00Z', ...(status === 'exited' ? { finishedAt: '2026-12-03T10:00:05Z' } : {}),
    labels: { [LABELS.managed]: 'true', [LABELS.instance]: 't', [LABELS.kind]: 'Job', [LABELS.namespace]: 'shop', [LABELS.job]: 'migrate', [LABELS.run]: run, [LABELS.completion]: '1', [LABELS.attempt]: '1' },
  };
}

async function passWith(job: (run: string) => ObservedContainer[]) {
  const desired = await loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '' });
  const run = desired.jobs![0]!.specHash.slice(0, 16);
  const observed: ObservedState = { containers: job(run), volumes: [], networks: [{ name: 'berth.t.shop', labels: {} } as never], images: { 'img:1': 'sha256:1' } };
  return planPass({ desired, observed, instance: 't', applied: new Map(), drift: 'correct' });
}

const creates = (p: Awaited<ReturnType<typeof passWith>>) => p.runnable.filter((a) => a.type === 'create' && a.service === 'shop/web').length;

describe('dependsOn a Job', () => {
  it('holds the service\'s new replicas while the Job runs, with why, and keeps them in what still differs', async () => {
    const p = await passWith((run) => [jobContainer(run, 0, 'running')]);
    expect(creates(p)).toBe(0);
    expect(p.pending.actions.filter((a) => a.type === 'create' && a.service === 'shop/web')).toHaveLength(2);
    expect(p.unschedulable.get('shop/web')).toBe('waiting for jobs: job shop/migrate has not succeeded yet (running)');
  });

  it('rolls out once the Job succeeded', async () => {
    const p = await passWith((run) => [jobContainer(run, 0)]);
    expect(creates(p)).toBe(2);
    expect(p.unschedulable.has('shop/web')).toBe(false);
  });

  it('a failed Job blocks the rollout and says so', async () => {
    const p = await passWith((run) => [jobContainer(run, 3)]);
    expect(creates(p)).toBe(0);
    expect(p.unschedulable.get('shop/web')).toMatch(/^waiting for jobs: job shop\/migrate failed \(BackoffLimitExceeded\)/);
  });

  it('a new Job (no container yet) is started in the same pass as the service waits', async () => {
    const p = await passWith(() => []);
    expect(p.runnable.map((a) => a.type)).toContain('run-job');
    expect(creates(p)).toBe(0);
  });
});
