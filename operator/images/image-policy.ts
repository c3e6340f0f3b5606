/**
 * spec.imagePolicy of a Service: which tag of the registry's list berth moves spec.image to (Flux image automation
 * style). Either a semver range (highest matching version wins) or a regular expression filter with an ordering
 * (highest wins), optionally ordering by a capture group (`extract: "$1"`, `"$name"`).
 *
 * The pattern is a user regular expression from git, run against up to 10,000 tags of a registry. JavaScript's
 * RegExp backtracks: `(a+)+$` on a long tag would block the event loop for minutes (ReDoS). Patterns therefore run on
 * re2js, a maintained pure-JavaScript port of RE2 (Go's regexp syntax, the one Flux uses): matching is linear in
 * the input whatever the pattern, it needs no native build (installs and runs offline from the npm tarball) and
 * refuses constructs that need backtracking (lookarounds, backreferences) at compile time, which we report as a
 * problem of the manifest.
 */
import { RE2JS } from 're2js';
import semver from 'semver';
import { BerthError } from '../model/errors.ts';

export type ImagePolicy =
  | { kind: 'semver'; range: string }
  | { kind: 'pattern'; pattern: string; order: 'numerical' | 'alphabetical'; extract?: string };

/** Docker's limit for a tag; longer strings from a registry are ignored rather than matched. */
const MAX_TAG_LENGTH = 128;
/** Longest pattern / range / extract accepted from a manifest. */
const MAX_POLICY_STRING = 1024;

const POLICY_KEYS = new Set(['semver', 'pattern', 'order', 'extract', 'interval']);

