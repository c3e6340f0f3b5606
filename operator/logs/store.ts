/**
 * The log store: every managed container's output lines, and berth's events, in one SQLite database under
 * --state-dir (better-sqlite3; WAL journal, so a crash mid-write loses at most the transaction in flight and never
 * corrupts the file). A line is stored with its container's source (namespace, service, replica, container, node,
 * kind) by reference, its engine timestamp in microseconds and its stream; a full-text index (FTS5) serves
 * `--search`, an RE2 function (linear time: no pattern can stall the store) serves `--grep`.
 *
 * Exactly once across restarts: each source keeps a cursor (the timestamp of its last stored line and how many lines
 * carry that timestamp), written in the same transaction as the lines. The collector resumes the engine's stream from
 * the cursor's timestamp (the engine resends lines at that time) and drops what the cursor says is stored.
 *
 * Bounded: retention by age and by size (oldest lines first, in ingest order), each answer at most MAX_ANSWER lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { RE2JS } from 're2js';

export type Stream = 'stdout' | 'stderr';

/** The container a line came from. */
export interface LogSource {
  containerId: string;
  namespace: string;
  /** The Service (or Job / CronJob) name. */
  service: string;
  kind: string;
  /** The replica (a Service's), or `<run>.<completion>.<attempt>` of a Job's. */
  replica: string;
  container: string;
  node: string;
}

/** One line as the collector hands it over: engine time in microseconds since the epoch. */
export interface NewLine {
  ts: number;
  stream: Stream;
  text: string;
}

export interface StoredLine extends Omit<LogSource, 'containerId'>, NewLine {
  /** Ingest order: a follower asks for ids after the last it saw. */
  id: number;
  /** Engine time, ISO with microseconds. */
  time: string;
}

export interface LogQuery {
  namespace?: string;
  service?: string;
  replica?: string;
  node?: string;
  stream?: Stream;
  /** Microseconds since the epoch, inclusive. */
  since?: number;
  /** Microseconds since the epoch, exclusive. */
  until?: number;
  /** An RE2 regular expression (validated by compileGrep first). */
  grep?: string;
  /** Words that must all occur (full-text, case-insensitive, whole tokens). */
  search?: string;
  /** The last N lines (by time) instead of the first. */
  tail?: number;
  /** Only lines ingested after this id (a follower's next poll). */
  afterId?: number;
  /** At most this many lines (capped at MAX_ANSWER). */
  limit?: number;
}

export interface StoreEvent {
  id: number;
  time: string;
  ts: number;
  type: string;
  namespace?: string;
  service?: string;
  reason?: string;
  message: string;
}

export interface NewEvent {
  ts: number;
  type: string;
  namespace?: string;
  service?: string;
  reason?: string;
  message: string;
}

export interface StoreLimits {
  /** Lines older than this (ms) are dropped. */
  retentionMs: number;
  /** The store's used size is kept under this many bytes (oldest lines dropped first). */
  maxBytes: number;
}

export interface StoreStats {
  /** Bytes the database uses (pages in use; free pages are given back by incremental vacuum). */
  bytes: number;
  lines: number;
  sources: number;
}

