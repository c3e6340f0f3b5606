/**
 * The audit trail: one JSON line per state-changing API call (who, what, when, from where, result) and per action berth
 * applied (with the revision that caused it), appended to `<state-dir>/audit.jsonl` (mode 0600; the operator and `berth token` share it) and
 * logged. The file rolls over to `.1` past its size limit, so it never grows without bound. `berth audit --since`
 * reads it back through GET /v1/audit.
 */
import { appendFileSync, chmodSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/log.ts';

export interface AuditEntry {
  time: string;
  /** Token name, `cert:<subject>`, `anonymous`, `webhook:<forge>`, or `berth` for what the operator applied. */
  actor: string;
  /** Remote address; `local` for the operator itself and the CLI. */
  source: string;
  /** `PUT /v1/services/shop/web/endpoints/e1`, `apply replace shop/web #1`, `token create ci`. */
  action: string;
  /** HTTP status, or ok / error. */
  result: string;
  revision?: string;
  message?: string;
}

export const DEFAULT_AUDIT_LIMIT = 16 * 1024 * 1024;
/** Entries one read returns at most (the newest). */
export const MAX_READ_ENTRIES = 10_000;
/** Longest field kept in an entry: a line stays short whatever a caller sends. */
const MAX_FIELD = 512;

export class AuditLog {
  readonly file: string;
  /** Bytes in the file as this process knows it; null until first read. */
  private size: number | null = null;

  constructor(stateDir: string, private readonly log?: Logger, private readonly limit = DEFAULT_AUDIT_LIMIT) {
    this.file = path.join(stateDir, 'audit.jsonl');
  }

  record(e: Omit<AuditEntry, 'time'> & { time?: string }): void {
    const entry: AuditEntry = { ...e, time: e.time ?? new Date().toISOString() };
    for (const k of Object.keys(entry) as (keyof AuditEntry)[]) {
      const v = entry[k];
      if (typeof v === 'string' && v.length > MAX_FIELD) (entry as unknown as Record<string, string>)[k] = `${v.slice(0, MAX_FIELD)}...`;
    }
    // What berth applied is logged already (`applied ...`); the trail's line for it is debug, an API call's is info.
    (entry.actor === 'berth' ? this.log?.debug : this.log?.info)?.call(this.log, 'audit', { actor: entry.actor, source: entry.source, action: entry.action, result: entry.result, ...(entry.revision ? { revision: entry.revision.slice(0, 12) } : {}) });
    try {
      const line = JSON.stringify(entry) + '\n';
      this.rollIfFull();
      appendFileSync(this.file, line, { mode: 0o600 });
      this.size! += Buffer.byteLength(line);
    } catch (err) {
      this.size = null; // look at the file again next time
      this.log?.warn('audit: cannot write the audit file', { file: this.file, error: (err as Error).message });
    }
  }

  /** Entries at or after `since` (ms since epoch), oldest first, the newest MAX_READ_ENTRIES at most. */
  async read(since: number, limit = MAX_READ_ENTRIES): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for (const f of [`${this.file}.1`, this.file]) {
      const handle = await open(f, 'r').catch(() => null);
      if (!handle) continue;
      try {
        for await (const line of handle.readLines()) {
          if (!line) continue;
          let e: AuditEntry;
          try {
            e = JSON.parse(line) as AuditEntry;
          } catch {
            continue; // a line cut by a crash
          }
          if (Date.parse(e.time) < since) continue;
          out.push(e);
          if (out.length >= 2 * limit) out.splice(0, out.length - limit);
        }
      } finally {
        await handle.close();
      }
    }
    return out.slice(-limit);
  }

  /**
   * Rolls the file over at its limit. Its size is read once and then counted as lines are appended (a `berth token`
   * run appending meanwhile is noticed at the next start): no stat per entry.
   */
  private rollIfFull(): void {
    if (this.size === null) {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      try {
        this.size = statSync(this.file).size;
      } catch {
        this.size = 0;
      }
    }
    if (this.size < this.limit) return;
    renameSync(this.file, `${this.file}.1`);
    chmodSync(`${this.file}.1`, 0o600);
    this.size = 0;
  }

}
