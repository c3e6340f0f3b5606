/** Schema stage: validate each document against its kind's JSON Schema (the descriptor's schemas/*.schema.json) with ajv. */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ManifestIssue } from '../model/errors.ts';
import type { ManifestKind } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { formatPath } from './path.ts';
import { DURATION_PATTERN } from './quantity.ts';
import { KIND_TABLE } from './kinds/index.ts';

export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';

/** spec.loadBalancer.hashKey: `client-ip`, `path`, or `header:` / `cookie:` followed by an RFC 9110 token. */
export const HASH_KEY_PATTERN = "^(client-ip|path|(header|cookie):[!#$%&'*+.^_`|~0-9A-Za-z-]+)$";
/** A Route rule's host: a lowercase DNS name, optionally `*.` + a domain. */
export const ROUTE_HOST_PATTERN = '^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';

/** ajv's `must match pattern "..."` replaced by words for the patterns users meet most. */
const PATTERN_MESSAGES: Record<string, string> = {
  [NAME_PATTERN]: 'must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters',
  '^/': 'must be an absolute path',
  '^[^=\\s]+$': 'must be a build argument name (no "=" and no white space)',
  '^[0-9]+(\\.[0-9]+)?%$': 'must be a percentage such as 70%',
  '^[A-Za-z0-9][A-Za-z0-9._-]*$': 'must be a build stage name: letters, digits, ".", "_" and "-", starting with a letter or digit',
  '^/\\S*$': "must be a URL path starting with '/' (no spaces)",
  '^[0-9]+(\\.[0-9]+)?(k|Ki|M|Mi|G|Gi|T|Ti)?$': 'must be a number of bytes or a quantity such as 64Mi, 1Gi, 512M, 1G, 100k',
  '^([0-9]+m|[0-9]+(\\.[0-9]+)?)$': "must be a number of CPUs (0.5) or millicores ('250m')",
  [DURATION_PATTERN]: 'must be a duration such as 500ms, 2s, 1m30s or 1h, or an integer number of seconds',
  [HASH_KEY_PATTERN]: 'must be client-ip, path, header:<name> or cookie:<name> (a name is letters, digits and !#$%&\'*+.^_`|~-)',
  [ROUTE_HOST_PATTERN]: 'must be a lowercase DNS name such as shop.example.com, or *.example.com for any subdomain',
};

/** ajv's `must match format "..."` replaced by words. */
const FORMAT_MESSAGES: Record<string, string> = {
  ip: 'must be an IP address such as 127.0.0.1 or ::1',
};

/** Compiled once per process: schema files are part of the program, not of the input. */
let compiled: Record<ManifestKind, ValidateFunction> | undefined;

function validators(): Record<ManifestKind, ValidateFunction> {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
  ajv.addFormat('ip', { type: 'string', validate: (s: string) => isIP(s) !== 0 });
  // `errorMessage` (as VS Code and yaml-language-server read it): the words for any failure of the schema holding it.
  ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
  // Each schema is registered under its file name, so one may `$ref` another's fields as an editor resolves them
  // (job.schema.json: `service.schema.json#/properties/spec/properties/image`).
  for (const d of KIND_TABLE) ajv.addSchema(JSON.parse(readFileSync(d.schema, 'utf8')) as object, schemaKey(d.schema));
  const load = (schema: URL): ValidateFunction => {
    const validate = ajv.getSchema(schemaKey(schema));
    if (!validate) throw new Error(`internal: schema ${schema.pathname} was not registered`);
    return validate;
  };
  compiled = Object.fromEntries(KIND_TABLE.map((d) => [d.kind, load(d.schema)])) as Record<ManifestKind, ValidateFunction>;
  return compiled;
}

/** The name a kind's schema is registered under: its file name (`service.schema.json`), what relative `$ref`s name. */
function schemaKey(schema: URL): string {
  return schema.pathname.slice(schema.pathname.lastIndexOf('/') + 1);
}

