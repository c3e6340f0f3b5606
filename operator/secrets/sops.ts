/**
 * Decrypting SOPS documents (YAML and JSON) whose data key is encrypted to age recipients, with node:crypto only: no
 * SOPS binary. The rules follow the SOPS source (github.com/getsops/sops/v3; file names below are from it):
 *
 * - Metadata (stores/stores.go, stores/metadata.go): the top-level `sops` mapping, removed from the tree before the
 *   walk. The data key is in `sops.age[].enc` (an armored age file whose plaintext is the 32-byte key), or in
 *   `sops.key_groups[0].age[]` when there is a single key group (several groups are Shamir shares: refused). At most
 *   one of unencrypted_suffix / encrypted_suffix / unencrypted_regex / encrypted_regex / *_comment_regex; none means
 *   `unencrypted_suffix: _unencrypted`.
 * - Walk (sops.go walkBranch/walkSlice): depth first, in document order; the path is the list of mapping keys down to
 *   the value, list items add nothing to it; null values are skipped (neither decrypted nor hashed).
 * - Which values are encrypted (sops.go shouldBeEncrypted): a key of the path ending with unencrypted_suffix → not;
 *   with encrypted_suffix, only values with a key of the path ending with it; with unencrypted_regex, not when a key
 *   of the path matches; with encrypted_regex, only when a key of the path matches (Go RE2 regexp.Match, unanchored:
 *   re2js here). Comment regexes depend on comment placement and are refused.
 * - Value cipher (aes/cipher.go): `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`, AES-256-GCM with the data
 *   key, the IV as given (32 bytes from SOPS), a 16-byte tag, additional data = the path keys joined with ":" plus a
 *   trailing ":" (e.g. `complex:array:` for every item of the list `complex.array`). An empty string is stored as "".
 *   Types: str, int (strconv.Atoi), float (ParseFloat), bool (ParseBool), bytes, time (RFC 3339), comment.
 * - MAC (sops.go Tree.Decrypt, ToBytes; decrypt/decrypt.go): SHA-512 over the bytes of every non-null leaf in walk
 *   order (only the encrypted ones if `mac_only_encrypted`, the hash then seeded with sha256("sops")), hex upper case;
 *   ToBytes: strings as they are, ints in decimal, floats strconv.FormatFloat(f,'f',-1,64), bools "True"/"False",
 *   times RFC 3339 with nanoseconds. The stored `mac` is itself ENC[...] under the data key with additional data
 *   `lastmodified` parsed and re-formatted as RFC 3339. A mismatch refuses the whole document.
 * - Types of cleartext leaves, which the MAC hashes: YAML plain scalars resolve as go-yaml v3 does (resolve.go:
 *   true/True/TRUE, null/~, ints with 0x/0o/0b/0-octal and `_`, floats, .inf/.nan, timestamps); JSON numbers are
 *   int when they fit int64, else float (stores/json normalizeJSONNumber).
 *
 * Nothing is returned before the MAC is verified. Error messages carry key paths and file-level facts only, never a
 * value (encrypted or not) or key material.
 */

import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { RE2JS } from 're2js';
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, Scalar, type Document } from 'yaml';
import { decryptAge } from './age.ts';
import { SecretError } from './errors.ts';

export type SopsFormat = 'yaml' | 'json';

/** Documents larger than this are refused before parsing. */
export const MAX_SOPS_BYTES = 1024 * 1024;
/** At most this many leaves (after alias expansion) in a document. */
export const MAX_SOPS_LEAVES = 20_000;
/** At most this nesting depth. */
export const MAX_SOPS_DEPTH = 64;

export interface DecryptSopsOptions {
  /** Names the document in messages (e.g. its repository path); defaults to "SOPS document". */
  what?: string;
  /** Names the key source in messages (e.g. the keys file path). */
  keySource?: string;
  /** Overrides MAX_SOPS_BYTES. */
  maxBytes?: number;
}

