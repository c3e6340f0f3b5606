/** `berth secret encrypt <file>`: writes <file>.age, the file encrypted for its age recipients (never printing the plaintext). */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { BerthError } from '../model/errors.ts';
import { encryptForRecipients, sopsConfigRecipients } from '../secrets/encrypt.ts';
import type { Flags } from '../settings/flags.ts';
import { settingsFor } from '../settings/settings.ts';
import type { Io } from './shared.ts';

export async function secret(flags: Flags, positionals: string[], io: Io): Promise<number> {
  const s = settingsFor('secret', flags);
  const [verb, file, ...extra] = positionals;
  if (verb !== 'encrypt' || !file || extra.length) throw new BerthError('E_CONFIG', 'usage: berth secret encrypt <file> [--recipient age1...]... [--output F]');
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw new BerthError('E_CONFIG', `secret encrypt: ${file} is not a file`);
  const fromConfig = s.recipients.length ? undefined : sopsConfigRecipients(file);
  const recipients = s.recipients.length ? s.recipients : fromConfig?.recipients ?? [];
  const armored = await encryptForRecipients(readFileSync(file), recipients);
  const output = s.output ?? `${file}.age`;
  writeFileSync(output, armored, { mode: 0o644 });
  io.err(`berth: ${output} written for ${recipients.length} recipient(s)${fromConfig ? ` (from ${fromConfig.config})` : ''}; commit it, not ${file}`);
  return 0;
}