/** Validates one document of a known kind; returns E_SCHEMA issues located at the offending YAML nodes. */
export function schemaIssues(kind: ManifestKind, doc: RawDoc): ManifestIssue[] {
  const validate = validators()[kind];
  if (validate(doc.value)) return [];
  const seen = new Set<string>();
  const issues: ManifestIssue[] = [];
  const errors = withoutOtherBranches(validate.errors ?? []);
  for (const err of errors) {
    // Wrappers that only repeat the failure of a subschema, which is reported itself.
    if (err.keyword === 'if' || err.keyword === 'propertyNames') continue;
    const issue = toIssue(err, doc);
    const id = `${issue.field}\0${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(issue);
  }
  return issues;
}

/** The JSON type of a value, as a schema's `type` names it. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * A failed oneOf whose value has the type of exactly one branch (a name or an object): only that branch's
 * errors say what is wrong, so the oneOf itself and the other branches' type errors are dropped.
 */
function withoutOtherBranches(errors: ErrorObject[]): ErrorObject[] {
  const dropped = new Set<string>();
  const wrappers = new Set<ErrorObject>();
  for (const err of errors) {
    if (err.keyword !== 'oneOf' || !Array.isArray(err.schema)) continue;
    const type = jsonType(err.data);
    const matches = (err.schema as { type?: unknown }[]).map((branch, i) => ({ i, types: [branch.type].flat() }))
      .filter(({ types }) => types.includes(type) || (type === 'integer' && types.includes('number')));
    if (matches.length !== 1) continue;
    wrappers.add(err);
    (err.schema as unknown[]).forEach((_, i) => { if (i !== matches[0]!.i) dropped.add(`${err.instancePath}\0${err.schemaPath}/${i}/`); });
  }
  if (wrappers.size === 0) return errors;
  return errors.filter((e) => !wrappers.has(e) && ![...dropped].some((d) => {
    const [path, schema] = d.split('\0') as [string, string];
    return e.instancePath.startsWith(path) && `${e.schemaPath}/`.startsWith(schema);
  }));
}

function toIssue(err: ErrorObject, doc: RawDoc): ManifestIssue {
  const at = pointerToPath(err.instancePath, doc.value);
  const params = err.params as Record<string, unknown>;
  if (err.keyword === 'required') {
    const field = [...at, String(params.missingProperty)];
    return { ...doc.loc.at(at), code: 'E_SCHEMA', field: formatPath(field), message: 'is required' };
  }
  if (err.keyword === 'additionalProperties') {
    const field = [...at, String(params.additionalProperty)];
    const properties = (err.parentSchema?.properties ?? {}) as Record<string, { not?: unknown }>;
    // A property declared only to be refused (`not: {}`, e.g. a Node's namespace) is not offered as allowed.
    const allowed = Object.keys(properties).filter((k) => properties[k]?.not === undefined);
    return { ...doc.loc.at(field, 'key'), code: 'E_SCHEMA', field: formatPath(field), message: `unknown field (allowed: ${allowed.join(', ')})` };
  }
  if (err.keyword === 'uniqueItems' && typeof params.i === 'number' && typeof params.j === 'number') {
    const [dup, first] = params.i > params.j ? [params.i, params.j] : [params.j, params.i];
    return { ...doc.loc.at([...at, dup]), code: 'E_SCHEMA', field: formatPath([...at, dup]), message: `duplicate of ${formatPath([...at, first])}` };
  }
  if (err.propertyName !== undefined) {
    // A mapping key that fails spec.*.propertyNames: point at the key itself.
    const field = [...at, err.propertyName];
    return { ...doc.loc.at(field, 'key'), code: 'E_SCHEMA', field: formatPath(field), message: messageOf(err, params) };
  }
  return { ...doc.loc.at(at), code: 'E_SCHEMA', field: formatPath(at), message: messageOf(err, params) };
}

function messageOf(err: ErrorObject, params: Record<string, unknown>): string {
  const own = (err.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage;
  if (typeof own === 'string') return own;
  if (err.keyword === 'enum' && Array.isArray(params.allowedValues)) return `must be one of: ${params.allowedValues.join(', ')}`;
  if (err.keyword === 'pattern') return PATTERN_MESSAGES[String(params.pattern)] ?? err.message ?? 'is invalid';
  if (err.keyword === 'minItems' && typeof params.limit === 'number') return `must have at least ${params.limit} item${params.limit === 1 ? '' : 's'}`;
  if (err.keyword === 'format') return FORMAT_MESSAGES[String(params.format)] ?? err.message ?? 'is invalid';
  // A wrong type for a field with a worded pattern (a duration given as 1.5, a memory given as true): say what it takes.
  const pattern = (err.parentSchema as { pattern?: unknown } | undefined)?.pattern;
  if (err.keyword === 'type' && typeof pattern === 'string' && PATTERN_MESSAGES[pattern]) return PATTERN_MESSAGES[pattern];
  return err.message ?? 'is invalid';
}

/** `/spec/ports/0/port` -> ['spec', 'ports', 0, 'port'] (indices are numbers where the data is an array). */
export function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const path: PathSegment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path.push(Number(seg));
      cur = cur[Number(seg)];
      continue;
    }
    path.push(seg);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return path;
}