export interface DecryptedSops {
  /** The plaintext tree, without the `sops` key: objects, arrays, strings, numbers (ints outside the safe range as
   *  decimal strings), booleans, null; timestamps as their text. */
  data: unknown;
  /** Every non-collection leaf, by dotted path (`a.b`, list items `a.0`), as a string: ints in decimal, floats as Go
   *  prints them, booleans `true`/`false`, null as "". */
  values: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// The ordered tree both formats are read into (JS objects would reorder integer-like keys; the MAC is order-bound).

type Leaf =
  | { k: 'str'; s: string }
  | { k: 'int'; s: string }           // canonical decimal (Go strconv.Itoa)
  | { k: 'float'; f: number }
  | { k: 'bool'; b: boolean }
  | { k: 'null' }
  | { k: 'time'; text: string; mac: string }; // source text; RFC 3339 nano re-marshalling for the MAC
type Node = { t: 'map'; items: Array<[string, Node]> } | { t: 'seq'; items: Node[] } | { t: 'leaf'; v: Leaf };

interface Budget { leaves: number }

function fail(reason: SecretError['reason'], message: string, path?: string[]): never {
  throw new SecretError(reason, message, path ? { path: path.join('.') } : {});
}

// ---------------------------------------------------------------------------------------------------------------
// go-yaml v3 scalar resolution (resolve.go), for plain (unquoted, untagged) scalars.

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function resolvePlain(src: string, where: string[]): Leaf {
  switch (src) {
    case 'true': case 'True': case 'TRUE': return { k: 'bool', b: true };
    case 'false': case 'False': case 'FALSE': return { k: 'bool', b: false };
    case '': case '~': case 'null': case 'Null': case 'NULL': return { k: 'null' };
    case '.nan': case '.NaN': case '.NAN': return { k: 'float', f: NaN };
    case '.inf': case '.Inf': case '.INF': case '+.inf': case '+.Inf': case '+.INF': return { k: 'float', f: Infinity };
    case '-.inf': case '-.Inf': case '-.INF': return { k: 'float', f: -Infinity };
  }
  const c = src[0] ?? '';
  if (c === '.') {
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(src)) {
      const f = Number(src);
      if (Number.isFinite(f)) return { k: 'float', f };
    }
    return { k: 'str', s: src };
  }
  if (!/[-+0-9]/.test(c)) return { k: 'str', s: src };
  const ts = goYamlTimestamp(src);
  if (ts !== null) return { k: 'time', text: src, mac: ts };
  const plain = src.replaceAll('_', '');
  // strconv.ParseInt(plain, 0, 64), then ParseUint.
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(plain);
  if (m) {
    const body = m[2] ?? '';
    let mag: bigint;
    if (/^0[xXoObB]/.test(body)) mag = BigInt('0' + body[1]!.toLowerCase() + body.slice(2));
    else if (body.length > 1 && body[0] === '0') mag = BigInt('0o' + body.slice(1));
    else mag = BigInt(body);
    const v = m[1] === '-' ? -mag : mag;
    if (v >= INT64_MIN && v <= INT64_MAX) return { k: 'int', s: v.toString() };
    if (m[1] !== '-' && v <= UINT64_MAX) {
      // go-yaml returns a uint64, which SOPS cannot walk ("unknown type"): no SOPS tool wrote this file.
      fail('malformed', 'an integer is outside the signed 64-bit range', where);
    }
  }
  if (YAML_STYLE_FLOAT.test(plain)) {
    const f = Number(plain);
    if (Number.isFinite(f)) return { k: 'float', f };
  }
  return { k: 'str', s: src };
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** go-yaml v3 parseTimestamp + time.Time.MarshalText (RFC 3339 with nanoseconds), or null if not a timestamp. */
function goYamlTimestamp(s: string): string | null {
  if (!/^[0-9]{4}-/.test(s)) return null;
  const m = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:([Tt])|( ))([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,]([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?)?$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, tee, space, hh, mi, ss, frac, zone] = m;
  const hasTime = hh !== undefined;
  if (hasTime && tee !== undefined && zone === undefined) return null; // the T layouts require a zone
  if (hasTime && space !== undefined && zone !== undefined) return null; // the space layout has none
  const year = Number(y), month = Number(mo), day = Number(d);
  if (month < 1 || month > 12) return null;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const dim = month === 2 && leap ? 29 : DAYS[month - 1]!;
  if (day < 1 || day > dim) return null;
  const H = hasTime ? Number(hh) : 0, M = hasTime ? Number(mi) : 0, S = hasTime ? Number(ss) : 0;
  if (H > 23 || M > 59 || S > 59) return null;
  let z = 'Z';
  if (zone !== undefined && zone !== 'Z') {
    const oh = Number(zone.slice(1, 3)), om = Number(zone.slice(4, 6));
    if (oh > 24 || om > 59) return null;
    if (oh !== 0 || om !== 0) z = zone;
  }
  let f = (frac ?? '').slice(0, 9).replace(/0+$/, '');
  if (f !== '') f = '.' + f;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${y}-${p2(month)}-${p2(day)}T${p2(H)}:${p2(M)}:${p2(S)}${f}${z}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Go number formatting and parsing.

/** strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function goFormatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const neg = f < 0;
  const [mant, expS] = Math.abs(f).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const exp = Number(expS);
  let out: string;
  if (exp >= 0) {
    out = digits.length <= exp + 1 ? digits + '0'.repeat(exp + 1 - digits.length) : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return neg ? '-' + out : out;
}

/** strconv.ParseFloat(s, 64) for the decimal forms SOPS writes (and inf/nan); null if Go would refuse it. */
function goParseFloat(s: string): number | null {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(s)) return null;
  const f = Number(s);
  return Number.isFinite(f) ? f : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Readers.

function readYaml(text: string, budget: Budget): Node {
  const docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: true, merge: false, prettyErrors: false, strict: true });
  const list = Array.isArray(docs) ? docs : null;
  if (list === null) fail('malformed', 'not a YAML document stream');
  const real = list!.filter((d) => d.contents !== null || d.errors.length > 0);
  for (const d of list!) {
    const err = d.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line;
      fail('malformed', `invalid YAML (${err.code}${line !== undefined ? ` at line ${line}` : ''})`);
    }
  }
  if (real.length === 0) return { t: 'map', items: [] };
  if (real.length > 1) fail('unsupported', 'multi-document SOPS YAML files are not supported');
  const doc = real[0]!;
  const root = doc.contents;
  if (!isMap(root)) fail('malformed', 'the top level of a SOPS YAML document must be a mapping');
  return yamlNode(root, doc, [], 0, budget);
}

