/** Desired Jobs, CronJobs and Services of namespace `shop`, as the planners and previews take them (unit specs). */
import type { CronJobSpec, JobSpec } from '../../operator/model/manifest.ts';
import type { DesiredCronJob, DesiredJob, DesiredService } from '../../operator/model/state.ts';

export function desiredJob(name: string, spec: Partial<JobSpec> = {}, specHash = 'aaaabbbbccccdddd'): DesiredJob {
  return {
    key: `shop/${name}`, namespace: 'shop', name, labels: {}, spec: { completions: 1, parallelism: 1, backoffLimit: 6, ...spec } as JobSpec,
    image: { type: 'ref', ref: 'busybox:1' }, specHash, network: 'berth.t.shop', env: {}, source: { file: `${name}.yaml`, line: 1, col: 1 },
  };
}

/** A CronJob at 03:00 daily, UTC, Allow, unless `spec` says otherwise. */
export function desiredCronJob(name: string, spec: Partial<CronJobSpec> = {}): DesiredCronJob {
  return {
    key: `shop/${name}`, namespace: 'shop', name, labels: {},
    spec: {
      schedule: '0 3 * * *', timeZone: 'UTC', concurrencyPolicy: 'Allow', suspend: false, successfulRunsHistory: 3, failedRunsHistory: 1,
      jobTemplate: { spec: { completions: 1, parallelism: 1, backoffLimit: 0 } as JobSpec }, ...spec,
    },
    template: { image: { type: 'ref', ref: 'busybox:1' }, specHash: 'tttttttttttttttt', network: 'berth.t.shop', env: {} },
    source: { file: `${name}.yaml`, line: 1, col: 1 },
  };
}

/** A one-replica Service naming `dependsOn`. */
export function desiredService(name: string, dependsOn: string[] = []): DesiredService {
  const spec = {
    image: 'img:1', pullPolicy: 'IfNotPresent', env: {}, command: ['sleep', '1'], replicas: 1, ports: [], resources: {},
    restart: { policy: 'always' }, update: { order: 'start-first', parallelism: 1, monitorMs: 0, failureAction: 'rollback', maxFailureRatio: 0 }, health: {}, volumes: [], dependsOn,
    placement: { strategy: 'spread', constraints: [], priority: 0 },
  } as unknown as DesiredService['spec'];
  return { key: `shop/${name}`, namespace: 'shop', name, labels: {}, specHash: `${name}hash`, image: { type: 'ref', ref: 'img:1' }, source: { file: `${name}.yaml`, line: 1, col: 1 }, spec, network: 'berth.t.shop', env: {} };
}
