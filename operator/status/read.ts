/** Reads an instance's status document from the status branch. */
import { parse } from 'yaml';
import type { GitSource } from '../source/source.ts';
import type { StatusDoc } from './report.ts';

/** `<instance>/status.yaml` on the status branch, or null when there is none yet. */
export async function readStatusDoc(source: GitSource, instance: string): Promise<StatusDoc | null> {
  const text = await source.readStatus(`${instance}/status.yaml`);
  return text ? (parse(text) as StatusDoc) : null;
}
