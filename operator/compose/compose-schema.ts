/**
 * The compose document itself checked against the Compose Specification's JSON Schema (schemas/compose-spec.json,
 * vendored: see schemas/compose-spec.LICENSE.md), after interpolation, before any conversion. Issues are E_SCHEMA at
 * the field's position, the field named by its compose path.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ManifestIssue } from '../model/errors.ts';
import { formatPath } from '../manifests/path.ts';
import { pointerToPath } from '../manifests/schema.ts';
import type { DocLocator, PathSegment } from '../manifests/yaml-source.ts';
import { rootFile } from '../root.ts';

const SCHEMA = rootFile('schemas/compose-spec.json');

let compiled: ValidateFunction | undefined;

/**
 * Compiled once per process, on the first compose file. The schema is large: with ajv's defaults it compiles in
 * ~160 ms; without inlining its many $refs and without the code optimiser, in ~35 ms, and validates faster too
 * (300 services: 1.6 ms instead of 4.1 ms).
 */
function validator(): ValidateFunction {
  if (compiled) return compiled;
  // strict off: the spec uses keywords ajv's strict mode refuses (deprecated, ...); its draft-07 $schema URL is the
  // https form ajv does not know by that name, so it is dropped (ajv's default meta-schema is draft-07).
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, inlineRefs: false, code: { optimize: false } });
  const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>;
  delete schema.$schema;
  compiled = ajv.compile(schema);
  return compiled;
}

/** E_SCHEMA issues of a compose document (interpolated `value`, positions from `loc`). */
export function composeSchemaIssues(value: unknown, loc: DocLocator): ManifestIssue[] {
  const validate = validator();
  if (validate(value)) return [];
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  // A value failing every branch of a oneOf yields one error per branch: keep the errors at the deepest paths, and
  // merge the type errors of one path into one message.
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  const issues: ManifestIssue[] = [];
  for (const [pointer, list] of byPath) {
    const deeper = [...byPath.keys()].some((p) => p !== pointer && p.startsWith(`${pointer}/`) && !list.some((e) => e.keyword === 'additionalProperties'));
    if (deeper) continue;
    const path = pointerToPath(pointer, value);
    const types = list.filter((e) => e.keyword === 'type').map((e) => String((e.params as { type?: unknown }).type));
    if (types.length > 0) issues.push(issue(loc, path, 'value', `must be ${[...new Set(types.join(',').split(','))].join(' or ')}`));
    for (const e of list) {
      if (e.keyword === 'type') continue;
      const params = e.params as Record<string, unknown>;
      if (e.keyword === 'additionalProperties') {
        const field = [...path, String(params.additionalProperty)];
        issues.push(issue(loc, field, 'key', `unknown compose field ${formatPath(field)} (not in the Compose Specification)`));
      } else if (e.keyword === 'required') issues.push(issue(loc, path, 'value', `${String(params.missingProperty)} is required`));
      else if (e.keyword === 'enum') issues.push(issue(loc, path, 'value', `must be one of: ${(params.allowedValues as unknown[]).join(', ')}`));
      else issues.push(issue(loc, path, 'value', e.message ?? 'is invalid'));
    }
  }
  const seen = new Set<string>();
  return issues.filter((i) => {
    const id = `${i.field}\0${i.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function issue(loc: DocLocator, path: PathSegment[], target: 'key' | 'value', message: string): ManifestIssue {
  return { ...loc.at(path, target), code: 'E_SCHEMA', field: formatPath(path), message };
}
