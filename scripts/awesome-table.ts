/**
 * Prints the README's table of the docker/awesome-compose samples (test/fixtures/compose/awesome/<sample>): each one
 * validated as `berth validate test/fixtures/compose/awesome --path <sample>` does (loadDesired over the directory,
 * default flags), with its services and either "yes" or the first refusal (field and message, at its compose line).
 * operator/compose/awesome.spec.ts checks the same results sample by sample, and that the README holds this table.
 *
 *   npx tsx scripts/awesome-table.ts        (paste the output into the README's "Compose files" section)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { loadDesired } from '../operator/manifests/index.ts';
import { ValidationError, formatIssue, type ManifestIssue } from '../operator/model/errors.ts';
import { fsSnapshot } from '../operator/source/fs-snapshot.ts';

export const AWESOME_DIR = join(import.meta.dirname, '../test/fixtures/compose/awesome');
const COMPOSE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export interface SampleResult {
  sample: string;
  /** The compose file, relative to AWESOME_DIR. */
  file: string;
  /** Service names as the compose file lists them. */
  services: string[];
  /** Every issue of the revision, in berth's order; empty when it is accepted. */
  issues: ManifestIssue[];
  /** The compose fields refused, distinct, in the order of the issues (see refusedField). */
  refused: string[];
}

/** The samples: directories of AWESOME_DIR holding a compose file, sorted. */
export function awesomeSamples(): string[] {
  return readdirSync(AWESOME_DIR)
    .filter((d) => statSync(join(AWESOME_DIR, d)).isDirectory() && composeFileOf(d) !== undefined)
    .sort();
}

function composeFileOf(sample: string): string | undefined {
  return COMPOSE_NAMES.find((n) => statSync(join(AWESOME_DIR, sample, n), { throwIfNoEntry: false })?.isFile());
}

/** Validates one sample exactly as `berth validate <AWESOME_DIR> --path <sample>` (no other flag) does. */
export async function validateSample(sample: string): Promise<SampleResult> {
  const name = composeFileOf(sample);
  if (!name) throw new Error(`${sample}: no compose file`);
  const file = `${sample}/${name}`;
  const text = readFileSync(join(AWESOME_DIR, file), 'utf8');
  const services = Object.keys((parseDocument(text).toJS() as { services?: Record<string, unknown> }).services ?? {});
  try {
    await loadDesired(fsSnapshot(AWESOME_DIR), { instance: 'validate', path: sample });
    return { sample, file, services, issues: [], refused: [] };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const refused = err.issues.map((i) => (i.file === file ? refusedField(text, i.line, i.col) : i.file));
    return { sample, file, services, issues: err.issues, refused: [...new Set(refused)] };
  }
}

/**
 * The compose field at line:col of a compose file, as the table names it: `services.<name>.` and list indexes left
 * out (`services.web.volumes[0].source` -> `volumes.source`), top-level fields as they are (`secrets.db-password.file`).
 * Taken from the position, not from the issue's field, because a berth check on a converted value names the berth
 * field (`spec.file`) while its position is the compose field's.
 */
export function refusedField(text: string, line: number, col: number): string {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const offset = (lines.lineStarts[line - 1] ?? 0) + col - 1;
  const path: string[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    const items: { key: string | undefined; key_range?: Node['range']; value: unknown }[] = isMap(node)
      ? node.items.map((p) => ({ key: isScalar(p.key) ? String(p.key.value) : undefined, key_range: isScalar(p.key) ? p.key.range : undefined, value: p.value }))
      : isSeq(node)
        ? node.items.map((v) => ({ key: undefined, value: v }))
        : [];
    const hit = items.find((it) => within(it.key_range, offset) || within((it.value as Node | null)?.range, offset));
    if (!hit) break;
    if (hit.key !== undefined) path.push(hit.key);
    if (within(hit.key_range, offset)) break;
    node = hit.value;
  }
  return (path[0] === 'services' ? path.slice(2) : path).join('.') || path.join('.');
}

function within(range: Node['range'] | undefined | null, offset: number): boolean {
  return !!range && offset >= range[0] && offset < range[2];
}

/** "yes", or "no:" and the refused compose fields. */
export function verdict(r: SampleResult): string {
  return r.issues.length === 0 ? 'yes' : `no: ${r.refused.map((f) => `\`${f}\``).join(', ')}`;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The markdown table, one row per sample. */
export function awesomeTable(results: readonly SampleResult[]): string {
  const accepted = results.filter((r) => r.issues.length === 0).length;
  const rows = results.map((r) => `| ${r.sample} | ${r.services.join(', ')} | ${verdict(r)} | ${r.issues[0] ? cell(formatIssue(r.issues[0])) : ''} |`);
  return [
    `${accepted} of the ${results.length} compose files of docker/awesome-compose (copied in \`test/fixtures/compose/awesome/\`) are accepted as they are by \`berth validate\`; the others are refused at their first unsupported field (generated by \`npx tsx scripts/awesome-table.ts\`):`,
    '',
    '| sample | services | supported as-is | first refusal |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const results = [];
  for (const s of awesomeSamples()) results.push(await validateSample(s));
  process.stdout.write(`${awesomeTable(results)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
