/**
 * How the read commands print what they read, by `-o text|json|yaml` (kubectl's convention): one value (status,
 * history, version) pretty-printed, or a stream of entries (logs, events, audit) as JSON lines or YAML documents.
 */
import { stringify } from 'yaml';
import type { OutputFormat } from '../settings/settings.ts';
import type { Io } from './shared.ts';

/** One value in `format`: JSON indented by 2, a YAML document, or the command's own `text`. */
export function formatValue(format: OutputFormat, value: unknown, text: () => string): string {
  if (format === 'json') return JSON.stringify(value, null, 2);
  if (format === 'yaml') return stringify(value, { lineWidth: 0 }).trimEnd();
  return text();
}

/** Prints one value (see formatValue). */
export function printValue(io: Io, format: OutputFormat, value: unknown, text: () => string): void {
  io.out(formatValue(format, value, text));
}

/** One entry of a stream: a JSON line, a YAML document opened by `---` (so followed output parses as a stream), or `text`. */
export function formatEntry(format: OutputFormat, value: unknown, text: () => string): string {
  if (format === 'json') return JSON.stringify(value);
  if (format === 'yaml') return `---\n${stringify(value, { lineWidth: 0 }).trimEnd()}`;
  return text();
}
