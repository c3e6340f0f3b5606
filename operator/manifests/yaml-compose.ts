/**
 * Bounded YAML composing. The yaml package's Lexer and Parser are iterative and stream tokens; its Composer (and toJS,
 * and ajv after it) recurse once per nesting level and keep a node object per YAML node. So the file is tokenized once
 * here, every token checked against the limits, and each document composed only once the parser completed it: a file
 * of `a: [` repeated stops after `maxDepth` brackets, a flood of tiny nodes after `maxNodes`, before any of it is
 * composed.
 */
import { Composer, CST, Lexer, Parser, YAMLParseError, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import type { ManifestLimits } from './limits.ts';
import { formatSize } from './limits.ts';

/** The limits checked while tokenizing. */
export type TokenLimits = Pick<ManifestLimits, 'maxDepth' | 'maxNodes' | 'maxScalarLength'>;

/** A limit exceeded at `offset` of the file. */
export interface LimitHit {
  offset: number;
  message: string;
}

/** The documents of a file, or the first limit it exceeds (then no document is returned). */
export type Composed = { docs: Document.Parsed[] } | { hit: LimitHit };

const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

/**
 * Tokenizes and composes `content` (newlines are recorded in `lineCounter`). Duplicate mapping keys are added to the
 * documents' errors as yaml's own DUPLICATE_KEY (its uniqueKeys check compares each key with every earlier one:
 * 40k keys took 11 s; this one is linear).
 */
export function composeBounded(content: string, lineCounter: LineCounter, limits: TokenLimits): Composed {
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({ prettyErrors: false, uniqueKeys: false });
  const docs: Document.Parsed[] = [];
  const seen = new WeakSet<object>();
  let nodes = 0;
  let scalarNext = false;
  let lastTop: object | undefined;
  lineCounter.addNewLine(0);
  for (const lexeme of new Lexer().lex(content)) {
    const offset = parser.offset;
    // Plain and block scalars come as a SCALAR marker and then their source; quoted scalars as one token.
    const type: string | null = scalarNext ? 'scalar-source' : CST.tokenType(lexeme);
    scalarNext = type === 'scalar';
    if (type === 'scalar-source' || type === 'single-quoted-scalar' || type === 'double-quoted-scalar') {
      nodes++;
      if (lexeme.length > limits.maxScalarLength) return { hit: { offset, message: `a scalar of ${formatSize(lexeme.length)} characters exceeds the limit of ${formatSize(limits.maxScalarLength)}` } };
    } else if (type === 'alias') nodes++;
    for (const token of parser.next(lexeme)) for (const doc of composer.next(token)) docs.push(doc as Document.Parsed);
    // Depth and collections change only with the top of the parser's stack: the document, then one entry per open
    // collection, then maybe the scalar being read.
    const top = parser.stack[parser.stack.length - 1];
    if (top !== lastTop) {
      lastTop = top;
      const collection = top !== undefined && COLLECTIONS.has(top.type);
      if (parser.stack.length - (collection ? 1 : 2) > limits.maxDepth) return { hit: { offset, message: `nesting deeper than ${limits.maxDepth} levels` } };
      if (collection && !seen.has(top)) {
        seen.add(top);
        nodes++;
      }
    }
    if (nodes > limits.maxNodes) return { hit: { offset, message: `more than ${limits.maxNodes} YAML nodes in one file` } };
  }
  for (const token of parser.end()) for (const doc of composer.next(token)) docs.push(doc as Document.Parsed);
  for (const doc of composer.end()) docs.push(doc as Document.Parsed);
  for (const doc of docs) addDuplicateKeyErrors(doc);
  return { docs };
}

/** Reports a scalar key repeated in one mapping (equal values, as yaml compares them) at the later key. */
function addDuplicateKeyErrors(doc: Document.Parsed): void {
  const pending: unknown[] = [doc.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isSeq(node)) for (const item of node.items) pending.push(item);
    if (!isMap(node)) continue;
    const keys = new Set<unknown>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      pending.push(pair.key, pair.value);
      if (!isScalar(pair.key)) continue;
      if (keys.has(pair.key.value)) {
        const start = (pair.key as YamlNode).range?.[0] ?? 0;
        doc.errors.push(new YAMLParseError([start, start + 1], 'DUPLICATE_KEY', 'Map keys must be unique'));
      }
      keys.add(pair.key.value);
    }
  }
}
