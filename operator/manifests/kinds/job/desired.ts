/** kind Job and CronJob: desired state. The containers are resolved as a Service's replicas (image, networks, secrets, files). */
import { createHash } from 'node:crypto';
import type { CronJobManifest, JobManifest, JobSpec, ManifestBase } from '../../../model/manifest.ts';
import type { DesiredCronJob, DesiredJob, DesiredJobContainer } from '../../../model/state.ts';
import { resourceKey } from '../../../model/keys.ts';
import { canonicalJson, specHash } from '../../spec-hash.ts';
import { imageSource, secretMounts } from '../service/desired.ts';
import { serviceAttachments } from '../service/networks.ts';
import { compareBy } from '../compare.ts';
import type { DesiredContext, DesiredPart } from '../types.ts';
import { asServiceManifest } from './view.ts';

/**
 * The identity of a run: the Service spec hash of the Job seen as a Service (what shapes its containers: image,
 * command, env, resources, volumes, networks, secrets, files, container settings, labels; restart never, no ports),
 * with completions (the work asked for). parallelism, backoffLimit, activeDeadline and ttlAfterFinished are left out:
 * changing how a Job is run, retried or cleaned up does not make it a new run.
 */
export function jobSpecHash(containerHash: string, spec: Pick<JobSpec, 'completions'>): string {
  return createHash('sha256').update(canonicalJson({ container: containerHash, completions: spec.completions })).digest('hex').slice(0, 16);
}

/** The containers of a Job (or of a CronJob's template) resolved like a Service's replicas. */
export function desiredJobContainer(m: ManifestBase, spec: JobSpec, ctx: DesiredContext): DesiredJobContainer {
  const { name, namespace, labels } = m.metadata;
  const key = resourceKey(namespace, name);
  const view = asServiceManifest(m, spec);
  const image = imageSource(view, ctx.builds.get(key));
  const { network, networks } = serviceAttachments(ctx.instance, view, ctx.networks ?? new Map());
  const env = { ...spec.env };
  const mounts = secretMounts(view, ctx.secrets ?? new Map());
  const files = ctx.files?.get(key);
  const container = specHash({ instance: ctx.instance, namespace, labels, spec: view.spec, image, env, network, ...(networks ? { networks } : {}), ...(mounts.length ? { secrets: mounts } : {}), ...(files?.length ? { files } : {}) });
  return {
    image,
    specHash: jobSpecHash(container, spec),
    network,
    ...(networks ? { networks } : {}),
    env,
    ...(mounts.length ? { secrets: mounts } : {}),
    ...(files?.length ? { files: [...files] } : {}),
  };
}

/** Jobs sorted by key; nothing when there are none (the desired state of a revision without Jobs is unchanged). */
export function desiredJobs(manifests: readonly JobManifest[], ctx: DesiredContext): DesiredPart {
  if (manifests.length === 0) return {};
  const jobs: DesiredJob[] = manifests.map((m) => ({
    key: resourceKey(m.metadata.namespace, m.metadata.name),
    namespace: m.metadata.namespace,
    name: m.metadata.name,
    labels: m.metadata.labels,
    spec: m.spec,
    ...desiredJobContainer(m, m.spec, ctx),
    source: m.source,
  }));
  return { jobs: jobs.sort(compareBy('key')) };
}

/** CronJobs sorted by key, each with its template resolved; nothing when there are none. */
export function desiredCronJobs(manifests: readonly CronJobManifest[], ctx: DesiredContext): DesiredPart {
  if (manifests.length === 0) return {};
  const cronJobs: DesiredCronJob[] = manifests.map((m) => ({
    key: resourceKey(m.metadata.namespace, m.metadata.name),
    namespace: m.metadata.namespace,
    name: m.metadata.name,
    labels: m.metadata.labels,
    spec: m.spec,
    template: desiredJobContainer(m, m.spec.jobTemplate.spec, ctx),
    source: m.source,
  }));
  return { cronJobs: cronJobs.sort(compareBy('key')) };
}
