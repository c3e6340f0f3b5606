/** kind Route: defaults (schema-valid data -> model). */
import type { RouteBackend, RouteRule, RouteSpec } from '../../../model/manifest.ts';
import { toPublish } from '../../load-balancer.ts';
import type { Obj } from '../../raw.ts';

/** Defaults of a schema-valid Route spec: pathPrefix `/`, backend weight 1. */
export function toRouteSpec(s: Obj): RouteSpec {
  return { publish: toPublish(s.publish as Obj), rules: (s.rules as Obj[]).map(toRule) };
}

function toRule(r: Obj): RouteRule {
  const rule: RouteRule = { pathPrefix: (r.pathPrefix as string | undefined) ?? '/', backends: (r.backends as Obj[]).map(toBackend) };
  return typeof r.host === 'string' ? { host: r.host, ...rule } : rule;
}

function toBackend(b: Obj): RouteBackend {
  return { service: b.service as string, weight: (b.weight as number | undefined) ?? 1 };
}
