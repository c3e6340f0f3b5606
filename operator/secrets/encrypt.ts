/**
 * Encrypting a file for age recipients (what `berth secret encrypt` does): the recipients are given, or taken from the
 * first creation rule of the nearest `.sops.yaml` whose `path_regex` matches the file (the file SOPS users already
 * keep), as `sops` picks them. The output is an armored age file, which a `kind: Secret` (or a compose secret) reads.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { armor, Encrypter } from 'age-encryption';
import { RE2JS } from 're2js';
import { parse } from 'yaml';
import { BerthError } from '../model/errors.ts';

/** Larger plaintexts are refused (a Secret's file is at most 1 MiB once encrypted). */
export const MAX_PLAINTEXT_BYTES = 512 * 1024;
const AGE_RECIPIENT = /^age1[0-9a-z]{58}$/;
const MAX_CONFIG_BYTES = 1024 * 1024;

export async function encryptForRecipients(plaintext: Buffer, recipients: readonly string[]): Promise<string> {
  if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new BerthError('E_CONFIG', `the file is ${plaintext.length} bytes; a secret holds at most ${MAX_PLAINTEXT_BYTES}`);
  if (!recipients.length) throw new BerthError('E_CONFIG', 'no recipient: give --recipient age1... or a .sops.yaml creation rule with age recipients');
  const e = new Encrypter();
  for (const r of recipients) {
    if (!AGE_RECIPIENT.test(r)) throw new BerthError('E_CONFIG', `recipient ${JSON.stringify(r.slice(0, 80))} is not an age X25519 recipient (age1 followed by 58 characters)`);
    e.addRecipient(r);
  }
  return armor.encode(await e.encrypt(new Uint8Array(plaintext)));
}

/**
 * The age recipients of the first creation rule of the nearest `.sops.yaml` (from the file's directory up to `stop`)
 * whose path_regex matches the file's path relative to that `.sops.yaml`; undefined when there is no such file.
 */
export function sopsConfigRecipients(file: string, stop = path.parse(path.resolve(file)).root): { config: string; recipients: string[] } | undefined {
  const abs = path.resolve(file);
  for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
    const config = path.join(dir, '.sops.yaml');
    if (existsSync(config)) return { config, recipients: ruleRecipients(config, path.relative(dir, abs).split(path.sep).join('/')) };
    if (dir === stop || path.dirname(dir) === dir) return undefined;
  }
}

function ruleRecipients(config: string, rel: string): string[] {
  let doc: { creation_rules?: { path_regex?: string; age?: string | string[] }[] };
  const size = statSync(config).size;
  if (size > MAX_CONFIG_BYTES) throw new BerthError('E_CONFIG', `${config} is ${size} bytes; a .sops.yaml is read up to ${MAX_CONFIG_BYTES}`);
  try {
    doc = parse(readFileSync(config, 'utf8'), { maxAliasCount: 0 }) as typeof doc;
  } catch (err) {
    throw new BerthError('E_CONFIG', `${config}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  for (const [i, rule] of (doc?.creation_rules ?? []).entries()) {
    let matches = true;
    if (rule.path_regex !== undefined) {
      try {
        matches = RE2JS.compile(rule.path_regex).matcher(rel).find(); // SOPS: Go regexp, unanchored
      } catch {
        throw new BerthError('E_CONFIG', `${config}: creation_rules[${i}].path_regex does not compile`);
      }
    }
    if (!matches) continue;
    const age = Array.isArray(rule.age) ? rule.age : (rule.age ?? '').split(',');
    return age.map((r) => r.trim()).filter(Boolean);
  }
  return [];
}