function yamlNode(node: unknown, doc: Document, path: string[], depth: number, budget: Budget): Node {
  if (depth > MAX_SOPS_DEPTH) fail('too-large', `nesting deeper than ${MAX_SOPS_DEPTH}`, path);
  if (node === null || node === undefined) return countLeaf({ t: 'leaf', v: { k: 'null' } }, budget, path);
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target === undefined) fail('malformed', 'unresolved YAML alias', path);
    return yamlNode(target, doc, path, depth + 1, budget);
  }
  if (isMap(node)) {
    checkCollectionTag(node.tag, 'tag:yaml.org,2002:map', path);
    const items: Array<[string, Node]> = [];
    for (const pair of node.items) {
      const k = pair.key;
      let key: string;
      if (isScalar(k)) {
        if (k.tag !== undefined && k.tag !== 'tag:yaml.org,2002:str') fail('unsupported', 'a mapping key has an explicit YAML tag', path);
        const src = String(k.source ?? k.value ?? '');
        if (k.type === Scalar.PLAIN && k.tag === undefined) {
          const r = resolvePlain(src, path);
          if (r.k !== 'str') fail('malformed', 'a mapping key is not a string (SOPS supports string keys only)', path);
        }
        key = src;
      } else {
        fail('malformed', 'a mapping key is not a scalar (SOPS supports string keys only)', path);
      }
      const p = [...path, key!];
      items.push([key!, yamlNode(pair.value, doc, p, depth + 1, budget)]);
    }
    return { t: 'map', items };
  }
  if (isSeq(node)) {
    checkCollectionTag(node.tag, 'tag:yaml.org,2002:seq', path);
    return { t: 'seq', items: node.items.map((it) => yamlNode(it, doc, path, depth + 1, budget)) };
  }
  if (isScalar(node)) {
    const src = String(node.source ?? node.value ?? '');
    if (node.tag !== undefined) {
      if (node.tag !== 'tag:yaml.org,2002:str') fail('unsupported', 'a value has an explicit YAML tag other than !!str', path);
      return countLeaf({ t: 'leaf', v: { k: 'str', s: src } }, budget, path);
    }
    const v: Leaf = node.type === Scalar.PLAIN ? resolvePlain(src, path) : { k: 'str', s: src };
    return countLeaf({ t: 'leaf', v }, budget, path);
  }
  return fail('malformed', 'unexpected YAML node', path);
}

