/** `berth validate <dir>`: checks a manifests directory; exit 1 with file:line:col errors; warnings go to stderr, exit 0. */
import { statSync } from 'node:fs';
import type { Flags } from '../settings/flags.ts';
import { loadDesired } from '../manifests/index.ts';
import { BerthError, ValidationError, formatIssue, formatWarning } from '../model/errors.ts';
import { settingsFor } from '../settings/settings.ts';
import { fsSnapshot } from '../source/fs-snapshot.ts';
import { loadOptions, type Io } from './shared.ts';

export async function validate(flags: Flags, positionals: string[], io: Io): Promise<number> {
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new BerthError('E_CONFIG', 'usage: berth validate <dir> (one directory)');
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new BerthError('E_CONFIG', `validate: ${dir} is not a directory`);
  const s = settingsFor('validate', flags);
  try {
    const desired = await loadDesired(fsSnapshot(dir), loadOptions(s.manifests, 'validate'));
    if (desired.warnings) io.err(desired.warnings.map(formatWarning).join('\n'));
    io.out(`${dir}: ${desired.services.length} service(s), ${desired.volumes.length} volume(s): valid`);
    return 0;
  } catch (err) {
    if (err instanceof ValidationError) {
      io.err(err.issues.map(formatIssue).join('\n'));
      return 1;
    }
    throw err;
  }
}
