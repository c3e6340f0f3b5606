/**
 * Positions of nodes of one parsed document. Lookups go through a key index per mapping (built on first use), so
 * locating n issues in a mapping of n keys is linear. A composed document costs ~30 bytes per byte of YAML, so the
 * documents of one load share a cache bounded by their source size: beyond it the least recently used are dropped, and
 * parsed again from their own text (not the whole file) if a lookup still comes for them.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, Scalar } from 'yaml';
import type { Document, LineCounter, Node as YamlNode, Pair, ParsedNode, YAMLMap } from 'yaml';
import type { SourceLocation } from '../model/errors.ts';

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

/** Where a document's text is: its file, the document's index and offsets in it, and the file's line counter. */
export interface DocText {
  file: string;
  content: string;
  lineCounter: LineCounter;
  index: number;
  /** Offsets of the document's start and end in `content`. */
  range: readonly [number, number];
}

/** A composed document, the offset its positions are relative to, and the source characters it was composed from. */
interface Cached {
  doc: Document.Parsed;
  shift: number;
  size: number;
}

/** Composed documents, least recently used dropped beyond `budget` source characters (the newest always stays). */
export class DocCache {
  private readonly docs = new Map<object, Cached>();
  private size = 0;

  constructor(private readonly budget = 2 * 1024 * 1024) {}

  /** The document of `key`, composing it again with `load` when it was dropped. */
  get(key: object, load: () => Cached): Cached {
    const hit = this.docs.get(key);
    if (hit) {
      this.docs.delete(key);
      this.docs.set(key, hit);
      return hit;
    }
    const entry = load();
    this.put(key, entry);
    return entry;
  }

  /** Keeps `entry` as the most recently used document of `key`. */
  put(key: object, entry: Cached): void {
    this.docs.set(key, entry);
    this.size += entry.size;
    for (const [old, e] of this.docs) {
      if (this.size <= this.budget || old === key) break;
      this.docs.delete(old);
      this.size -= e.size;
    }
  }
}

interface Found {
  node: YamlNode | null;
  key: YamlNode | null;
}

/** A locator for `doc` (composed from `text`), kept in `cache` and composed again from `text` once dropped from it. */
export function makeLocator(doc: Document.Parsed, text: DocText, cache: DocCache): DocLocator {
  const pos = (offset: number): SourceLocation => ({ file: text.file, ...text.lineCounter.linePos(offset) });
  const start = pos((doc.contents as ParsedNode).range[0]);
  const self = {};
  cache.put(self, { doc, shift: 0, size: text.range[1] - text.range[0] });
  const current = (): Cached => cache.get(self, () => reparse(text));
  return {
    start,
    at(path, target = 'value') {
      const { doc: d, shift } = current();
      const { node, key } = walk(d, d.contents as YamlNode, path);
      const valueRange = node?.range;
      const useKey = key?.range && (target === 'key' || !valueRange || valueRange[0] === valueRange[1]);
      if (useKey && key.range) return pos(key.range[0] + shift);
      return valueRange ? pos(valueRange[0] + shift) : start;
    },
    plainText(path) {
      const { doc: d, shift } = current();
      const { node } = walk(d, d.contents as YamlNode, path, true);
      if (!isScalar(node) || node.type !== Scalar.PLAIN || !node.range) return undefined;
      return text.content.slice(node.range[0] + shift, node.range[1] + shift);
    },
  };
}

/** The document parsed again from its own text; from the whole file when the text alone does not parse the same. */
function reparse(text: DocText): Cached {
  const [from, to] = text.range;
  const own = parseAllDocuments(text.content.slice(from, to), { uniqueKeys: false });
  if (Array.isArray(own) && own.length === 1 && own[0] && own[0].errors.length === 0) return { doc: own[0], shift: from, size: to - from };
  const all = parseAllDocuments(text.content, { uniqueKeys: false });
  const doc = Array.isArray(all) ? all[text.index] : undefined;
  if (!doc) throw new Error(`internal: document ${text.index} of ${text.file} does not parse again`);
  return { doc, shift: 0, size: text.content.length };
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

/** Key index per mapping node: the first pair of each scalar key, by the key's string form. */
const indexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function keyIndex(map: YAMLMap): Map<string, Pair> {
  let index = indexes.get(map);
  if (index) return index;
  index = new Map();
  for (const pair of map.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const name = String(pair.key.value);
    if (!index.has(name)) index.set(name, pair);
  }
  indexes.set(map, index);
  return index;
}

function child(doc: Document.Parsed, parent: YamlNode | null, seg: PathSegment): Found | undefined {
  const node = isAlias(parent) ? (parent.resolve(doc) ?? null) : parent;
  if (isMap(node)) {
    const pair = keyIndex(node).get(String(seg));
    return pair ? { node: (pair.value as YamlNode | null) ?? null, key: pair.key as YamlNode } : undefined;
  }
  if (isSeq(node)) {
    const item = node.items[Number(seg)];
    return item ? { node: item as YamlNode, key: null } : undefined;
  }
  return undefined;
}
