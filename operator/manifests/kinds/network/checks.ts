/** Checks of Networks the schema cannot express: the driver, the reserved name `default`, reserved label keys. */
import type { NetworkManifest } from '../../../model/manifest.ts';
import type { Report } from '../types.ts';
import type { RawDoc } from '../../yaml-source.ts';

/** The name a Service's spec.networks uses for its namespace's own network; no Network may take it. */
export const DEFAULT_NETWORK = 'default';

/** Per Network: bridge only, not named `default`, no `berth.` label keys. */
export function checkNetwork(doc: RawDoc, m: NetworkManifest, report: Report): void {
  if (m.metadata.name === DEFAULT_NETWORK) {
    report(doc, ['metadata', 'name'], `"${DEFAULT_NETWORK}" is the namespace's own network (what a Service without spec.networks joins, and what spec.networks calls "${DEFAULT_NETWORK}"): choose another name`);
  }
  if (m.spec.driver !== 'bridge') {
    report(doc, ['spec', 'driver'], `driver ${JSON.stringify(m.spec.driver)} is not supported: berth's engines are single Docker hosts without swarm, where only the bridge driver connects containers by name (overlay needs swarm; macvlan and ipvlan are not supported yet)`);
  }
  for (const key of Object.keys(m.spec.labels)) {
    if (key.startsWith('berth.')) report(doc, ['spec', 'labels', key], 'label keys starting with "berth." are reserved for berth', 'key');
  }
}