/** A problem with the policy object, naming the field ('semver', 'pattern', 'order', 'extract'), or undefined. */
export function imagePolicyProblem(raw: unknown): { field: string; message: string } | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { field: '', message: 'imagePolicy must be a mapping with `semver` or `pattern`' };
  }
  const o = raw as Record<string, unknown>;
  for (const key of ['semver', 'pattern', 'order', 'extract', 'interval']) {
    if (o[key] !== undefined && typeof o[key] !== 'string') return { field: key, message: `${key} must be a string` };
  }
  for (const key of Object.keys(o)) {
    if (!POLICY_KEYS.has(key)) return { field: key, message: `unknown field "${key}" (expected semver, pattern, order, extract, interval)` };
  }
  const sv = o.semver as string | undefined;
  const pattern = o.pattern as string | undefined;
  const order = o.order as string | undefined;
  const extract = o.extract as string | undefined;
  if (sv !== undefined && pattern !== undefined) return { field: 'pattern', message: 'semver and pattern are exclusive: give one of them' };
  if (sv === undefined && pattern === undefined) return { field: 'semver', message: 'one of semver or pattern is required' };
  if (sv !== undefined) {
    if (order !== undefined) return { field: 'order', message: 'order applies to pattern only' };
    if (extract !== undefined) return { field: 'extract', message: 'extract applies to pattern only' };
    if (sv.length > MAX_POLICY_STRING || sv.trim() === '' || semver.validRange(sv) === null) {
      return { field: 'semver', message: `"${clip(sv)}" is not a semver range` };
    }
    return undefined;
  }
  const p = pattern as string;
  if (p.length > MAX_POLICY_STRING) return { field: 'pattern', message: `longer than ${MAX_POLICY_STRING} characters` };
  let re: RE2JS;
  try {
    re = compile(p);
  } catch (err) {
    return { field: 'pattern', message: `does not compile as an RE2 regular expression: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (order !== undefined && order !== 'numerical' && order !== 'alphabetical') {
    return { field: 'order', message: `"${clip(order)}" is not one of numerical, alphabetical` };
  }
  if (extract !== undefined) {
    if (extract.length > MAX_POLICY_STRING) return { field: 'extract', message: `longer than ${MAX_POLICY_STRING} characters` };
    const refs = templateRefs(extract);
    if (typeof refs === 'string') return { field: 'extract', message: refs };
    if (refs.length === 0) return { field: 'extract', message: 'must reference a capture group of pattern, as "$1" or "$name"' };
    const named = re.namedGroups();
    for (const ref of refs) {
      const ok = /^[0-9]+$/.test(ref) ? Number(ref) <= re.groupCount() : Object.prototype.hasOwnProperty.call(named, ref);
      if (!ok) return { field: 'extract', message: `pattern has no capture group "${ref}"` };
    }
  }
  return undefined;
}

export function toImagePolicy(raw: { semver?: string; pattern?: string; order?: string; extract?: string }): ImagePolicy {
  const problem = imagePolicyProblem(raw);
  if (problem) throw new BerthError('E_CONFIG', `imagePolicy${problem.field ? `.${problem.field}` : ''}: ${problem.message}`);
  if (raw.semver !== undefined) return { kind: 'semver', range: raw.semver };
  const policy: ImagePolicy = { kind: 'pattern', pattern: raw.pattern as string, order: raw.order === 'numerical' ? 'numerical' : 'alphabetical' };
  if (raw.extract !== undefined) policy.extract = raw.extract;
  return policy;
}

/** The tag the policy picks among `tags` (the registry's list), or undefined when none matches. Deterministic. */
export function selectTag(policy: ImagePolicy, tags: readonly string[]): string | undefined {
  return policy.kind === 'semver' ? selectSemver(policy.range, tags) : selectPattern(policy, tags);
}

// ---------------------------------------------------------------------------------------------------------------
// semver

/** Semantic Versioning 2.0.0's own grammar (semver.org), behind an optional `v`: no coercion of `1.2`, `1.2.3.4`. */
const SEMVER_TAG =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function selectSemver(range: string, tags: readonly string[]): string | undefined {
  const r = new semver.Range(range); // throws on an invalid range: imagePolicyProblem refuses those first
  let best: { tag: string; version: semver.SemVer } | undefined;
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length > MAX_TAG_LENGTH || !SEMVER_TAG.test(tag)) continue;
    const version = new semver.SemVer(tag.startsWith('v') ? tag.slice(1) : tag);
    // Default options: a prerelease only satisfies a range with a prerelease comparator of the same major.minor.patch.
    if (!r.test(version)) continue;
    if (!best) {
      best = { tag, version };
      continue;
    }
    // compareBuild orders by precedence, then build metadata; equal versions (`v1.2.3` and `1.2.3`) fall back to the tag's code points.
    const c = semver.compareBuild(version, best.version);
    if (c > 0 || (c === 0 && compareCodePoints(tag, best.tag) > 0)) best = { tag, version };
  }
  return best?.tag;
}

// ---------------------------------------------------------------------------------------------------------------
// pattern

const compiled = new Map<string, RE2JS>();

function compile(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (compiled.size >= 256) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

function selectPattern(policy: Extract<ImagePolicy, { kind: 'pattern' }>, tags: readonly string[]): string | undefined {
  const re = compile(policy.pattern);
  const template = policy.extract !== undefined ? parseTemplate(policy.extract) : undefined;
  let best: { tag: string; key: string; num: number } | undefined;
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length > MAX_TAG_LENGTH) continue;
    let key: string;
    if (template) {
      const m = re.exec(tag); // unanchored, as Go's regexp.FindStringSubmatch (Flux)
      if (!m) continue;
      key = expand(template, m);
    } else {
      if (!re.test(tag)) continue;
      key = tag;
    }
    let num = 0;
    if (policy.order === 'numerical') {
      if (!NUMBER.test(key)) continue; // not a number: skipped
      num = Number(key);
      if (!Number.isFinite(num)) continue;
    }
    if (!best) {
      best = { tag, key, num };
      continue;
    }
    let c = policy.order === 'numerical' ? Math.sign(num - best.num) : compareCodePoints(key, best.key);
    if (c === 0) c = compareCodePoints(tag, best.tag); // ties: deterministic whatever the registry's order
    if (c > 0) best = { tag, key, num };
  }
  return best?.tag;
}

/** A decimal number as Go's strconv.ParseFloat reads one (no hex, no Infinity, no empty string). */
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

type TemplatePart = { text: string } | { ref: string };

/** Go's regexp.Expand syntax: `$1`, `${1}`, `$name`, `${name}`, `$$` for a literal `$`. An error message or the parts. */
function tokenizeTemplate(t: string): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let text = '';
  for (let i = 0; i < t.length; ) {
    const ch = t[i] as string;
    if (ch !== '$') {
      text += ch;
      i++;
      continue;
    }
    if (t[i + 1] === '$') {
      text += '$';
      i += 2;
      continue;
    }
    let name: string | undefined;
    let next = i + 1;
    if (t[i + 1] === '{') {
      const close = t.indexOf('}', i + 2);
      if (close < 0) return 'unclosed "${" in extract';
      name = t.slice(i + 2, close);
      next = close + 1;
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(t.slice(i + 1));
      if (m) {
        name = m[0];
        next = i + 1 + name.length;
      }
    }
    if (name === undefined || !/^[A-Za-z0-9_]+$/.test(name)) return `"$" at offset ${i} of extract is not followed by a group number or name`;
    if (text) parts.push({ text });
    text = '';
    parts.push({ ref: name });
    i = next;
  }
  if (text) parts.push({ text });
  return parts;
}

function templateRefs(t: string): string[] | string {
  const parts = tokenizeTemplate(t);
  if (typeof parts === 'string') return parts;
  return parts.flatMap((p) => ('ref' in p ? [p.ref] : []));
}

function parseTemplate(t: string): TemplatePart[] {
  const parts = tokenizeTemplate(t);
  if (typeof parts === 'string') throw new BerthError('E_CONFIG', `imagePolicy.extract: ${parts}`);
  return parts;
}

/** `m`: re2js's exec result, shaped as RegExp's (index 0 the match, then the groups; `groups` for named ones). */
function expand(parts: TemplatePart[], m: ArrayLike<string | undefined> & { groups?: Record<string, string | undefined> }): string {
  let out = '';
  for (const p of parts) {
    if ('text' in p) out += p.text;
    else if (/^[0-9]+$/.test(p.ref)) out += m[Number(p.ref)] ?? '';
    else out += m.groups?.[p.ref] ?? '';
  }
  return out;
}

/** Compares by Unicode code point (not UTF-16 unit, not locale): the order Go's string comparison gives. */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = (x.value as string).codePointAt(0) as number;
    const cy = (y.value as string).codePointAt(0) as number;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
