import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { armor, Encrypter } from 'age-encryption';
import { stringify } from 'yaml';
import { secretErrorCatcher } from '../../test/doubles/secret-errors.ts';
import { readAgeKeyFile } from './keys.ts';
import { MAX_SOPS_BYTES, decryptSops, goFormatFloat, isSopsDocument, type SopsFormat } from './sops.ts';

const FIX = fileURLToPath(new URL('../../test/fixtures/secrets/', import.meta.url));
const fx = (p: string): string => readFileSync(join(FIX, p), 'utf8');
const DISTINCT = 'sekrit-7f3a9c-DISTINCT';
const PUB = 'age146uzw9wstmljcnrql6nak4mulr60kfmf6ec52u5quluc2ymuha0smqdkm0';
const OTHER_PUB = 'age1kggt8v6f9759khmdsqm4crl0czqycfxqejs96axd94hyn6rrveys7sxxsn';

let ids: string[];
let otherIds: string[];
beforeAll(async () => {
  ids = await readAgeKeyFile(join(FIX, 'age/key.txt'));
  otherIds = await readAgeKeyFile(join(FIX, 'age/other-key.txt'));
});

// -------------------------------------------------------------------------------------------------------------------
// An independent SOPS encryptor, written from the SOPS source (sops.go Tree.Encrypt / ToBytes, aes/cipher.go Encrypt,
// cmd/sops/common.go EncryptTree: mac encrypted with lastmodified as additional data), not from operator/secrets/sops.ts.
// The data key is encrypted with the `age` CLI (armored), as SOPS's age master key does.

/** A float that is integral (JS cannot tell 2 from 2.0). */
class F { constructor(readonly v: number) {} }
/** A cleartext YAML plain scalar written as is; `mac` is what SOPS's ToBytes gives for go-yaml v3's reading of it
 *  (null: go-yaml reads null, which is not hashed). Worked out by hand from go-yaml resolve.go and Go's time package. */
class Raw { constructor(readonly src: string, readonly mac: string | null) {} }
type Plain = string | number | boolean | null | F | Raw | Plain[] | { [k: string]: Plain };

interface EncOpts {
  recipients?: string[];
  rule?: { unencrypted_suffix?: string; encrypted_suffix?: string; encrypted_regex?: string; unencrypted_regex?: string };
  macOnlyEncrypted?: boolean;
  lastmodified?: string;
  extraMeta?: Record<string, unknown>;
}