function checkCollectionTag(tag: string | undefined, ok: string, path: string[]): void {
  if (tag !== undefined && tag !== ok) fail('unsupported', 'a collection has an explicit YAML tag', path);
}

function countLeaf(n: Node, budget: Budget, path: string[]): Node {
  if (++budget.leaves > MAX_SOPS_LEAVES) fail('too-large', `more than ${MAX_SOPS_LEAVES} values (aliases included)`, path);
  return n;
}

/** A small ordered JSON reader (RFC 8259) that keeps number text and refuses duplicate keys. */
function readJson(text: string, budget: Budget): Node {
  let i = 0;
  const n = text.length;
  const ws = (): void => { while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++; };
  const bad = (what: string): never => {
    const line = text.slice(0, i).split('\n').length;
    return fail('malformed', `invalid JSON (${what} at line ${line})`);
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < n) {
      const ch = text.charCodeAt(i);
      if (ch === 0x22) break;
      if (ch === 0x5c) i += 2;
      else if (ch < 0x20) bad('control character in string');
      else i++;
    }
    if (i >= n) bad('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return bad('bad string escape');
    }
  };
  const value = (path: string[], depth: number): Node => {
    if (depth > MAX_SOPS_DEPTH) fail('too-large', `nesting deeper than ${MAX_SOPS_DEPTH}`, path);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const items: Array<[string, Node]> = [];
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') { i++; return { t: 'map', items }; }
      for (;;) {
        ws();
        if (text[i] !== '"') bad('expected a key');
        const key = str();
        if (seen.has(key)) fail('malformed', 'duplicate key in JSON object', [...path, key]);
        seen.add(key);
        ws();
        if (text[i] !== ':') bad('expected ":"');
        i++;
        items.push([key, value([...path, key], depth + 1)]);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return { t: 'map', items }; }
        bad('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const items: Node[] = [];
      ws();
      if (text[i] === ']') { i++; return { t: 'seq', items }; }
      for (;;) {
        items.push(value(path, depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return { t: 'seq', items }; }
        bad('expected "," or "]"');
      }
    }
    if (c === '"') return countLeaf({ t: 'leaf', v: { k: 'str', s: str() } }, budget, path);
    for (const [lit, v] of [['true', { k: 'bool', b: true }], ['false', { k: 'bool', b: false }], ['null', { k: 'null' }]] as const) {
      if (text.startsWith(lit, i)) { i += lit.length; return countLeaf({ t: 'leaf', v }, budget, path); }
    }
    const m = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    m.lastIndex = i;
    const num = m.exec(text);
    if (num && num[0] !== '') {
      i += num[0].length;
      const s = num[0];
      if (num[2] === undefined && num[3] === undefined) {
        const b = BigInt(s);
        if (b >= INT64_MIN && b <= INT64_MAX) return countLeaf({ t: 'leaf', v: { k: 'int', s: b.toString() } }, budget, path);
      }
      const f = Number(s);
      if (!Number.isFinite(f)) fail('malformed', 'a number is out of range', path);
      return countLeaf({ t: 'leaf', v: { k: 'float', f } }, budget, path);
    }
    return bad('unexpected character');
  };
  ws();
  if (text[i] !== '{') bad('the top level of a SOPS JSON document must be an object');
  const root = value([], 0);
  ws();
  if (i < n) bad('trailing data');
  return root;
}

