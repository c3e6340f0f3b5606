/** Checks of a Service's spec.networks: known Networks, no duplicates, and a common network with each dependency. */
import type { ServiceManifest } from '../../../model/manifest.ts';
import { resourceKey } from '../../../model/keys.ts';
import type { RawDoc } from '../../yaml-source.ts';
import { DEFAULT_NETWORK } from '../network/checks.ts';
import type { CheckContext, Report } from '../types.ts';
import { joinedNetworks } from './networks.ts';

/** Each entry names `default` or a Network of the namespace, once. */
export function checkNetworkRefs(doc: RawDoc, m: ServiceManifest, ctx: CheckContext, report: Report): void {
  const seen = new Map<string, number>();
  (m.spec.networks ?? []).forEach((r, i) => {
    const at = ['spec', 'networks', i, 'name'];
    const prev = seen.get(r.name);
    if (prev !== undefined) report(doc, at, `duplicate network "${r.name}" (also spec.networks[${prev}])`);
    else seen.set(r.name, i);
    if (r.name !== DEFAULT_NETWORK && !ctx.declared.has(`Network\0${resourceKey(m.metadata.namespace, r.name)}`)) {
      report(doc, at, `no Network "${r.name}" in namespace "${m.metadata.namespace}" (declare a kind: Network, or use "${DEFAULT_NETWORK}", the namespace's own network)`);
    }
  });
}

/**
 * A dependency is reached by its service name, which resolves only on a network both join: a dependsOn entry naming a
 * service with no network in common is an error at that entry (a missing service is reported elsewhere).
 */
export function checkDependencyNetworks(doc: RawDoc, m: ServiceManifest, ctx: CheckContext, report: Report): void {
  const mine = new Set(joinedNetworks(m));
  m.spec.dependsOn.forEach((dep, i) => {
    const found = ctx.services.get(resourceKey(m.metadata.namespace, dep));
    if (!found || dep === m.metadata.name) return;
    const theirs = joinedNetworks(found.m);
    if (theirs.some((n) => mine.has(n))) return;
    report(doc, ['spec', 'dependsOn', i], `no common network with "${dep}" (${m.metadata.name} joins ${[...mine].join(', ')}; ${dep} joins ${theirs.join(', ')}), so ${dep} cannot be reached by name: add a network both list in spec.networks`);
  });
}
