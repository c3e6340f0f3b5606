/**
 * What one attempt of one completion of a Job's run is created from: a Service replica's container (diff/container-spec.ts,
 * the Job seen as a Service: image, command, env, resources, volumes, networks, secrets, files, security), with the Job's
 * labels and name, no ports, and restart policy no (a retry is a new container, planned by jobs/plan.ts).
 */
import { LABELS, jobContainerName } from '../model/keys.ts';
import type { DesiredJob, DesiredService } from '../model/state.ts';
import type { CreateContainerSpec } from '../runtime/runtime.ts';
import { containerSpec } from '../diff/container-spec.ts';
import { asServiceSpec } from '../manifests/kinds/job/view.ts';

/** Which run the container belongs to, and of which kind. */
export interface RunOf {
  run: string;
  kind: 'Job' | 'CronJob';
}

/** The Job seen as a Service, for what creates a replica's container (container spec, secret delivery). */
export function jobAsService(job: DesiredJob): DesiredService {
  return {
    key: job.key, namespace: job.namespace, name: job.name, labels: job.labels, spec: asServiceSpec(job.spec), image: job.image,
    specHash: job.specHash, source: job.source, network: job.network, env: job.env,
    ...(job.networks ? { networks: job.networks } : {}), ...(job.secrets ? { secrets: job.secrets } : {}), ...(job.files ? { files: job.files } : {}),
  };
}

/** Labels of a Job's container: identity (berth.kind=Job, berth.job, berth.run, berth.completion, berth.attempt), revision, spec hash. */
export function jobLabels(instance: string, revision: string, job: DesiredJob, run: RunOf, completion: number, attempt: number): Record<string, string> {
  return {
    ...job.labels,
    [LABELS.managed]: 'true',
    [LABELS.instance]: instance,
    [LABELS.kind]: run.kind,
    [LABELS.namespace]: job.namespace,
    [LABELS.job]: job.name,
    [LABELS.run]: run.run,
    [LABELS.completion]: String(completion),
    [LABELS.attempt]: String(attempt),
    [LABELS.revision]: revision,
    [LABELS.specHash]: job.specHash,
    ...(job.image.type === 'ref' && job.image.digest ? { [LABELS.image]: job.image.ref, [LABELS.imageDigest]: job.image.digest } : {}),
    ...(job.networks ? { [LABELS.network]: job.network } : {}),
  };
}

/** The create request of `completion`/`attempt` of the Job's run. */
export function jobContainerSpec(instance: string, revision: string, job: DesiredJob, run: RunOf, completion: number, attempt: number, node?: string): CreateContainerSpec {
  const spec = containerSpec(instance, revision, jobAsService(job), completion, node);
  return {
    ...spec,
    name: jobContainerName(instance, job.namespace, job.name, run.run, completion, attempt),
    labels: jobLabels(instance, revision, job, run, completion, attempt),
    exposedPorts: [],
    restartPolicy: 'no',
  };
}
