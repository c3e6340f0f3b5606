/** YAML stage: split files into documents, keep every node's position, report syntax errors. */
import { parseAllDocuments, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, Scalar } from 'yaml';
import type { Document, Node as YamlNode, ParsedNode } from 'yaml';
import type { ManifestIssue, SourceLocation } from '../model/errors.ts';

/** A step of a path into a document: a mapping key or a sequence index. */
export type PathSegment = string | number;

/** Finds positions of nodes of one parsed document. */
export interface DocLocator {
  /** Where the document's content starts. */
  readonly start: SourceLocation;
  /** Position of the node at `path` (or of its key with target 'key'); falls back to the deepest existing ancestor. */
  at(path: readonly PathSegment[], target?: 'key' | 'value'): SourceLocation;
  /** The source text of a plain scalar at `path` (e.g. `1.0` as written), or undefined. */
  plainText(path: readonly PathSegment[]): string | undefined;
}

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

interface Found {
  node: YamlNode | null;
  key: YamlNode | null;
}

/** Parses one file into its non-empty documents and E_YAML issues (documents with errors are dropped). */
export function parseYamlFile(file: YamlFile): { docs: RawDoc[]; issues: ManifestIssue[] } {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(file.content, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number): SourceLocation => ({ file: file.path, ...lineCounter.linePos(offset) });
  const docs: RawDoc[] = [];
  const issues: ManifestIssue[] = [];
  if (!Array.isArray(parsed)) return { docs, issues };
  for (const doc of parsed) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) issues.push({ ...pos(err.pos[0]), code: 'E_YAML', field: '', message: yamlMessage(err.code, err.message, file.content, err.pos[0]) });
      continue;
    }
    if (isEmptyDocument(doc)) continue;
    const loc = makeLocator(doc, file.content, pos);
    try {
      docs.push({ file: file.path, value: doc.toJS({ maxAliasCount: 100 }), loc });
    } catch (err) {
      issues.push({ ...loc.start, code: 'E_YAML', field: '', message: err instanceof Error ? err.message : String(err) });
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
  const key = /^("[^"\n]*"|'[^'\n]*'|[^:\n]+?)\s*:/.exec(content.slice(offset))?.[1];
  return key ? `duplicate key ${key.startsWith('"') || key.startsWith("'") ? key : JSON.stringify(key)} (mapping keys must be unique)` : message;
}

function makeLocator(doc: Document.Parsed, content: string, pos: (offset: number) => SourceLocation): DocLocator {
  const root = doc.contents as ParsedNode;
  const start = pos(root.range[0]);
  return {
    start,
    at(path, target = 'value') {
      const { node, key } = walk(doc, root, path);
      const valueRange = node?.range;
      const useKey = key?.range && (target === 'key' || !valueRange || valueRange[0] === valueRange[1]);
      if (useKey && key.range) return pos(key.range[0]);
      return valueRange ? pos(valueRange[0]) : start;
    },
    plainText(path) {
      const { node } = walk(doc, root, path, true);
      if (!isScalar(node) || node.type !== Scalar.PLAIN || !node.range) return undefined;
      return content.slice(node.range[0], node.range[1]);
    },
  };
}

/** Descends along `path`; stops at the deepest existing node unless `exact` (then a miss yields null). */
function walk(doc: Document.Parsed, root: YamlNode, path: readonly PathSegment[], exact = false): Found {
  let node: YamlNode | null = root;
  let key: YamlNode | null = null;
  for (const seg of path) {
    const next = child(doc, node, seg);
    if (!next) return exact ? { node: null, key: null } : { node, key };
    node = next.node;
    key = next.key;
  }
  return { node, key };
}

function child(doc: Document.Parsed, parent: YamlNode | null, seg: PathSegment): Found | undefined {
  const node = isAlias(parent) ? (parent.resolve(doc) ?? null) : parent;
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = pair.key;
      const name = isScalar(k) ? String(k.value) : undefined;
      if (name === String(seg)) return { node: (pair.value as YamlNode | null) ?? null, key: k as YamlNode };
    }
    return undefined;
  }
  if (isSeq(node)) {
    const item = node.items[Number(seg)];
    return item ? { node: item as YamlNode, key: null } : undefined;
  }
  return undefined;
}
