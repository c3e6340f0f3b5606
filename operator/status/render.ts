/** Human-readable status for `berth status` and `berth apply`. */
import type { StatusDoc } from './report.ts';

export function renderStatusText(doc: StatusDoc): string {
  const rev = (r: string | null) => (r ? r.slice(0, 12) : 'none');
  const lines = [
    `instance ${doc.instance}  repo ${doc.source.repo}  branch ${doc.source.branch}  path ${doc.source.path}`,
    `revision applied ${rev(doc.revision.applied)}  latest ${rev(doc.revision.latest)}`,
    '',
    ...doc.conditions.map((c) => `${c.type.padEnd(12)} ${c.status.padEnd(6)} ${c.reason.padEnd(20)} ${c.message}`),
  ];
  const services = Object.entries(doc.services);
  if (services.length) {
    const w = Math.max(8, ...services.map(([k]) => k.length)) + 2;
    lines.push('', `${'SERVICE'.padEnd(w)}${'READY'.padEnd(8)}${'HEALTH'.padEnd(13)}IMAGE`);
    for (const [k, s] of services) {
      lines.push(`${k.padEnd(w)}${`${s.ready}/${s.desired}`.padEnd(8)}${s.health.padEnd(13)}${s.image}`);
      if (s.message) lines.push(`${''.padEnd(w)}${s.message}`);
    }
  }
  if (doc.drift.length) lines.push('', 'drift (not corrected):', ...doc.drift.map((d) => `  ${d}`));
  if (doc.lastError) lines.push('', `last error (${doc.lastError.code}): ${doc.lastError.message}`);
  return lines.join('\n');
}
