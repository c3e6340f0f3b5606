/**
 * The plan of a revision against the live engines, for `berth plan` and pull request plans: the same planPass a
 * running berth uses, with what the status branch says was applied and held.
 */
import { runRef, type DesiredState } from '../model/state.ts';
import { pinImages } from '../images/pin.ts';
import type { ImageResolver } from '../images/resolver.ts';
import type { ContainerRuntime } from '../runtime/runtime.ts';
import type { GitSource, RepoSnapshot } from '../source/source.ts';
import { appliedServices, type StatusDoc } from '../status/report.ts';
import { planPass, type PassPlan, type PlanCluster } from './plan-pass.ts';

export interface PlanRevisionDeps {
  source: GitSource;
  runtime: ContainerRuntime;
  instance: string;
  load(snapshot: RepoSnapshot): Promise<DesiredState>;
  /** The nodes to place onto when the revision declares Nodes (absent: no scheduling). */
  cluster?(desired: DesiredState): Promise<PlanCluster>;
  /** Resolves registry tags to digests, as a pass does (absent: images as written). */
  images?: ImageResolver;
}

/** Plans `desired` as the next pass of a running berth would (probe results aside: a plan runs no probe). */
export async function planRevision(deps: PlanRevisionDeps, written: DesiredState, status: StatusDoc | null): Promise<PassPlan> {
  const held = new Map(Object.entries(status?.held ?? {}));
  const rollback = [...held.values()].find((h) => h.action === 'rollback' && h.previousRevision)?.previousRevision;
  const unpinned = rollback ? await deps.load(await deps.source.snapshot(rollback)) : null;
  const refs = (ds: (DesiredState | null)[]) => [...new Set(ds.flatMap((d) => d?.services.flatMap((s) => [s.image.ref, runRef(s.image)]) ?? []))];
  let observed = await deps.runtime.observe(deps.instance, refs([written, unpinned]));
  let desired = written;
  let previous = unpinned;
  if (deps.images) {
    const { digests } = await deps.images.resolve([...written.services, ...(unpinned?.services ?? [])], observed);
    desired = pinImages(written, digests);
    previous = unpinned && pinImages(unpinned, digests);
    if (digests.size) observed = await deps.runtime.observe(deps.instance, refs([desired, previous]));
  }
  const cluster = desired.nodes.length && deps.cluster ? await deps.cluster(desired) : undefined;
  return planPass({ desired, observed, instance: deps.instance, applied: appliedServices(status), held, previous, cluster, drift: 'correct', ...(status?.jobs ? { jobRecords: status.jobs } : {}), ...(status?.cronJobs ? { cronRecords: status.cronJobs } : {}) });
}
