/**
 * Messages between loadDesired and its validation worker thread. Everything crosses as plain data (structured clone):
 * the worker runs the whole pipeline after reading — parse, schema, semantic checks with their YAML positions, the
 * checks against the snapshot (whose list/read/treeId calls it sends back to the main thread, which holds the
 * snapshot), and buildDesired — and returns the desired state, or the error with its issues.
 */
import { BerthError, ValidationError } from '../model/errors.ts';
import type { ErrorCode, ManifestIssue, ManifestWarning } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import type { LoadOptions } from './load.ts';

/** Main -> worker: validate these files. Their bytes are one transferred buffer; each file is a range of it. */
export interface LoadRequest {
  type: 'load';
  revision: string;
  files: { path: string; start: number; end: number }[];
  data: ArrayBuffer;
  opts: LoadOptions;
}

/** The snapshot methods the worker may call. */
export type SnapshotMethod = 'list' | 'read' | 'treeId';

/** Main -> worker: the answer to a snapshot call (or the acknowledgement of a batch of services). */
export type CallReply = { type: 'reply'; id: number; ok: true; value: unknown } | { type: 'reply'; id: number; ok: false; error: WireError };

/** Worker -> main. */
export type WorkerMessage =
  | { type: 'call'; id: number; method: SnapshotMethod; arg: string }
  /** The file the worker starts parsing (names the file of a timeout). */
  | { type: 'progress'; file: string }
  /**
   * Items of one list of the result, in order, a batch at a time, each answered (a 'reply') only once the main thread
   * got back to its event loop: a port's queued messages are all delivered in one turn, so this keeps each turn to one
   * batch.
   */
  | { type: 'part'; id: number; list: ResultList; items: unknown[] }
  /** The result is complete: its lists were all sent as parts (the warnings, few, come here). */
  | { type: 'done'; revision: string; warnings?: ManifestWarning[] }
  | { type: 'failed'; error: WireError };

/** An error as plain data. */
export type WireError =
  | { kind: 'validation'; issues: ManifestIssue[]; total: number }
  | { kind: 'berth'; code: ErrorCode; message: string; terminal: boolean }
  | { kind: 'other'; message: string; stack?: string };

/** The lists of a DesiredState, sent as parts (the warnings come with 'done'). */
export type ResultList = Exclude<keyof DesiredState, 'revision' | 'warnings'>;
export const RESULT_LISTS: readonly ResultList[] = ['services', 'volumes', 'networks', 'routes', 'nodes', 'secrets', 'jobs', 'cronJobs'];

/** Items per 'part' message: 500 services take ~10 ms to deserialize. */
export const ITEMS_PER_MESSAGE = 500;

/** `err` as plain data, keeping what callers branch on (class, code, terminal, issues). */
export function toWire(err: unknown): WireError {
  if (err instanceof ValidationError) return { kind: 'validation', issues: err.issues, total: err.total };
  if (err instanceof BerthError) return { kind: 'berth', code: err.code, message: err.message, terminal: err.terminal };
  return { kind: 'other', message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined };
}

/** The error `wire` describes, as the class it was thrown as. */
export function fromWire(wire: WireError): Error {
  if (wire.kind === 'validation') return new ValidationError(wire.issues, wire.total);
  if (wire.kind === 'berth') return new BerthError(wire.code, wire.message, { terminal: wire.terminal });
  const err = new Error(wire.message);
  if (wire.stack) err.stack = wire.stack;
  return err;
}