// ---------------------------------------------------------------------------------------------------------------
// Metadata.

interface Meta {
  lastModified: string;      // as re-formatted for the MAC's additional data
  mac: string;
  ageEncs: string[];
  otherKeyTypes: string[];
  rule: { kind: 'unencrypted_suffix' | 'encrypted_suffix' | 'unencrypted_regex' | 'encrypted_regex'; value: string; re?: RE2JS };
  macOnlyEncrypted: boolean;
}

function plain(n: Node): unknown {
  if (n.t === 'map') return Object.fromEntries(n.items.map(([k, v]) => [k, plain(v)]));
  if (n.t === 'seq') return n.items.map(plain);
  const v = n.v;
  switch (v.k) {
    case 'str': return v.s;
    case 'int': { const x = Number(v.s); return Number.isSafeInteger(x) ? x : v.s; }
    case 'float': return v.f;
    case 'bool': return v.b;
    case 'null': return null;
    case 'time': return v.text;
  }
}

const KEY_TYPES = ['kms', 'gcp_kms', 'hckms', 'azure_kv', 'hc_vault', 'pgp'] as const;

function nonEmptyList(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}

/** time.Parse(time.RFC3339, s).Format(time.RFC3339). */
function goRfc3339(s: string): string | null {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,][0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, H, M, S, zone] = m;
  const mon = Number(mo), day = Number(d), year = Number(y);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (mon < 1 || mon > 12 || day < 1 || day > (mon === 2 && leap ? 29 : DAYS[mon - 1]!)) return null;
  if (Number(H) > 23 || Number(M) > 59 || Number(S) > 59) return null;
  let z = zone!;
  if (z !== 'Z') {
    if (Number(z.slice(1, 3)) > 23 || Number(z.slice(4, 6)) > 59) return null;
    if (z.slice(1) === '00:00') z = 'Z';
  }
  return `${y}-${mo}-${d}T${H}:${M}:${S}${z}`;
}

function readMeta(sopsNode: Node): Meta {
  if (sopsNode.t !== 'map') fail('malformed', 'the "sops" entry is not a mapping');
  const md = plain(sopsNode) as Record<string, unknown>;
  const str = (k: string): string => {
    const v = md[k];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v); // mapstructure WeaklyTypedInput
    return fail('malformed', `sops.${k} is not a string`);
  };
  const lm = str('lastmodified');
  const lastModified = goRfc3339(lm);
  if (lastModified === null) fail('malformed', 'sops.lastmodified is missing or not an RFC 3339 time');
  const mac = str('mac');
  if (mac === '') fail('mac-mismatch', 'the document has no MAC (sops.mac); berth refuses unauthenticated SOPS files');

  const rules: Meta['rule'][] = [];
  for (const kind of ['unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex'] as const) {
    const v = str(kind);
    if (v !== '') rules.push({ kind, value: v });
  }
  for (const k of ['unencrypted_comment_regex', 'encrypted_comment_regex']) {
    if (str(k) !== '') fail('unsupported', `sops.${k} is not supported by berth (use encrypted_regex or a suffix rule)`);
  }
  if (rules.length > 1) fail('malformed', 'more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, encrypted_regex');
  const rule = rules[0] ?? { kind: 'unencrypted_suffix' as const, value: '_unencrypted' };
  if (rule.kind.endsWith('_regex')) {
    try {
      rule.re = RE2JS.compile(rule.value);
    } catch {
      fail('malformed', `sops.${rule.kind} is not a valid regular expression`);
    }
  }
  const moe = md['mac_only_encrypted'];
  const macOnlyEncrypted = moe === true || moe === 'true' || moe === 'True' || moe === 'TRUE' || moe === '1' || moe === 't' || moe === 'T' || moe === 1;

  // Key groups: the top-level key lists form one group; else sops.key_groups.
  const hasTop = ['age', ...KEY_TYPES].some((k) => nonEmptyList(md[k]).length > 0);
  let group: Record<string, unknown>;
  if (hasTop) {
    group = md;
  } else {
    const groups = nonEmptyList(md['key_groups']);
    if (groups.length === 0) fail('malformed', 'the SOPS metadata lists no keys');
    if (groups.length > 1) fail('unsupported', `the data key is split over ${groups.length} key groups (Shamir); berth supports one`);
    const g = groups[0];
    if (typeof g !== 'object' || g === null || Array.isArray(g)) fail('malformed', 'sops.key_groups[0] is not a mapping');
    group = g as Record<string, unknown>;
  }
  const ageEncs: string[] = [];
  for (const e of nonEmptyList(group['age'])) {
    const enc = (e as Record<string, unknown> | null)?.['enc'];
    if (typeof enc !== 'string' || enc === '') fail('malformed', 'an entry of sops.age has no "enc"');
    ageEncs.push(enc as string);
  }
  const otherKeyTypes = KEY_TYPES.filter((k) => nonEmptyList(group[k]).length > 0);
  return { lastModified: lastModified!, mac, ageEncs, otherKeyTypes, rule, macOnlyEncrypted };
}

