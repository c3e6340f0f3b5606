/**
 * spec.securityContext of a Service: contradictions the schema cannot express (errors), and privileged mode, valid but
 * worth a reviewer's eye (a warning: a privileged replica can take over its Docker host).
 */
import type { ManifestWarning } from '../model/errors.ts';
import type { ServiceManifest } from '../model/manifest.ts';
import { formatPath } from './path.ts';
import type { Entry } from './semantic.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';

/** Reports one issue at `path` of `doc`. */
export type SecurityReport = (doc: RawDoc, path: PathSegment[], message: string) => void;

const CONTEXT: PathSegment[] = ['spec', 'securityContext'];

/** A capability both added and dropped (the engine would silently add it); escalation refused to a privileged replica. */
export function checkSecurityContext(doc: RawDoc, m: ServiceManifest, report: SecurityReport): void {
  const sc = m.spec.securityContext;
  if (!sc) return;
  sc.capAdd.forEach((cap, i) => {
    const j = sc.capDrop.indexOf(cap);
    if (j >= 0) report(doc, [...CONTEXT, 'capAdd', i], `${cap} is also in capDrop (${formatPath([...CONTEXT, 'capDrop', j])}): add or drop a capability, not both`);
  });
  if (sc.privileged && !sc.allowPrivilegeEscalation) {
    report(doc, [...CONTEXT, 'allowPrivilegeEscalation'], 'cannot be false with privileged: true (a privileged container has every privilege already)');
  }
}

/** One warning per typed Service with `privileged: true`, at that field. */
export function securityWarnings(entries: readonly Entry[]): ManifestWarning[] {
  const warnings: ManifestWarning[] = [];
  for (const { doc, manifest } of entries) {
    if (manifest?.kind !== 'Service') continue;
    const unconfined = manifest.spec.container?.securityOpt?.indexOf('seccomp=unconfined') ?? -1;
    if (unconfined >= 0) {
      const path: PathSegment[] = ['spec', 'securityOpt', unconfined];
      const { file, line, col } = doc.loc.at(path);
      warnings.push({ file, line, col, field: formatPath(path), message: `Service ${manifest.metadata.namespace}/${manifest.metadata.name} runs without a seccomp filter: every system call reaches the host kernel` });
    }
    if (!manifest.spec.securityContext?.privileged) continue;
    const path = [...CONTEXT, 'privileged'];
    const { file, line, col } = doc.loc.at(path);
    const message = `Service ${manifest.metadata.namespace}/${manifest.metadata.name} runs privileged: every capability and every host device, enough to take over the Docker host`;
    warnings.push({ file, line, col, field: formatPath(path), message });
  }
  return warnings;
}