/** The most lines one answer holds. */
export const MAX_ANSWER = 10_000;
/** Lines deleted per statement when pruning (keeps each write transaction short). */
const PRUNE_CHUNK = 5_000;
/** Compiled --grep patterns kept. */
const GREP_CACHE = 32;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sources (
  id INTEGER PRIMARY KEY, container_id TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL, service TEXT NOT NULL, kind TEXT NOT NULL,
  replica TEXT NOT NULL, container TEXT NOT NULL, node TEXT NOT NULL, cursor_ts INTEGER NOT NULL DEFAULT 0, cursor_n INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sources_service ON sources(namespace, service);
CREATE TABLE IF NOT EXISTS lines (id INTEGER PRIMARY KEY, source INTEGER NOT NULL, ts INTEGER NOT NULL, stream INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lines_source_ts ON lines(source, ts);
CREATE VIRTUAL TABLE IF NOT EXISTS lines_fts USING fts5(text, content='lines', content_rowid='id', tokenize='unicode61', detail='none');
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, type TEXT NOT NULL, namespace TEXT, service TEXT, reason TEXT, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
`;

interface SourceRow {
  id: number;
  container_id: string;
  namespace: string;
  service: string;
  kind: string;
  replica: string;
  container: string;
  node: string;
  cursor_ts: number;
  cursor_n: number;
}

interface LineRow {
  id: number;
  source: number;
  ts: number;
  stream: number;
  text: string;
}

/** Where the store of `instance` lives under the state dir. */
export function storePath(stateDir: string, instance: string): string {
  return path.join(stateDir, `logs-${instance}.db`);
}

/** Compiles a --grep pattern, or says why it does not compile (RE2 syntax, as Go's regexp). */
export function compileGrep(pattern: string): { ok: true; re: RE2JS } | { ok: false; error: string } {
  if (pattern.length > 1000) return { ok: false, error: 'grep: a pattern of more than 1000 characters' };
  try {
    return { ok: true, re: RE2JS.compile(pattern) };
  } catch (err) {
    return { ok: false, error: `grep: ${pattern} is not an RE2 regular expression: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Words to an FTS5 query every one of which must match, each quoted: no input is an FTS5 syntax error. */
export function searchQuery(words: string): string | undefined {
  const tokens = words.split(/\s+/).filter(Boolean).slice(0, 32);
  return tokens.length ? tokens.map((t) => `"${t.replaceAll('"', '""')}"`).join(' ') : undefined;
}

export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}${String(us % 1000).padStart(3, '0')}Z`;
}

export class LogStore {
  private readonly db: Database.Database;
  private readonly sourcesById = new Map<number, SourceRow>();
  private readonly sourceIds = new Map<string, number>();
  private readonly grepCache = new Map<string, RE2JS>();
  /** Lines stored: counted once at open, then kept by every insert and delete (a count(*) scans the table). */
  private lineCount: number;
  private readonly stmts;

  private constructor(db: Database.Database, private limits: StoreLimits) {
    this.db = db;
    db.function('re2', { deterministic: true }, (pattern: unknown, text: unknown) => (this.grep(String(pattern)).matcher(String(text)).find() ? 1 : 0));
    this.stmts = {
      insertSource: db.prepare('INSERT INTO sources (container_id, namespace, service, kind, replica, container, node) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      updateSource: db.prepare('UPDATE sources SET node = ? WHERE id = ?'),
      cursor: db.prepare('UPDATE sources SET cursor_ts = ?, cursor_n = ? WHERE id = ?'),
      insertLine: db.prepare('INSERT INTO lines (source, ts, stream, text) VALUES (?, ?, ?, ?)'),
      insertEvent: db.prepare('INSERT INTO events (ts, type, namespace, service, reason, message) VALUES (?, ?, ?, ?, ?, ?)'),
      oldestChunk: db.prepare(`SELECT max(id) AS id, max(ts) AS ts, count(*) AS n FROM (SELECT id, ts FROM lines ORDER BY id LIMIT ${PRUNE_CHUNK})`),
      deleteUpTo: db.prepare('DELETE FROM lines WHERE id <= ?'),
      deleteOldIn: db.prepare('DELETE FROM lines WHERE id <= ? AND ts < ?'),
      indexFrom: db.prepare('INSERT INTO lines_fts (rowid, text) SELECT id, text FROM lines WHERE id > ?'),
      unindexUpTo: db.prepare("INSERT INTO lines_fts (lines_fts, rowid, text) SELECT 'delete', id, text FROM lines WHERE id <= ?"),
      unindexOldIn: db.prepare("INSERT INTO lines_fts (lines_fts, rowid, text) SELECT 'delete', id, text FROM lines WHERE id <= ? AND ts < ?"),
      maxId: db.prepare('SELECT max(id) FROM lines').pluck(),
      deleteEvents: db.prepare('DELETE FROM events WHERE ts < ?'),
      pageCount: db.prepare('PRAGMA page_count').pluck(),
      freePages: db.prepare('PRAGMA freelist_count').pluck(),
      pageSize: db.prepare('PRAGMA page_size').pluck(),
    };
    for (const row of db.prepare('SELECT * FROM sources').all() as SourceRow[]) this.remember(row);
    this.lineCount = db.prepare('SELECT count(*) FROM lines').pluck().get() as number;
  }

  /** Opens (or creates) the store at `file`; a directory that is not writable or a damaged file is an Error saying so. */
  static open(file: string, limits: StoreLimits): LogStore {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file, { timeout: 2000 });
    try {
      db.pragma('auto_vacuum = INCREMENTAL'); // before the first table: freed pages can be given back
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('cache_size = -65536'); // 64 MiB of page cache: the index's hot pages stay in memory while ingesting
      db.exec(SCHEMA);
      fs.chmodSync(file, 0o600);
    } catch (err) {
      db.close();
      throw err;
    }
    return new LogStore(db, limits);
  }

  setLimits(limits: StoreLimits): void {
    this.limits = limits;
  }

  /** The stored position of a container's stream: resume the engine's stream from `ts` (µs). */
  cursor(containerId: string): { ts: number; n: number } | undefined {
    const id = this.sourceIds.get(containerId);
    const row = id === undefined ? undefined : this.sourcesById.get(id);
    return row && row.cursor_ts > 0 ? { ts: row.cursor_ts, n: row.cursor_n } : undefined;
  }

  /**
   * Stores `lines` of `source` (in the engine's order) and moves its cursor, in one transaction. What a resumed
   * stream resends is dropped before (ResumeFilter, collector.ts). Returns the lines stored.
   */
  append(source: LogSource, lines: readonly NewLine[]): number {
    return this.appendMany([{ source, lines }]).reduce((n, b) => n + b.lines.length, 0);
  }

  /** append() of several sources in one transaction (the collector's flush); the lines stored, per source. */
  appendMany(batches: readonly { source: LogSource; lines: readonly NewLine[] }[]): { source: LogSource; lines: NewLine[] }[] {
    const out: { source: LogSource; lines: NewLine[] }[] = [];
    this.db.transaction(() => {
      const after = this.lastId();
      for (const b of batches) if (b.lines.length) out.push({ source: b.source, lines: this.appendOne(b.source, b.lines) });
      for (const b of out) this.lineCount += b.lines.length;
      // The full-text index takes the transaction's lines in one statement (3x the rate of a trigger per row).
      this.stmts.indexFrom.run(after);
    })();
    return out;
  }

  private appendOne(source: LogSource, lines: readonly NewLine[]): NewLine[] {
    const row = this.source(source);
    const stored: NewLine[] = [];
    let cursorTs = row.cursor_ts;
    let cursorN = row.cursor_n;
    for (const l of lines) {
      this.stmts.insertLine.run(row.id, l.ts, l.stream === 'stderr' ? 2 : 1, l.text);
      stored.push(l);
      if (l.ts === cursorTs) cursorN++;
      else if (l.ts > cursorTs) {
        cursorTs = l.ts;
        cursorN = 1;
      }
    }
    if (stored.length) {
      this.stmts.cursor.run(cursorTs, cursorN, row.id);
      row.cursor_ts = cursorTs;
      row.cursor_n = cursorN;
    }
    return stored;
  }

  /** Records an event of berth's (what it did and why). */
  event(e: NewEvent): void {
    this.stmts.insertEvent.run(e.ts, e.type, e.namespace ?? null, e.service ?? null, e.reason ?? null, e.message);
  }

  events(q: { since?: number; until?: number; namespace?: string; service?: string; afterId?: number; limit?: number }): StoreEvent[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.since !== undefined) (where.push('ts >= ?'), args.push(q.since));
    if (q.until !== undefined) (where.push('ts < ?'), args.push(q.until));
    if (q.namespace !== undefined) (where.push('namespace = ?'), args.push(q.namespace));
    if (q.service !== undefined) (where.push('service = ?'), args.push(q.service));
    if (q.afterId !== undefined) (where.push('id > ?'), args.push(q.afterId));
    const limit = Math.min(q.limit ?? MAX_ANSWER, MAX_ANSWER);
    const rows = this.db.prepare(`SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts, id LIMIT ${limit}`).all(...args) as (Omit<StoreEvent, 'time'> & Record<string, unknown>)[];
    return rows.map((r) => ({
      id: r.id, ts: r.ts, time: isoMicros(r.ts), type: r.type, message: r.message,
      ...(r.namespace != null ? { namespace: r.namespace as string } : {}), ...(r.service != null ? { service: r.service as string } : {}), ...(r.reason != null ? { reason: r.reason as string } : {}),
    }));
  }

  /** The lines matching `q`, oldest first (with `tail`, the last N by time). */
  query(q: LogQuery): StoredLine[] {
    const sources = [...this.sourcesById.values()].filter((s) =>
      (q.namespace === undefined || s.namespace === q.namespace) && (q.service === undefined || s.service === q.service)
      && (q.replica === undefined || s.replica === q.replica || s.container === q.replica) && (q.node === undefined || s.node === q.node));
    if (!sources.length) return [];
    const limit = Math.min(q.tail ?? q.limit ?? MAX_ANSWER, q.limit ?? MAX_ANSWER, MAX_ANSWER);
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.since !== undefined) (where.push('l.ts >= ?'), args.push(q.since));
    if (q.until !== undefined) (where.push('l.ts < ?'), args.push(q.until));
    if (q.stream) (where.push('l.stream = ?'), args.push(q.stream === 'stderr' ? 2 : 1));
    if (q.afterId !== undefined) (where.push('l.id > ?'), args.push(q.afterId));
    if (q.grep !== undefined) (where.push('re2(?, l.text)'), args.push(q.grep));
    const search = q.search !== undefined ? searchQuery(q.search) : undefined;
    const desc = q.tail !== undefined;
    const order = desc ? 'l.ts DESC, l.id DESC' : 'l.ts, l.id';
    let rows: LineRow[];
    if (search) {
      // The full-text index walks its matches in ingest order (newest first for a tail) and stops at the limit: no
      // sort of every match. Ingest order is time order but for lines a flush interval apart; the answer is then
      // sorted by time.
      const ids = sources.map((s) => s.id);
      rows = this.db.prepare(`SELECT l.* FROM lines_fts f JOIN lines l ON l.id = f.rowid WHERE f.lines_fts MATCH ? AND l.source IN (${ids.map(() => '?').join(',')})${where.length ? ` AND ${where.join(' AND ')}` : ''} ORDER BY f.rowid ${desc ? 'DESC' : ''} LIMIT ${limit}`)
        .all(search, ...ids, ...args) as LineRow[];
      rows.sort((a, b) => (desc ? b.ts - a.ts || b.id - a.id : a.ts - b.ts || a.id - b.id));
    } else {
      // One indexed range per source (a service's replicas over time), merged: never a sort of everything stored.
      const stmt = this.db.prepare(`SELECT l.* FROM lines l WHERE l.source = ?${where.length ? ` AND ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${limit}`);
      rows = sources.flatMap((s) => stmt.all(s.id, ...args) as LineRow[]);
      rows.sort((a, b) => (desc ? b.ts - a.ts || b.id - a.id : a.ts - b.ts || a.id - b.id));
      rows = rows.slice(0, limit);
    }
    if (desc) rows.reverse();
    return rows.map((r) => this.line(r));
  }

  /** The newest line id (a follower starts after it). */
  lastId(): number {
    return (this.stmts.maxId.get() as number | null) ?? 0;
  }

  /** Drops lines past the retention and beyond the size bound, oldest first; gives the freed pages back. */
  prune(nowMs: number): { lines: number } {
    const cutoff = (nowMs - this.limits.retentionMs) * 1000;
    let deleted = 0;
    for (;;) {
      const chunk = this.stmts.oldestChunk.get() as { id: number | null; ts: number | null; n: number };
      if (!chunk.n || chunk.id === null) break;
      const tooOld = chunk.ts !== null && chunk.ts < cutoff;
      const tooBig = this.bytes() > this.limits.maxBytes * 0.9;
      if (!tooOld && !tooBig) {
        // The oldest chunk holds newer lines too: drop only its old ones; later chunks are newer still.
        const old = this.db.transaction(() => {
          this.stmts.unindexOldIn.run(chunk.id, cutoff);
          return this.stmts.deleteOldIn.run(chunk.id, cutoff).changes;
        })();
        deleted += old;
        this.lineCount -= old;
        break;
      }
      // Too old: the whole oldest chunk is past retention. Too big: drop the oldest chunk regardless.
      this.db.transaction(() => {
        this.stmts.unindexUpTo.run(chunk.id);
        this.stmts.deleteUpTo.run(chunk.id);
      })();
      deleted += chunk.n;
      this.lineCount -= chunk.n;
      if (tooBig) this.db.pragma('incremental_vacuum');
    }
    this.stmts.deleteEvents.run(cutoff);
    // A source with no line left, silent for the whole retention, is forgotten (a collector resumes a live one from
    // the retention's start, so nothing older comes back).
    const gone = this.db.prepare('SELECT id, container_id FROM sources WHERE cursor_ts < ? AND NOT EXISTS (SELECT 1 FROM lines WHERE lines.source = sources.id)').all(cutoff) as { id: number; container_id: string }[];
    if (gone.length) {
      const del = this.db.prepare('DELETE FROM sources WHERE id = ?');
      this.db.transaction(() => { for (const g of gone) del.run(g.id); })();
      for (const g of gone) {
        this.sourcesById.delete(g.id);
        this.sourceIds.delete(g.container_id);
      }
    }
    if (deleted) this.db.pragma('incremental_vacuum');
    return { lines: deleted };
  }

  stats(): StoreStats {
    return { bytes: this.bytes(), lines: this.lineCount, sources: this.sourcesById.size };
  }

  /** Bytes in use (pages minus free pages): three pragmas, cheap enough for every flush. */
  bytes(): number {
    const pages = (this.stmts.pageCount.get() as number) - (this.stmts.freePages.get() as number);
    return pages * (this.stmts.pageSize.get() as number);
  }

  close(): void {
    this.db.close();
  }

  private source(s: LogSource): SourceRow {
    const id = this.sourceIds.get(s.containerId);
    if (id !== undefined) {
      const row = this.sourcesById.get(id)!;
      if (row.node !== s.node) {
        this.stmts.updateSource.run(s.node, id);
        row.node = s.node;
      }
      return row;
    }
    const info = this.stmts.insertSource.run(s.containerId, s.namespace, s.service, s.kind, s.replica, s.container, s.node);
    const row: SourceRow = { id: Number(info.lastInsertRowid), container_id: s.containerId, namespace: s.namespace, service: s.service, kind: s.kind, replica: s.replica, container: s.container, node: s.node, cursor_ts: 0, cursor_n: 0 };
    this.remember(row);
    return row;
  }

  private remember(row: SourceRow): void {
    this.sourcesById.set(row.id, row);
    this.sourceIds.set(row.container_id, row.id);
  }

  private line(r: LineRow): StoredLine {
    const s = this.sourcesById.get(r.source)!;
    return {
      id: r.id, time: isoMicros(r.ts), ts: r.ts, namespace: s.namespace, service: s.service, kind: s.kind, replica: s.replica,
      container: s.container, node: s.node, stream: r.stream === 2 ? 'stderr' : 'stdout', text: r.text,
    };
  }

  private grep(pattern: string): RE2JS {
    let re = this.grepCache.get(pattern);
    if (!re) {
      re = RE2JS.compile(pattern);
      if (this.grepCache.size >= GREP_CACHE) this.grepCache.delete(this.grepCache.keys().next().value!);
      this.grepCache.set(pattern, re);
    }
    return re;
  }
}