function shouldBeEncrypted(meta: Meta, path: string[]): boolean {
  const r = meta.rule;
  switch (r.kind) {
    case 'unencrypted_suffix': return !path.some((p) => p.endsWith(r.value));
    case 'encrypted_suffix': return path.some((p) => p.endsWith(r.value));
    case 'unencrypted_regex': return !path.some((p) => r.re!.test(p));
    case 'encrypted_regex': return path.some((p) => r.re!.test(p));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The value cipher.

const ENC_RE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;

function b64(s: string, path: string[] | undefined, what: string): Buffer {
  const t = s.replace(/[\r\n]/g, '');
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) fail('malformed', `${what}: bad base64`, path);
  return Buffer.from(t, 'base64');
}

/** aes.Cipher.Decrypt: the plaintext bytes and the type; "" decrypts to "" (str). */
function openValue(enc: string, key: Buffer, aad: string, path: string[] | undefined, what: string): { bytes: Buffer; type: string } {
  if (enc === '') return { bytes: Buffer.alloc(0), type: 'str' };
  const m = ENC_RE.exec(enc);
  if (!m) return fail('malformed', `${what} is not a SOPS encrypted value`, path);
  const data = b64(m[1]!, path, what);
  const iv = b64(m[2]!, path, what);
  const tag = b64(m[3]!, path, what);
  const type = m[4]!;
  if (iv.length === 0 || tag.length !== 16) fail('malformed', `${what}: bad IV or tag length`, path);
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tag);
    const out = Buffer.concat([d.update(data), d.final()]);
    return { bytes: out, type };
  } catch {
    return fail('mac-mismatch', `${what} failed authentication (tampered, or moved to another key)`, path);
  }
}

/** The leaf a decrypted value becomes, and the bytes SOPS's ToBytes gives the MAC. */
function typedValue(bytes: Buffer, type: string, path: string[]): { leaf: Leaf; mac: Buffer } {
  const s = bytes.toString('utf8');
  switch (type) {
    case 'str': return { leaf: { k: 'str', s }, mac: bytes };
    case 'bytes': return { leaf: { k: 'str', s }, mac: bytes };
    case 'int': {
      if (!/^[+-]?[0-9]+$/.test(s)) fail('malformed', 'a value of type int does not hold an integer', path);
      const b = BigInt(s);
      if (b < INT64_MIN || b > INT64_MAX) fail('malformed', 'a value of type int is outside the 64-bit range', path);
      return { leaf: { k: 'int', s: b.toString() }, mac: Buffer.from(b.toString()) };
    }
    case 'float': {
      const f = goParseFloat(s);
      if (f === null) fail('malformed', 'a value of type float does not hold a number', path);
      return { leaf: { k: 'float', f: f! }, mac: Buffer.from(goFormatFloat(f!)) };
    }
    case 'bool': {
      let b: boolean;
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) b = true;
      else if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) b = false;
      else return fail('malformed', 'a value of type bool does not hold a boolean', path);
      return { leaf: { k: 'bool', b }, mac: Buffer.from(b ? 'True' : 'False') };
    }
    case 'time': return { leaf: { k: 'time', text: s, mac: s }, mac: bytes };
    default: return fail('malformed', `a value has an unknown SOPS type "${type.slice(0, 16).replace(/[^a-z]/gi, '?')}"`, path);
  }
}

