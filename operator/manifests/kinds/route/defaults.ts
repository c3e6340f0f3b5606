/** kind Route: defaults (schema-valid data -> model). */
import type { RouteBackend, RouteRule, RouteSpec } from '../../../model/manifest.ts';
import { toPublish } from '../../load-balancer.ts';
import type { Obj } from '../../raw.ts';

/**
 * Defaults of a schema-valid Route spec: pathPrefix `/`, backend weight 1, the redirect listening where the TLS port
 * does. `tls` and `redirectToHttps` are set only when written, so a plain Route's spec is what it was before them.
 */
export function toRouteSpec(s: Obj): RouteSpec {
  const publish = toPublish(s.publish as Obj);
  const spec: RouteSpec = { publish, rules: (s.rules as Obj[]).map(toRule) };
  if (Array.isArray(s.tls)) spec.tls = (s.tls as Obj[]).map((t) => ({ hosts: [...(t.hosts as string[])], cert: t.cert as string, key: t.key as string }));
  const r = s.redirectToHttps as Obj | undefined;
  if (r) {
    const host = (r.host as string | undefined) ?? publish.host;
    spec.redirectToHttps = host === undefined ? { port: r.port as number } : { port: r.port as number, host };
  }
  return spec;
}

function toRule(r: Obj): RouteRule {
  const rule: RouteRule = { pathPrefix: (r.pathPrefix as string | undefined) ?? '/', backends: (r.backends as Obj[]).map(toBackend) };
  return typeof r.host === 'string' ? { host: r.host, ...rule } : rule;
}

function toBackend(b: Obj): RouteBackend {
  return { service: b.service as string, weight: (b.weight as number | undefined) ?? 1 };
}
