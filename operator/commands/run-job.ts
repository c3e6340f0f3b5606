/** `berth run-job <namespace>/<name>`: one run of a CronJob's template now, on a running berth (POST /v1/cronjobs/<ns>/<name>/run). */
import type { Flags } from '../settings/flags.ts';
import { settingsFor } from '../settings/settings.ts';
import { apiJson, clientFailure } from './api-client.ts';
import type { Io } from './shared.ts';
import { formatValue } from './output.ts';

interface Answer {
  cronJob: string;
  run: string;
  started: boolean;
  message?: string;
}

export async function runJob(flags: Flags, positionals: string[], io: Io): Promise<number> {
  const [key, ...more] = positionals;
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(key ?? '');
  if (!m || more.length) {
    io.err('berth: usage: berth run-job <namespace>/<name> (a CronJob of the revision in force)');
    return 1;
  }
  try {
    const s = settingsFor('run-job', flags);
    const a = await apiJson<Answer>(s.client, 'POST', `v1/cronjobs/${encodeURIComponent(m[1]!)}/${encodeURIComponent(m[2]!)}/run`);
    io.out(s.output === 'json' ? JSON.stringify(a) : formatValue(s.output, a, () => a.started ? `cronjob ${a.cronJob}: run ${a.run} started` : `cronjob ${a.cronJob}: run ${a.run} asked for, not started yet (berth status shows it)`));
    return 0;
  } catch (err) {
    const f = clientFailure(err);
    io.err(f.line);
    return f.exit;
  }
}
