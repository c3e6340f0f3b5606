/** kind Service: a replicated long-running workload (containers, its namespace's network, images built from the repo). */
import type { ServiceManifest } from '../../../model/manifest.ts';
import type { Obj } from '../../raw.ts';
import type { KindDescriptor } from '../types.ts';
import { toServiceSpec } from './defaults.ts';
import { checkServiceManifest, checkServices, serviceDocumentIssues } from './checks.ts';
import { desiredServices } from './desired.ts';
import { serviceStatuses } from './status.ts';
import { rootFile } from '../../../root.ts';

export const SERVICE: KindDescriptor<ServiceManifest> = {
  kind: 'Service',
  schema: rootFile('schemas/service.schema.json'),
  clusterScoped: false,
  objects: ['container', 'network', 'image'],
  unlabelled: ['container', 'network', 'image'],
  toSpec: (spec, doc) => toServiceSpec(spec as Obj, doc),
  documentIssues: serviceDocumentIssues,
  check: checkServiceManifest,
  checkAll: (_typed, ctx, report) => checkServices(ctx, report),
  desired: desiredServices,
  status: { section: 'services', report: serviceStatuses },
};
