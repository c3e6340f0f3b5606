/** YAML stage: split files into documents, keep every node's position, report syntax errors and exceeded limits. */
import { LineCounter, isScalar } from 'yaml';
import type { Document } from 'yaml';
import type { ManifestIssue, SourceLocation } from '../model/errors.ts';
import { DEFAULT_LIMITS, tooLarge } from './limits.ts';
import type { ManifestLimits } from './limits.ts';
import { composeBounded } from './yaml-compose.ts';
import { DocCache, makeLocator } from './yaml-locator.ts';
import type { DocLocator } from './yaml-locator.ts';

export type { DocLocator, PathSegment } from './yaml-locator.ts';
export { DocCache } from './yaml-locator.ts';

/** One non-empty YAML document without syntax errors. */
export interface RawDoc {
  file: string;
  /** The document as plain JS data. */
  value: unknown;
  loc: DocLocator;
}

export interface YamlFile {
  path: string;
  content: string;
}

/** The limits the YAML stage checks. */
export type YamlLimits = Pick<ManifestLimits, 'maxDepth' | 'maxNodes' | 'maxScalarLength' | 'maxAliases'>;

export interface YamlOptions {
  limits?: YamlLimits;
  /** Where released documents are kept once parsed again (one per load; a fresh one per call by default). */
  cache?: DocCache;
}

/**
 * Parses one file into its non-empty documents and E_YAML issues (documents with errors are dropped). A file that
 * exceeds a limit yields no document and one E_TOO_LARGE issue where it went over.
 */
export function parseYamlFile(file: YamlFile, opts: YamlOptions = {}): { docs: RawDoc[]; issues: ManifestIssue[] } {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const cache = opts.cache ?? new DocCache();
  const lineCounter = new LineCounter();
  const pos = (offset: number): SourceLocation => ({ file: file.path, ...lineCounter.linePos(offset) });
  const composed = composeBounded(file.content, lineCounter, limits);
  if ('hit' in composed) {
    const at = pos(composed.hit.offset);
    return { docs: [], issues: [tooLarge(file.path, at.line, at.col, composed.hit.message)] };
  }
  const docs: RawDoc[] = [];
  const issues: ManifestIssue[] = [];
  for (const [index, doc] of composed.docs.entries()) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) issues.push({ ...pos(err.pos[0]), code: 'E_YAML', field: '', message: yamlMessage(err.code, err.message, file.content, err.pos[0]) });
      continue;
    }
    if (isEmptyDocument(doc)) continue;
    const loc = makeLocator(doc, { file: file.path, content: file.content, lineCounter, index, range: [doc.range[0], doc.range[2]] }, cache);
    try {
      docs.push({ file: file.path, value: doc.toJS({ maxAliasCount: limits.maxAliases }), loc });
    } catch (err) {
      // toJS throws a ReferenceError only when aliases expand beyond maxAliasCount (unresolved aliases are doc.errors).
      if (err instanceof ReferenceError) issues.push({ ...loc.start, code: 'E_TOO_LARGE', field: '', message: `aliases expand to more than ${limits.maxAliases} nodes` });
      else issues.push({ ...loc.start, code: 'E_YAML', field: '', message: err instanceof Error ? err.message : String(err) });
    }
  }
  return { docs, issues };
}

function isEmptyDocument(doc: Document.Parsed): boolean {
  const c = doc.contents;
  if (c === null) return true;
  return isScalar(c) && c.value === null && (c.range?.[0] ?? 0) === (c.range?.[1] ?? 0);
}

function yamlMessage(code: string, message: string, content: string, offset: number): string {
  if (code !== 'DUPLICATE_KEY') return message;
  const key = /^("[^"\n]*"|'[^'\n]*'|[^:\n]+?)\s*:/.exec(content.slice(offset, offset + 2048))?.[1];
  return key ? `duplicate key ${key.startsWith('"') || key.startsWith("'") ? key : JSON.stringify(key)} (mapping keys must be unique)` : message;
}
