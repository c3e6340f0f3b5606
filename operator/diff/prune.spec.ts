import { describe, expect, it } from 'vitest';
import { LABELS } from '../model/keys.ts';
import type { DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import { claimantOf } from '../manifests/kinds/index.ts';
import { diff } from './diff.ts';

const INSTANCE = 'unit';

/** A berth container of instance `unit`, namespace ns, with `extra` labels (berth.kind among them, or not). */
function container(name: string, extra: Record<string, string>): ObservedContainer {
  return {
    id: `id-${name}`, name: `berth.unit.ns.${name}.1.abc`, status: 'running', exitCode: 0, imageId: 'sha256:aaa',
    labels: { [LABELS.managed]: 'true', [LABELS.instance]: INSTANCE, [LABELS.namespace]: 'ns', [LABELS.service]: name, [LABELS.replica]: '1', ...extra },
    command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0, createdAt: '2026-01-01T00:00:00Z',
  };
}

/** A revision that declares nothing of namespace ns. */
const desired: DesiredState = { revision: 'rev2abcdef', services: [], volumes: [], networks: [], routes: [], nodes: [] };

const observed = (containers: ObservedContainer[], extra: Partial<ObservedState> = {}): ObservedState => ({
  containers, volumes: [], networks: [], images: {}, ...extra,
});

const removed = (s: ObservedState): string[] => diff(desired, s, { instance: INSTANCE }).actions.flatMap((a) => {
  if (a.type === 'remove') return [a.container.name];
  if (a.type === 'remove-volume' || a.type === 'remove-network') return [a.name];
  return [];
});

describe('prune only removes what a kind claims (berth.kind)', () => {
  it('never prunes a container of a kind the table does not know (berth.kind: Workflow)', () => {
    const other = container('nightly', { [LABELS.kind]: 'Workflow' });
    expect(claimantOf('container', other.labels)).toBeUndefined();
    expect(removed(observed([other]))).toEqual([]);
  });

  it('a Job container is the Job kind\'s: removed by the Job planner (its Job left the revision), never as a Service replica', () => {
    const job = container('nightly', { [LABELS.kind]: 'Job', [LABELS.job]: 'nightly' });
    expect(claimantOf('container', job.labels)).toBe('Job');
    const actions = diff(desired, observed([job]), { instance: INSTANCE, now: 0 }).actions;
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ type: 'remove', job: 'ns/nightly', prune: true });
    expect(actions[0]!.service).toBeUndefined();
  });

  it('still prunes an undesired container without the label (created before berth.kind): a Service replica', () => {
    const legacy = container('old', {});
    const labelled = container('gone', { [LABELS.kind]: 'Service' });
    expect(claimantOf('container', legacy.labels)).toBe('Service');
    expect(removed(observed([legacy, labelled, container('nightly', { [LABELS.kind]: 'Workflow' })]))).toEqual([labelled.name, legacy.name]);
  });

  it('never prunes a volume or a container whose berth.kind names a kind that does not own that object type', () => {
    const volume = (name: string, kind?: string) => ({ name, labels: { [LABELS.retain]: 'false', ...(kind ? { [LABELS.kind]: kind } : {}) } });
    const state = observed([container('x', { [LABELS.kind]: 'Volume' })], { volumes: [volume('v-old'), volume('v-new', 'Volume'), volume('v-job', 'Job')] });
    expect(removed(state)).toEqual(['v-old', 'v-new']);
  });
});
