import { describe, expect, it } from 'vitest';
import { LABELS } from '../model/keys.ts';
import type { JobSpec } from '../model/manifest.ts';
import type { DesiredJob, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import type { ContainerRuntime } from '../runtime/runtime.ts';
import type { StatusDoc } from '../status/report.ts';
import { createLogger } from '../util/log.ts';
import { Redactor } from '../util/redact.ts';
import { failureEvents, JobOutputReader } from './job-output.ts';

const SECRET = 'the-secret-value-42';
const log = createLogger({ write: () => undefined });

const job = (secrets: boolean): DesiredJob => ({
  key: 'ns/j', namespace: 'ns', name: 'j', labels: {}, spec: { completions: 1, parallelism: 1, backoffLimit: 0 } as JobSpec,
  image: { type: 'ref', ref: 'busybox:1' }, specHash: 'hash1', network: 'berth.t.ns', env: {}, source: { file: 'j.yaml', line: 1, col: 1 },
  ...(secrets ? { secrets: [{ secret: 'token', target: '/run/secrets/token', env: 'TOKEN', mode: '0400', file: 'token.age', contentHash: 'c1' }] } : {}),
});
const desired = (j: DesiredJob) => ({ jobs: [j], cronJobs: [] }) as unknown as DesiredState;
const container = (specHash = 'hash1'): ObservedContainer => ({
  id: 'id1', name: 'berth.t.ns.j.job-hash1.1.1', status: 'exited', exitCode: 1, imageId: 'sha256:x', createdAt: '2026-01-01T00:00:00.000Z',
  command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0,
  labels: { [LABELS.kind]: 'Job', [LABELS.namespace]: 'ns', [LABELS.job]: 'j', [LABELS.specHash]: specHash },
});
const observed = (c: ObservedContainer) => ({ containers: [c] }) as unknown as ObservedState;
const runtime = { containerLogs: async () => ({ text: `using ${SECRET}\n`, truncated: false }) } as unknown as ContainerRuntime;

/** A secret store that, as the real one, registers a value with the redactor when it decrypts it. */
function store(redact: Redactor, ok = true) {
  const calls: string[] = [];
  return {
    calls,
    remember: () => undefined,
    resolve: async (ns: string, name: string) => {
      calls.push(`${ns}/${name}`);
      if (!ok) throw new Error('no key');
      redact.add(SECRET);
      return new Map([['value', Buffer.from(SECRET)]]);
    },
  };
}

describe('JobOutputReader', () => {
  it('decrypts the Job\'s Secrets before reading its output, so a value never registered yet (a restart) is redacted', async () => {
    const redact = new Redactor();
    const secrets = store(redact);
    const reader = new JobOutputReader({ runtime, redact, secrets, log });
    const got = await reader.collect(observed(container()), desired(job(true)), null, null);
    expect(secrets.calls).toEqual(['ns/token']);
    expect(got.outputs.get(container().name)).toEqual({ lines: ['using ***'] });
  });

  it('leaves the output out when the Secrets cannot be decrypted, or the container is of another spec', async () => {
    const redact = new Redactor();
    const failing = new JobOutputReader({ runtime, redact, secrets: store(redact, false), log });
    expect((await failing.collect(observed(container()), desired(job(true)), null, null)).outputs.get(container().name)).toMatchObject({ unavailable: expect.stringContaining('could not be decrypted') });
    const other = new JobOutputReader({ runtime, redact, log });
    expect((await other.collect(observed(container('hash0')), desired(job(false)), null, null)).outputs.get(container().name)).toMatchObject({ unavailable: expect.stringContaining('earlier spec') });
    expect((await new JobOutputReader({ runtime, redact, log }).collect(observed(container()), desired(job(false)), null, null)).outputs.get(container().name)).toEqual({ lines: [`using ${SECRET}`] });
  });
});

describe('failureEvents', () => {
  const doc = (phase: string, finishedAt = '2026-01-01T00:00:10.000Z') => ({ jobs: { 'ns/j': { phase, reason: 'BackoffLimitExceeded', run: 'r1', failed: 1, finishedAt, attempts: [] } } }) as unknown as StatusDoc;
  it('a run Failed now and not before is one event; with no previous document known, only failures after the start', () => {
    expect(failureEvents(doc('Running'), doc('Failed'), true, 0).map((e) => e.kind)).toEqual(['job-failed']);
    expect(failureEvents(doc('Failed'), doc('Failed'), true, 0)).toEqual([]);
    expect(failureEvents(null, doc('Failed'), true, Date.parse('2026-01-02T00:00:00.000Z'))).toHaveLength(1); // the branch had no status
    expect(failureEvents(null, doc('Failed'), false, Date.parse('2026-01-02T00:00:00.000Z'))).toEqual([]); // it could not be read
  });
});
