/** `berth run`: the operator until SIGINT or SIGTERM. */
import type { Flags } from '../settings/flags.ts';
import { runOperator } from './operator.ts';
import { settingsFor } from '../settings/settings.ts';
import { logger, type Io } from './shared.ts';

export async function run(flags: Flags, _io: Io): Promise<number> {
  const s = settingsFor('run', flags);
  const log = logger(s.log);
  const op = await runOperator(s, log);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => { log.info('stopping', { signal: sig }); resolve(); };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await op.stop();
  return 0;
}