function leafMacBytes(v: Leaf): Buffer | null {
  switch (v.k) {
    case 'str': return Buffer.from(v.s, 'utf8');
    case 'int': return Buffer.from(v.s);
    case 'float': return Buffer.from(goFormatFloat(v.f));
    case 'bool': return Buffer.from(v.b ? 'True' : 'False');
    case 'time': return Buffer.from(v.mac);
    case 'null': return null;
  }
}

/** sops.MACOnlyEncryptedInitialization = sha256("sops"). */
const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest();

// ---------------------------------------------------------------------------------------------------------------
// Public API.

function parseTree(text: string, format: SopsFormat, budget: Budget): Node {
  if (format === 'yaml') return readYaml(text, budget);
  if (format === 'json') return readJson(text, budget);
  return fail('malformed', `unknown SOPS format "${String(format).slice(0, 16)}"`);
}

function splitSops(root: Node): { body: Node & { t: 'map' }; sops: Node | null } {
  if (root.t !== 'map') return fail('malformed', 'the top level must be a mapping');
  const sopsItems = root.items.filter(([k]) => k === 'sops');
  if (sopsItems.length > 1) fail('malformed', 'duplicate "sops" entry');
  return { body: { t: 'map', items: root.items.filter(([k]) => k !== 'sops') }, sops: sopsItems[0]?.[1] ?? null };
}

/** Whether `text` is a SOPS document of `format`: a top-level `sops` mapping holding `mac` or `lastmodified`. */
export function isSopsDocument(text: string, format: SopsFormat): boolean {
  if (!text.includes('sops') || Buffer.byteLength(text) > MAX_SOPS_BYTES) return false;
  try {
    const { sops } = splitSops(parseTree(text, format, { leaves: 0 }));
    return sops !== null && sops.t === 'map' && sops.items.some(([k]) => k === 'mac' || k === 'lastmodified');
  } catch {
    return false;
  }
}

/**
 * Decrypts a SOPS document with age `identities` and verifies its MAC. Throws SecretError: `not-encrypted` (no `sops`
 * metadata), `no-key`, `mac-mismatch`, `malformed`, `too-large`, `unsupported`.
 */
export async function decryptSops(text: string, format: SopsFormat, identities: string[], opts: DecryptSopsOptions = {}): Promise<DecryptedSops> {
  const what = opts.what ?? 'SOPS document';
  try {
    return await decryptSopsInner(text, format, identities, opts, what);
  } catch (e) {
    if (e instanceof SecretError) {
      if (e.message.startsWith(what)) throw e;
      throw new SecretError(e.reason, `${what}: ${e.message}`, e.path !== undefined ? { path: e.path } : {});
    }
    // Never pass a lower layer's message on: it could quote input.
    throw new SecretError('malformed', `${what}: cannot be decrypted (internal error ${e instanceof Error ? e.name : 'unknown'})`);
  }
}

