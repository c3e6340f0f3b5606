/** kind Route: external HTTP access with host / path rules and weighted backends, served by berth's proxies. */
import type { RouteManifest } from '../../../model/manifest.ts';
import { resourceKey } from '../../../model/keys.ts';
import type { DesiredRoute } from '../../../model/state.ts';
import type { Obj } from '../../raw.ts';
import { checkRoute } from '../../route-checks.ts';
import { compareBy } from '../compare.ts';
import type { KindDescriptor } from '../types.ts';
import { toRouteSpec } from './defaults.ts';
import { checkRouteTls, checkTlsPorts } from './tls-checks.ts';
import { rootFile } from '../../../root.ts';

export const ROUTE: KindDescriptor<RouteManifest> = {
  kind: 'Route',
  schema: rootFile('schemas/route.schema.json'),
  clusterScoped: false,
  objects: [],
  unlabelled: [],
  toSpec: (s) => toRouteSpec(s as Obj),
  check: (doc, m, ctx, report) => {
    checkRoute(doc, m, ctx.declared, (key) => ctx.services.get(key)?.m, report);
    checkRouteTls(doc, m, report);
  },
  checkAll: (typed, ctx, report) => checkTlsPorts(typed, ctx, report),
  desired: (manifests) => ({ routes: manifests.map(desiredRoute).sort(compareBy('key')) }),
};

function desiredRoute(m: RouteManifest): DesiredRoute {
  const { name, namespace } = m.metadata;
  return { key: resourceKey(namespace, name), namespace, name, spec: m.spec, source: m.source };
}
