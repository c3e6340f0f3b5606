/**
 * Edits one Service's `spec.image` in a manifest file as a person would: only the bytes of that scalar change.
 * Comments, quoting style, indentation, line endings (LF or CRLF), key order, flow mappings and every other
 * document of the file stay byte for byte. The file is parsed with `yaml` (its nodes carry source offsets) and the
 * original text is spliced at the scalar's range; nothing is re-serialised.
 */
import { isDeepStrictEqual } from 'node:util';
import { isAlias, isMap, isScalar, parseAllDocuments, Scalar, type Document } from 'yaml';
import { BerthError } from '../model/errors.ts';

/** Returns `text` with the `spec.image` scalar of the document whose kind is Service and metadata.name (and metadata.namespace, when given) match, replaced by `image`; comments, quoting style, indentation and every other byte kept. Throws BerthError E_CONFIG when no such document/field exists. */
export function setServiceImage(text: string, target: { name: string; namespace?: string }, image: string): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new BerthError('E_CONFIG', 'not a YAML stream');
  for (const d of docs) {
    const err = d.errors[0];
    if (err) throw new BerthError('E_CONFIG', `not valid YAML: ${err.message}`);
  }
  const who = `Service "${target.name}"${target.namespace !== undefined ? ` in namespace "${target.namespace}"` : ''}`;
  const matches = docs.map((d, i) => ({ d, i })).filter(({ d }) => isTargetService(d, target));
  if (matches.length === 0) throw new BerthError('E_CONFIG', `no ${who} in the file`);
  if (matches.length > 1) throw new BerthError('E_CONFIG', `more than one ${who} in the file`);
  const { d: doc, i: index } = matches[0] as { d: Document.Parsed; i: number };

  const spec = doc.get('spec', true);
  if (!isMap(spec)) throw new BerthError('E_CONFIG', `${who} has no spec mapping`);
  const node = spec.get('image', true);
  if (node === undefined) throw new BerthError('E_CONFIG', `${who} has no spec.image`);
  if (isAlias(node)) throw new BerthError('E_CONFIG', `spec.image of ${who} is an alias (*${node.source}): edit it by hand`);
  if (!isScalar(node) || !node.range || typeof node.value !== 'string') {
    throw new BerthError('E_CONFIG', `spec.image of ${who} is not a string`);
  }
  const [start, end] = node.range;

  // What the file must read as afterwards: the same documents, with only this spec.image changed.
  const expected = docs.map((d) => d.toJS({ maxAliasCount: -1 }) as unknown);
  const want = structuredClone(expected[index]) as { spec: Record<string, unknown> };
  want.spec.image = image;
  expected[index] = want;

  const original = text.slice(start, end);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const candidates: string[] = [];
  switch (node.type) {
    case Scalar.PLAIN:
      candidates.push(image);
      break;
    case Scalar.QUOTE_SINGLE:
      candidates.push(`'${image.replace(/'/g, "''")}'`);
      break;
    case Scalar.BLOCK_LITERAL:
    case Scalar.BLOCK_FOLDED: {
      // A block scalar's range holds its header and lines up to the next line; a quoted scalar then ends the line.
      const trailing = /(\r?\n)$/.exec(original)?.[1] ?? '';
      candidates.push(`${JSON.stringify(image)}${trailing || (original.includes('\n') ? eol : '')}`);
      break;
    }
    default:
      break;
  }
  // Double-quoted, JSON's escapes (a subset of YAML's): the fallback for any value a plain or single-quoted
  // scalar cannot hold here (`#`, `: `, `,` in a flow mapping, a value read as a number, a newline, ...).
  if (node.type !== Scalar.BLOCK_LITERAL && node.type !== Scalar.BLOCK_FOLDED) candidates.push(JSON.stringify(image));

  for (const replacement of candidates) {
    const out = text.slice(0, start) + replacement + text.slice(end);
    if (readsAs(out, expected)) return out;
  }
  throw new BerthError('E_CONFIG', `spec.image of ${who} cannot be changed in place (an anchor referenced elsewhere?): edit it by hand`);
}

function isTargetService(d: Document.Parsed, target: { name: string; namespace?: string }): boolean {
  if (!isMap(d.contents)) return false;
  if (d.get('kind') !== 'Service') return false;
  if (d.getIn(['metadata', 'name']) !== target.name) return false;
  if (target.namespace === undefined) return true;
  const ns = d.getIn(['metadata', 'namespace']);
  return (ns === undefined || ns === null ? 'default' : ns) === target.namespace;
}

function readsAs(text: string, expected: unknown[]): boolean {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length !== expected.length) return false;
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i] as Document.Parsed;
    if (d.errors.length > 0) return false;
    if (!isDeepStrictEqual(d.toJS({ maxAliasCount: -1 }), expected[i])) return false;
  }
  return true;
}
