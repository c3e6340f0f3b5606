import { describe, expect, it } from 'vitest';
import type { StatusDoc } from './report.ts';
import { renderStatusText } from './render.ts';

const base = { apiVersion: 'berth/v1', kind: 'Status', instance: 'default', source: { repo: 'r', branch: 'main', path: '.' }, revision: { applied: null, latest: null }, conditions: [], services: {}, drift: [], held: {}, lastError: null } as unknown as StatusDoc;
const failedRun = { desired: 1, ready: 0, health: 'Degraded', replicas: [], phase: 'Failed', reason: 'BackoffLimitExceeded', run: 'r1', failed: 1, attempts: [{ completion: 1, attempt: 1, container: 'c', state: 'failed', exitCode: 2, finishedAt: '2026-01-01T00:00:01.000Z', output: ['first', 'last words'] }] } as const;

describe('renderStatusText: output of a failed run', () => {
  it('prints the failing attempt\'s last lines under a failed Job and under a CronJob whose last run failed', () => {
    const doc = {
      ...base,
      jobs: { 'ns/j': failedRun },
      cronJobs: { 'ns/c': { desired: 1, ready: 0, health: 'Degraded', replicas: [], schedule: '@daily', since: '2026-01-01T00:00:00.000Z', active: [], runs: [{ ...failedRun, run: '20260101T0000Z', scheduledAt: '2026-01-01T00:00:00.000Z' }] } },
    } as unknown as StatusDoc;
    const text = renderStatusText(doc);
    expect(text).toContain('output #1.1 (last 2 line(s)):\n            | first\n            | last words');
    expect(text).toContain('output of run 20260101T0000Z #1.1 (last 2 line(s)):');
  });

  it('says why the output is missing, and prints none for a Job that did not fail', () => {
    const missing = { ...failedRun, attempts: [{ ...failedRun.attempts[0], output: undefined, outputUnavailable: 'output not read: timeout' }] };
    expect(renderStatusText({ ...base, jobs: { 'ns/j': missing } } as unknown as StatusDoc)).toContain('output #1.1: output not read: timeout');
    expect(renderStatusText({ ...base, jobs: { 'ns/j': { ...failedRun, phase: 'Succeeded' } } } as unknown as StatusDoc)).not.toContain('last words');
  });
});

describe('renderStatusText: nodes', () => {
  it('prints each node with its state, engine and endpoint, then why it is not Ready and its engine\'s limits', () => {
    const doc = {
      ...base,
      nodes: [
        { name: 'docker', state: 'Ready', endpoint: 'unix:///var/run/docker.sock', engine: 'Docker 20.10.24' },
        { name: 'old', state: 'NotReady', endpoint: 'unix:///old.sock', engine: 'Podman 4.3.1', error: 'Podman 4.3.1 lacks what berth needs: Docker API 1.41 or newer (the engine speaks 1.40)' },
        { name: 'pm', state: 'Ready', endpoint: 'unix:///pm.sock', engine: 'Podman 4.3.1', limits: ['no in-place update'] },
      ],
    } as unknown as StatusDoc;
    expect(renderStatusText(doc).split('\n').slice(-6)).toEqual([
      'NODE      STATE     ENGINE            ENDPOINT',
      'docker    Ready     Docker 20.10.24   unix:///var/run/docker.sock',
      'old       NotReady  Podman 4.3.1      unix:///old.sock',
      '          Podman 4.3.1 lacks what berth needs: Docker API 1.41 or newer (the engine speaks 1.40)',
      'pm        Ready     Podman 4.3.1      unix:///pm.sock',
      '          no in-place update',
    ]);
  });
});