async function decryptSopsInner(text: string, format: SopsFormat, identities: string[], opts: DecryptSopsOptions, what: string): Promise<DecryptedSops> {
  const max = opts.maxBytes ?? MAX_SOPS_BYTES;
  if (Buffer.byteLength(text) > max) fail('too-large', `larger than ${max} bytes`);
  const root = parseTree(text, format, { leaves: 0 });
  const { body, sops } = splitSops(root);
  if (sops === null) fail('not-encrypted', `${what} is not a SOPS encrypted file (no "sops" metadata)`);
  const meta = readMeta(sops);
  const keySource = opts.keySource ?? 'the loaded keys';

  // The data key: the first age entry one of the identities opens.
  if (meta.ageEncs.length === 0) {
    fail('no-key', `no age recipient (encrypted for ${meta.otherKeyTypes.join(', ') || 'no key'}; berth decrypts age only)`);
  }
  if (identities.length === 0) fail('no-key', `no age identity loaded`);
  // Like SOPS (decryptKeyGroup), an entry that fails is skipped; a failure other than "not for these keys" is reported
  // only when no entry opens.
  let dataKey: Buffer | null = null;
  let firstFailure: SecretError | null = null;
  for (const enc of meta.ageEncs) {
    try {
      dataKey = await decryptAge(enc, identities, { what: 'a data key (sops.age[].enc)', keySource });
      break;
    } catch (e) {
      if (e instanceof SecretError && e.reason === 'no-key') continue;
      firstFailure ??= e instanceof SecretError ? e : new SecretError('malformed', 'a data key (sops.age[].enc) cannot be decrypted');
    }
  }
  if (dataKey === null && firstFailure !== null) throw firstFailure;
  if (dataKey === null) {
    fail('no-key', `not encrypted for any key in ${keySource} (no identity matches its ${meta.ageEncs.length} age recipient(s))`);
  }
  const key: Buffer = dataKey;
  try {
    if (key.length !== 32) fail('malformed', 'the data key is not 32 bytes');
    // Walk in document order, decrypt, hash (sops.go Tree.Decrypt).
    const hash = createHash('sha512');
    if (meta.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
    const walk = (n: Node, path: string[]): Node => {
      if (n.t === 'map') return { t: 'map', items: n.items.map(([k, v]) => [k, walk(v, [...path, k])] as [string, Node]) };
      if (n.t === 'seq') return { t: 'seq', items: n.items.map((v) => walk(v, path)) };
      if (n.v.k === 'null') return n;
      const encrypted = shouldBeEncrypted(meta, path);
      let leaf: Leaf = n.v;
      let macBytes: Buffer | null;
      if (encrypted) {
        if (n.v.k !== 'str') fail('malformed', `the value at ${path.join('.')} should be encrypted by the file's rules but is not (not a string)`, path);
        const s = n.v.s;
        if (s !== '' && !s.startsWith('ENC[')) fail('malformed', `the value at ${path.join('.')} should be encrypted by the file's rules but is not`, path);
        const opened = openValue(s, key, path.join(':') + ':', path, `the value at ${path.join('.')}`);
        const tv = typedValue(opened.bytes, opened.type, path);
        leaf = tv.leaf;
        macBytes = tv.mac;
      } else {
        macBytes = leafMacBytes(n.v);
      }
      if ((!meta.macOnlyEncrypted || encrypted) && macBytes !== null) hash.update(macBytes);
      return { t: 'leaf', v: leaf };
    };
    const plainBody = walk(body, []);
    const computed = Buffer.from(hash.digest('hex').toUpperCase());
    // The stored MAC: ENC[...] under the data key, additional data = lastmodified (RFC 3339).
    const stored = openValue(meta.mac, key, meta.lastModified, undefined, 'the MAC (sops.mac)').bytes;
    if (computed.length !== stored.length || !timingSafeEqual(computed, stored)) {
      fail('mac-mismatch', 'MAC mismatch (a value, key or their order was changed after encryption)');
    }
    return { data: plain(plainBody), values: flatten(plainBody) };
  } finally {
    key.fill(0);
  }
}

function flatten(root: Node): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const rec = (n: Node, prefix: string): void => {
    if (n.t === 'map') {
      for (const [k, v] of n.items) rec(v, prefix === '' ? k : `${prefix}.${k}`);
      return;
    }
    if (n.t === 'seq') {
      n.items.forEach((v, i) => rec(v, prefix === '' ? String(i) : `${prefix}.${i}`));
      return;
    }
    if (Object.prototype.hasOwnProperty.call(out, prefix)) {
      fail('malformed', `two values flatten to the same dotted path ${prefix}`, [prefix]);
    }
    out[prefix] = leafString(n.v);
  };
  rec(root, '');
  return { ...out };
}

function leafString(v: Leaf): string {
  switch (v.k) {
    case 'str': return v.s;
    case 'int': return v.s;
    case 'float': return goFormatFloat(v.f);
    case 'bool': return v.b ? 'true' : 'false';
    case 'null': return '';
    case 'time': return v.text;
  }
}
