/**
 * `berth pause-drift <namespace>/<name> [--reason R]` and `berth resume-drift <namespace>/<name>`: pause and resume drift
 * correction of one Service on a running berth (POST /v1/services/<ns>/<name>/pause-drift|resume-drift; needs an
 * operator or admin token).
 */
import type { Flags } from '../settings/flags.ts';
import { settingsFor } from '../settings/settings.ts';
import { apiJson, clientFailure } from './api-client.ts';
import type { Io } from './shared.ts';
import { formatValue } from './output.ts';

interface PauseAnswer {
  service: string;
  by: string;
  at: string;
  reason?: string;
  alreadyPaused?: boolean;
}

interface ResumeAnswer {
  service: string;
  resumed: boolean;
  pause?: { by: string; at: string; reason?: string };
}

/** `<ns>/<name>` as its two parts, or null. */
function serviceArg(positionals: string[]): [string, string] | null {
  const [key, ...more] = positionals;
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(key ?? '');
  return m && !more.length ? [m[1]!, m[2]!] : null;
}

const route = ([ns, name]: [string, string], verb: 'pause' | 'resume') => `v1/services/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${verb}-drift`;

export async function pauseDrift(flags: Flags, positionals: string[], io: Io): Promise<number> {
  const svc = serviceArg(positionals);
  if (!svc) {
    io.err('berth: usage: berth pause-drift <namespace>/<name> [--reason R] (a Service of the revision in force)');
    return 1;
  }
  try {
    const s = settingsFor('pause-drift', flags);
    const a = await apiJson<PauseAnswer>(s.client, 'POST', route(svc, 'pause'), s.reason !== undefined ? { reason: s.reason } : {});
    const text = () => `${a.alreadyPaused ? 'drift correction already paused' : 'drift correction paused'} for ${a.service} by ${a.by} since ${a.at}${a.reason ? ` (${a.reason})` : ''}; changes from git still apply (berth resume-drift ${a.service} resumes it)`;
    io.out(s.output === 'json' ? JSON.stringify(a) : formatValue(s.output, a, text));
    return 0;
  } catch (err) {
    const f = clientFailure(err);
    io.err(f.line);
    return f.exit;
  }
}

export async function resumeDrift(flags: Flags, positionals: string[], io: Io): Promise<number> {
  const svc = serviceArg(positionals);
  if (!svc) {
    io.err('berth: usage: berth resume-drift <namespace>/<name>');
    return 1;
  }
  try {
    const s = settingsFor('resume-drift', flags);
    const a = await apiJson<ResumeAnswer>(s.client, 'POST', route(svc, 'resume'));
    const text = () => (a.resumed ? `drift correction of ${a.service} resumed (it was paused by ${a.pause?.by ?? '?'} since ${a.pause?.at ?? '?'}); the next pass corrects its drift` : `drift correction of ${a.service} was not paused`);
    io.out(s.output === 'json' ? JSON.stringify(a) : formatValue(s.output, a, text));
    return 0;
  } catch (err) {
    const f = clientFailure(err);
    io.err(f.line);
    return f.exit;
  }
}