function gcm(key: Buffer, plain: Buffer, aad: string, type: string): string {
  const iv = randomBytes(32);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const data = Buffer.concat([c.update(plain), c.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${c.getAuthTag().toString('base64')},type:${type}]`;
}

const hasAgeCli = ((): boolean => {
  try {
    execFileSync('age', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The data key for one recipient, armored, by the `age` CLI (scripts/provision.sh installs it); typage otherwise. */
async function ageEncrypt(data: Buffer, recipient: string): Promise<string> {
  if (hasAgeCli) return execFileSync('age', ['-a', '-r', recipient], { input: data, encoding: 'utf8' });
  const e = new Encrypter();
  e.addRecipient(recipient);
  return armor.encode(await e.encrypt(data));
}

async function sopsEncrypt(tree: Record<string, Plain>, format: SopsFormat, o: EncOpts = {}): Promise<string> {
  const key = randomBytes(32);
  const rule = o.rule ?? { unencrypted_suffix: '_unencrypted' };
  const hash = createHash('sha512');
  if (o.macOnlyEncrypted) hash.update(createHash('sha256').update('sops').digest());
  const shouldEncrypt = (path: string[]): boolean => {
    if (rule.unencrypted_suffix) return !path.some((k) => k.endsWith(rule.unencrypted_suffix!));
    if (rule.encrypted_suffix) return path.some((k) => k.endsWith(rule.encrypted_suffix!));
    if (rule.unencrypted_regex) return !path.some((k) => new RegExp(rule.unencrypted_regex!).test(k));
    if (rule.encrypted_regex) return path.some((k) => new RegExp(rule.encrypted_regex!).test(k));
    return true;
  };
  const raws: string[] = [];
  const walk = (v: Plain, path: string[]): unknown => {
    if (v === null) return null;
    if (v instanceof Raw) {
      if (shouldEncrypt(path)) throw new Error('Raw values are cleartext only');
      if (v.mac !== null) hash.update(v.mac);
      raws.push(v.src);
      return `RAWPLACEHOLDER${raws.length - 1}X`;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, path));
    if (typeof v === 'object' && !(v instanceof F) && !(v instanceof Raw)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, [...path, k])]));
    let bytes: string;
    let type: string;
    if (typeof v === 'string') { bytes = v; type = 'str'; }
    else if (typeof v === 'boolean') { bytes = v ? 'True' : 'False'; type = 'bool'; }
    else if (v instanceof F) { bytes = String(v.v); type = 'float'; }
    else if (Number.isInteger(v)) { bytes = String(v); type = 'int'; }
    else { bytes = String(v); type = 'float'; }
    const enc = shouldEncrypt(path);
    if (!o.macOnlyEncrypted || enc) hash.update(bytes);
    if (!enc) return v instanceof F ? v.v : v;
    if (v === '') return '';
    return gcm(key, Buffer.from(bytes), path.join(':') + ':', type);
  };
  const body = walk(tree, []) as Record<string, unknown>;
  const lastmodified = o.lastmodified ?? '2026-12-02T10:00:00Z';
  const mac = gcm(key, Buffer.from(hash.digest('hex').toUpperCase()), lastmodified, 'str');
  const sops: Record<string, unknown> = {
    age: await Promise.all((o.recipients ?? [PUB]).map(async (r) => ({ recipient: r, enc: await ageEncrypt(key, r) }))),
    lastmodified,
    mac,
    ...(o.macOnlyEncrypted ? { mac_only_encrypted: true } : {}),
    ...rule,
    version: '3.9.0',
    ...o.extraMeta,
  };
  const doc = { ...body, sops };
  const out = format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : stringify(doc);
  return out.replace(/RAWPLACEHOLDER(\d+)X/g, (_m, i: string) => raws[Number(i)]!);
}

const messages: string[] = [];
const refused = secretErrorCatcher(messages);

const NESTED: Record<string, Plain> = {
  db: { user: 'admin', password: DISTINCT, port: 5432, ratio: 0.75, big: 2 ** 53, tls: true, off: false, none: null, empty: '' },
  list: [{ name: 'a', token: DISTINCT + '-1' }, 'plain item', 42, [1.5, 'x'], new F(2)],
  'dotted.key': 'ok',
  '0word': 'digits first',
  note_unencrypted: 'readable',
  port_unencrypted: 8080,
  ratio_unencrypted: -0.125,
  flag_unencrypted: false,
  unicode: 'ünïcødé ✓',
  multiline: 'line 1\nline 2\n',
};

// -------------------------------------------------------------------------------------------------------------------

describe('decryptSops: real SOPS output (third-party vectors)', () => {
  it('humphd/sops-age YAML (sops 3.8.1): types, nested map, list; MAC verified', async () => {
    const { data, values } = await decryptSops(fx('sops-age-humphd/secret.enc.yaml'), 'yaml', await readAgeKeyFile(join(FIX, 'sops-age-humphd/key.txt')));
    const expected = JSON.parse(fx('sops-age-humphd/secret.json')) as Record<string, unknown>;
    delete expected['0word'];
    expect(data).toEqual(expected);
    expect(values).toEqual({
      secret: 'this is a secret', string: 'string', int: '7', float: '3.14', boolean: 'true',
      'complex.value': 'this is a secret', 'complex.array.0': 'one', 'complex.array.1': 'two', 'complex.array.2': 'three',
    });
  });

  it('humphd/sops-age JSON (sops 3.9.2)', async () => {
    const { data } = await decryptSops(fx('sops-age-humphd/secret.enc.json'), 'json', await readAgeKeyFile(join(FIX, 'sops-age-humphd/key.txt')));
    expect(data).toEqual(JSON.parse(fx('sops-age-humphd/secret.json')));
  });

  it('Flux Secrets with encrypted_regex (cleartext metadata under the MAC), X25519 and post-quantum', async () => {
    const a = await decryptSops(fx('flux/algorithms-age.yaml'), 'yaml', await readAgeKeyFile(join(FIX, 'flux/keys-age.txt')));
    expect(a.values).toEqual({ apiVersion: 'v1', kind: 'Secret', 'metadata.name': 'age', 'stringData.key': 'value' });
    const pq = await decryptSops(fx('flux/algorithms-age-pq.yaml'), 'yaml', await readAgeKeyFile(join(FIX, 'flux/keys-age-pq.txt')));
    expect(pq.values['stringData.key']).toBe('value');
    const g = await decryptSops(fx('flux/global-secret.yaml'), 'yaml', await readAgeKeyFile(join(FIX, 'flux/keys-age-global.txt')));
    expect(g.data).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'global-age-secret', namespace: 'default' }, type: 'Opaque', stringData: { key: 'global-value' } });
  });

  it('a changed cleartext field of a real Flux file is a MAC mismatch', async () => {
    const keys = await readAgeKeyFile(join(FIX, 'flux/keys-age.txt'));
    const e = await refused(decryptSops(fx('flux/algorithms-age.yaml').replace('name: age', 'name: agf'), 'yaml', keys, { what: 'flux/age.yaml' }));
    expect(e.reason).toBe('mac-mismatch');
    expect(e.message).toContain('flux/age.yaml');
  });
});

describe('decryptSops: files made by the independent encryptor', () => {
  for (const format of ['yaml', 'json'] as const) {
    it(`${format}: nested maps, lists (of maps), int/float/bool/null/empty, unencrypted_suffix`, async () => {
      const text = await sopsEncrypt(NESTED, format, { recipients: [OTHER_PUB, PUB] });
      expect(text).not.toContain(DISTINCT);
      expect(text).toContain('readable'); // the _unencrypted value stays clear
      expect(isSopsDocument(text, format)).toBe(true);
      const { data, values } = await decryptSops(text, format, ids);
      expect(data).toEqual({ ...NESTED, db: { ...(NESTED['db'] as object), big: '9007199254740992' }, list: [{ name: 'a', token: DISTINCT + '-1' }, 'plain item', 42, [1.5, 'x'], 2] });
      expect(values).toMatchObject({
        'db.password': DISTINCT, 'db.port': '5432', 'db.ratio': '0.75', 'db.big': '9007199254740992', 'db.tls': 'true',
        'db.off': 'false', 'db.none': '', 'db.empty': '', 'list.0.name': 'a', 'list.0.token': DISTINCT + '-1',
        'list.1': 'plain item', 'list.2': '42', 'list.3.0': '1.5', 'list.4': '2', 'dotted.key': 'ok',
        note_unencrypted: 'readable', port_unencrypted: '8080', ratio_unencrypted: '-0.125', flag_unencrypted: 'false',
        multiline: 'line 1\nline 2\n',
      });
    });
  }

  it('cleartext YAML scalars are typed as go-yaml v3 reads them, for the MAC', async () => {
    const cases: Array<[string, string | null, string]> = [
      // [plain scalar in the file, ToBytes of go-yaml's value, values[] result]
      ['0755', '493', '493'],            // 1.1-style octal, still read by go-yaml v3
      ['0o17', '15', '15'],
      ['0x1F', '31', '31'],
      ['-0b101', '-5', '-5'],
      ['1_000', '1000', '1000'],
      ['09', '9', '9'],                  // not octal: falls through to float 9
      ['1e3', '1000', '1000'],
      ['.5', '0.5', '0.5'],
      ['+.inf', '+Inf', '+Inf'],
      ['-12.50', '-12.5', '-12.5'],
      ['True', 'True', 'true'],
      ['FALSE', 'False', 'false'],
      ['yes', 'yes', 'yes'],             // YAML 1.1 booleans are strings in v3
      ['on', 'on', 'on'],
      ['~', null, ''],
      ['Null', null, ''],
      ['2024-01-02', '2024-01-02T00:00:00Z', '2024-01-02'],
      ['2024-1-2 3:04:05.5', '2024-01-02T03:04:05.5Z', '2024-1-2 3:04:05.5'],
      ['2024-01-02t03:04:05.120+00:00', '2024-01-02T03:04:05.12Z', '2024-01-02t03:04:05.120+00:00'],
      ['2024-01-02T03:04:05-07:30', '2024-01-02T03:04:05-07:30', '2024-01-02T03:04:05-07:30'],
      ['2024-02-30', '2024-02-30', '2024-02-30'], // not a date: a string
      ['12:30', '12:30', '12:30'],       // sexagesimal is not supported by go-yaml: a string
      ['0x', '0x', '0x'],
      ['1.2.3', '1.2.3', '1.2.3'],
    ];
    const tree: Record<string, Plain> = { secret: DISTINCT };
    cases.forEach(([src, mac], i) => { tree[`v${i}_unencrypted`] = new Raw(src, mac); });
    const text = await sopsEncrypt(tree, 'yaml');
    expect(text).toContain('v0_unencrypted: 0755\n');
    const { values } = await decryptSops(text, 'yaml', ids);
    cases.forEach(([, , shown], i) => expect(values[`v${i}_unencrypted`], cases[i]![0]).toBe(shown));
    // a uint64-only integer cannot come from SOPS (it cannot walk uint64): refused
    const e = await refused(decryptSops(await sopsEncrypt({ a: 'x', n_unencrypted: new Raw('18446744073709551615', '') }, 'yaml'), 'yaml', ids));
    expect(e.reason).toBe('malformed');
  });

  it('encrypted_regex (Kubernetes style), unencrypted_regex, encrypted_suffix', async () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', labels: { tier: 'data' } }, stringData: { password: DISTINCT, port: 5432 } };
    for (const rule of [{ encrypted_regex: '^(data|stringData)$' }, { unencrypted_regex: '^(apiVersion|kind|metadata)$' }]) {
      const text = await sopsEncrypt(secret, 'yaml', { rule });
      expect(text).toContain('name: db');
      const { data } = await decryptSops(text, 'yaml', ids);
      expect(data).toEqual(secret);
      const e = await refused(decryptSops(text.replace('tier: data', 'tier: web'), 'yaml', ids));
      expect(e.reason).toBe('mac-mismatch');
    }
    const t = await sopsEncrypt({ pw_enc: DISTINCT, user: 'me' }, 'json', { rule: { encrypted_suffix: '_enc' } });
    expect(t).toContain('"user": "me"');
    expect((await decryptSops(t, 'json', ids)).values).toEqual({ pw_enc: DISTINCT, user: 'me' });
  });

  it('mac_only_encrypted: cleartext may change, encrypted values may not', async () => {
    const secret = { metadata: { name: 'db' }, stringData: { password: DISTINCT } };
    const text = await sopsEncrypt(secret, 'yaml', { rule: { encrypted_regex: '^stringData$' }, macOnlyEncrypted: true });
    expect((await decryptSops(text, 'yaml', ids)).data).toEqual(secret);
    expect((await decryptSops(text.replace('name: db', 'name: other'), 'yaml', ids)).values['metadata.name']).toBe('other');
    // Dropping the flag changes the MAC's seed: refused.
    expect((await refused(decryptSops(text.replace('mac_only_encrypted: true', 'mac_only_encrypted: false'), 'yaml', ids))).reason).toBe('mac-mismatch');
  });

  it('tampered values are refused', async () => {
    const text = await sopsEncrypt({ a: DISTINCT, b: 'other value', c: { d: 'x' }, e: ['1', '2'], note_unencrypted: 'hello' }, 'yaml');
    const enc = (k: string): string => new RegExp(`^${k}: (ENC\\[.*\\])$`, 'm').exec(text)![1]!;
    // swap two encrypted values: each fails its additional data (the path)
    const swapped = text.replace(enc('a'), '@@A').replace(enc('b'), enc('a')).replace('@@A', enc('b'));
    const e1 = await refused(decryptSops(swapped, 'yaml', ids));
    expect(e1.reason).toBe('mac-mismatch');
    expect(e1.path).toBe('a');
    // a flipped ciphertext byte
    const flipped = text.replace(/^(a: ENC\[AES256_GCM,data:)(.)/m, (_m, p: string, ch: string) => p + (ch === 'A' ? 'B' : 'A'));
    expect((await refused(decryptSops(flipped, 'yaml', ids))).reason).toBe('mac-mismatch');
    // a changed cleartext value, a deleted value, two list items swapped: the MAC catches them
    expect((await refused(decryptSops(text.replace('note_unencrypted: hello', 'note_unencrypted: hellp'), 'yaml', ids))).reason).toBe('mac-mismatch');
    expect((await refused(decryptSops(text.replace(/^b: .*\n/m, ''), 'yaml', ids))).reason).toBe('mac-mismatch');
    const items = /^e:\n {2}- (.*)\n {2}- (.*)\n/m.exec(text)!;
    expect((await refused(decryptSops(text.replace(items[0], `e:\n  - ${items[2]}\n  - ${items[1]}\n`), 'yaml', ids))).reason).toBe('mac-mismatch');
    // a value replaced by plaintext where the rules say it is encrypted
    const e2 = await refused(decryptSops(text.replace(enc('a'), 'not-encrypted-now'), 'yaml', ids));
    expect(e2.reason).toBe('malformed');
    expect(e2.path).toBe('a');
  });

  it('a tampered, missing or re-dated MAC is refused', async () => {
    const text = await sopsEncrypt({ a: DISTINCT }, 'json');
    const mac = /"mac": "(ENC\[[^"]*\])"/.exec(text)![1]!;
    const bad = mac.replace(/data:(.)/, (_m, ch: string) => `data:${ch === 'A' ? 'B' : 'A'}`);
    expect((await refused(decryptSops(text.replace(mac, bad), 'json', ids))).reason).toBe('mac-mismatch');
    expect((await refused(decryptSops(text.replace(mac, ''), 'json', ids))).reason).toBe('mac-mismatch');
    expect((await refused(decryptSops(text.replace('2026-12-02T10:00:00Z', '2026-12-02T10:00:01Z'), 'json', ids))).reason).toBe('mac-mismatch');
    // a MAC from another file under the same data key cannot be made without the key: swap in another file's MAC
    const other = await sopsEncrypt({ a: 'different' }, 'json');
    const otherMac = /"mac": "(ENC\[[^"]*\])"/.exec(other)![1]!;
    expect((await refused(decryptSops(text.replace(mac, otherMac), 'json', ids))).reason).toBe('mac-mismatch');
  });

  it('lastmodified is re-formatted as RFC 3339 for the MAC (offset +00:00 → Z, fraction dropped)', async () => {
    const text = await sopsEncrypt({ a: 'x' }, 'yaml', { lastmodified: '2026-12-02T10:00:00Z' });
    expect((await decryptSops(text.replace(/lastmodified: .*/, "lastmodified: '2026-12-02T10:00:00.123+00:00'"), 'yaml', ids)).values).toEqual({ a: 'x' });
  });

  it('a file for another recipient is no-key, naming the key source', async () => {
    const text = await sopsEncrypt({ a: DISTINCT }, 'yaml', { recipients: [OTHER_PUB] });
    const e = await refused(decryptSops(text, 'yaml', ids, { what: 'secrets/db.sops.yaml', keySource: '/etc/berth/age.txt' }));
    expect(e.reason).toBe('no-key');
    expect(e.message).toBe('secrets/db.sops.yaml: not encrypted for any key in /etc/berth/age.txt (no identity matches its 1 age recipient(s))');
    expect((await refused(decryptSops(text, 'yaml', []))).reason).toBe('no-key');
    expect((await decryptSops(text, 'yaml', [...ids, ...otherIds])).values).toEqual({ a: DISTINCT });
  });

  it('PGP/KMS-only files are no-key; Shamir key groups and comment regexes are unsupported', async () => {
    const pgpOnly = fx('flux/algorithms-age.yaml').replace('  pgp: []\n', '').replace(/ {2}age:\n(?: {4}.*\n)+/, '  pgp:\n    - fp: ABC\n      enc: x\n      created_at: "2024-01-01T00:00:00Z"\n');
    const e = await refused(decryptSops(pgpOnly, 'yaml', ids));
    expect(e.reason).toBe('no-key');
    expect(e.message).toContain('pgp');
    const shamir = await sopsEncrypt({ a: 'x' }, 'json', { recipients: [], extraMeta: { key_groups: [{ age: [{ recipient: PUB, enc: 'x' }] }, { age: [{ recipient: OTHER_PUB, enc: 'y' }] }], shamir_threshold: 2 } });
    expect((await refused(decryptSops(shamir, 'json', ids))).reason).toBe('unsupported');
    const cr = await sopsEncrypt({ a: 'x' }, 'json', { extraMeta: { unencrypted_comment_regex: 'nope' } });
    expect((await refused(decryptSops(cr, 'json', ids))).reason).toBe('unsupported');
    const two = await sopsEncrypt({ a: 'x' }, 'json', { extraMeta: { encrypted_regex: '^a$' } });
    expect((await refused(decryptSops(two, 'json', ids))).reason).toBe('malformed');
  });

  it('a single key_groups entry works like top-level keys', async () => {
    const text = await sopsEncrypt({ a: DISTINCT }, 'yaml');
    const grouped = text.replace(/^sops:\n {2}age:\n/m, 'sops:\n  key_groups:\n    - age:\n').replace(/^( {4}- recipient.*\n(?: {6}.*\n)+)/m, (m) => m.replace(/^(?=.)/gm, '    '));
    expect(grouped).toContain('key_groups');
    expect((await decryptSops(grouped, 'yaml', ids)).values).toEqual({ a: DISTINCT });
  });

  it('plain files are not-encrypted; garbage is malformed', async () => {
    for (const [text, format] of [[`password: ${DISTINCT}\n`, 'yaml'], [`{"password": "${DISTINCT}"}`, 'json']] as const) {
      expect(isSopsDocument(text, format)).toBe(false);
      const e = await refused(decryptSops(text, format, ids));
      expect(e.reason).toBe('not-encrypted');
    }
    for (const [text, format] of [[`a: [${DISTINCT}\n`, 'yaml'], [`{"a": "${DISTINCT}"`, 'json'], [`{"a": 1, "a": 2, "sops": {}}`, 'json'], [`a: 1\na: ${DISTINCT}\n`, 'yaml'], ['- a\n- b\n', 'yaml'], ['[1]', 'json']] as const) {
      expect(isSopsDocument(text, format)).toBe(false);
      expect((await refused(decryptSops(text, format, ids))).reason).toBe('malformed');
    }
    expect((await refused(decryptSops('a: 1\n---\nb: 2\n', 'yaml', ids))).reason).toBe('unsupported');
    expect(isSopsDocument(fx('flux/algorithms-age.yaml'), 'yaml')).toBe(true);
    expect(isSopsDocument(fx('sops-age-humphd/secret.enc.json'), 'json')).toBe(true);
  });

  it('size limits', async () => {
    const big = `a: "${'x'.repeat(MAX_SOPS_BYTES)}"\n`;
    expect((await refused(decryptSops(big, 'yaml', ids))).reason).toBe('too-large');
    expect((await refused(decryptSops(fx('flux/algorithms-age.yaml'), 'yaml', ids, { maxBytes: 1000 }))).reason).toBe('too-large');
    // an alias bomb expands past the leaf budget
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]', 'sops: {mac: x}'].join('\n');
    expect((await refused(decryptSops(bomb, 'yaml', ids))).reason).toBe('too-large');
    expect((await refused(decryptSops('a: &a [*a]\nsops: {mac: x}\n', 'yaml', ids))).reason).toBe('too-large');
    const deep = '{"a":'.repeat(100) + '1' + '}'.repeat(100);
    expect((await refused(decryptSops(deep, 'json', ids))).reason).toBe('too-large');
  });

  it('decrypts a 100-value file quickly (timing logged)', async () => {
    const tree: Record<string, Plain> = {};
    for (let i = 0; i < 100; i++) tree[`KEY_${i}`] = `${DISTINCT}-${i}-${'v'.repeat(32)}`;
    for (const format of ['yaml', 'json'] as const) {
      const text = await sopsEncrypt(tree, format);
      const runs: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        const { values } = await decryptSops(text, format, ids);
        runs.push(performance.now() - t0);
        expect(Object.keys(values)).toHaveLength(100);
        expect(values['KEY_99']).toBe(`${DISTINCT}-99-${'v'.repeat(32)}`);
      }
      const sorted = [...runs].sort((x, y) => x - y);
      console.log(`[secrets timing] decryptSops ${format}, 100 values, ${text.length} bytes: first ${runs[0]!.toFixed(1)} ms, median ${sorted[2]!.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms`);
      expect(sorted[2]!).toBeLessThan(500);
    }
  });

  it('no error message holds the plaintext', () => {
    expect(messages.length).toBeGreaterThan(25);
    for (const m of messages) {
      expect(m).not.toContain(DISTINCT);
      expect(m).not.toMatch(/AGE-SECRET-KEY/);
    }
  });
});

describe('Go formatting', () => {
  it('goFormatFloat matches strconv.FormatFloat(f, \'f\', -1, 64)', () => {
    expect(goFormatFloat(3.14)).toBe('3.14');
    expect(goFormatFloat(2)).toBe('2');
    expect(goFormatFloat(-0.125)).toBe('-0.125');
    expect(goFormatFloat(1e21)).toBe('1000000000000000000000');
    expect(goFormatFloat(1.5e-7)).toBe('0.00000015');
    expect(goFormatFloat(123456.789)).toBe('123456.789');
    expect(goFormatFloat(-0)).toBe('-0');
    expect(goFormatFloat(Infinity)).toBe('+Inf');
    expect(goFormatFloat(NaN)).toBe('NaN');
  });
});
