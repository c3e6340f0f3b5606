/** `berth audit --since 24h`: the audit trail of a running berth (GET /v1/audit; admin tokens only). */
import type { Flags } from '../settings/flags.ts';
import { asBerthError } from '../model/errors.ts';
import type { AuditEntry } from '../auth/audit.ts';
import { settingsFor } from '../settings/settings.ts';
import { apiJson } from './api-client.ts';
import type { Io } from './shared.ts';
import { EXIT_UNREACHABLE } from './status.ts';
import { formatEntry } from './output.ts';

export async function audit(flags: Flags, io: Io): Promise<number> {
  try {
    const s = settingsFor('audit', flags);
    const { entries } = await apiJson<{ entries: AuditEntry[] }>(s.client, 'GET', `v1/audit?since=${encodeURIComponent(s.since)}`);
    for (const e of entries) {
      io.out(formatEntry(s.output, e, () => `${e.time}  ${e.actor.padEnd(18)} ${e.source.padEnd(15)} ${e.result.padEnd(6)} ${e.action}${e.revision ? ` (revision ${e.revision.slice(0, 7)})` : ''}${e.message ? `: ${e.message}` : ''}`));
    }
    return 0;
  } catch (err) {
    io.err(`berth: ${asBerthError(err, 'E_CONFIG').message.split('\n')[0]}`);
    return EXIT_UNREACHABLE;
  }
}
