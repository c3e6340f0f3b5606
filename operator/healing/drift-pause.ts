/**
 * Drift correction paused per Service (`berth pause-drift` / `resume-drift`, POST /v1/services/<ns>/<name>/pause-drift).
 * While a Service is paused, the actions of cause 'drift' on it stay in the plan and pending (status says what is left
 * uncorrected) but a pass does not run them; changes from git and everything else go on. Kept in memory and in
 * `<state-dir>/drift-pauses-<instance>.json` (mode 0600, written atomically), loaded at start; bounded.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/log.ts';

export interface DriftPause {
  /** The Service key, `<namespace>/<name>`. */
  service: string;
  /** Who paused it (the token name or certificate subject). */
  by: string;
  /** When (ISO time). */
  at: string;
  reason?: string;
}

/** The most pauses kept (a pause asked for beyond it is refused). */
export const MAX_PAUSES = 1000;
/** The longest reason kept (longer ones are refused). */
export const MAX_REASON = 200;
const MAX_BY = 200;

const LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
/** A Service key: two DNS labels, the manifest schema's names. */
export const SERVICE_KEY = new RegExp(`^${LABEL}/${LABEL}$`);

export type PauseResult =
  | { ok: true; pause: DriftPause; created: boolean }
  | { ok: false; status: 400 | 500 | 507; error: string };

interface PauseFile {
  apiVersion: 'berth/v1';
  kind: 'DriftPauses';
  pauses: DriftPause[];
}

export function driftPausesFile(stateDir: string, instance: string): string {
  return path.join(stateDir, `drift-pauses-${instance}.json`);
}

export class DriftPauses {
  private readonly entries = new Map<string, DriftPause>();

  /** `file` null: in memory only (tests, one-shot commands). */
  constructor(private readonly file: string | null, private readonly log?: Logger) {
    if (file) this.load(file);
  }

  /** The store of `instance` under `stateDir`, loaded. */
  static open(stateDir: string, instance: string, log?: Logger): DriftPauses {
    return new DriftPauses(driftPausesFile(stateDir, instance), log);
  }

  /** The paused Service keys. */
  keys(): ReadonlySet<string> {
    return new Set(this.entries.keys());
  }

  get(service: string): DriftPause | undefined {
    return this.entries.get(service);
  }

  list(): DriftPause[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Pauses drift correction of `service`. Pausing one already paused is idempotent: the existing pause is answered
   * (created false), unchanged.
   */
  pause(p: { service: string; by: string; reason?: string }, now: Date = new Date()): PauseResult {
    if (!SERVICE_KEY.test(p.service)) return { ok: false, status: 400, error: `"${p.service.slice(0, 100)}" is not <namespace>/<name> (DNS labels)` };
    if (p.reason !== undefined && typeof p.reason !== 'string') return { ok: false, status: 400, error: 'reason must be a string' };
    if (p.reason !== undefined && p.reason.length > MAX_REASON) return { ok: false, status: 400, error: `reason: at most ${MAX_REASON} characters` };
    const existing = this.entries.get(p.service);
    if (existing) return { ok: true, pause: existing, created: false };
    if (this.entries.size >= MAX_PAUSES) return { ok: false, status: 507, error: `at most ${MAX_PAUSES} services may have drift correction paused` };
    const reason = p.reason?.trim();
    const pause: DriftPause = { service: p.service, by: p.by.slice(0, MAX_BY), at: now.toISOString(), ...(reason ? { reason } : {}) };
    this.entries.set(p.service, pause);
    try {
      this.save();
    } catch (err) {
      this.entries.delete(p.service);
      return { ok: false, status: 500, error: `cannot record the pause: ${(err as Error).message}` };
    }
    return { ok: true, pause, created: true };
  }

  /** Resumes drift correction of `service`: the pause it removed, or undefined when it was not paused. */
  resume(service: string): DriftPause | undefined {
    const existing = this.entries.get(service);
    if (!existing) return undefined;
    this.entries.delete(service);
    try {
      this.save();
    } catch (err) {
      this.entries.set(service, existing);
      throw err;
    }
    return existing;
  }

  /** Reads the file; a missing file is no pause, a malformed entry is skipped (logged), at most MAX_PAUSES kept. */
  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log?.warn('cannot read the drift pauses; none in force', { file, error: (err as Error).message });
      return;
    }
    let doc: Partial<PauseFile>;
    try {
      doc = JSON.parse(text) as Partial<PauseFile>;
    } catch (err) {
      this.log?.warn('drift pauses file is not JSON; none in force', { file, error: (err as Error).message });
      return;
    }
    let skipped = 0;
    for (const e of Array.isArray(doc.pauses) ? doc.pauses : []) {
      const valid = e && typeof e.service === 'string' && SERVICE_KEY.test(e.service) && typeof e.by === 'string' && typeof e.at === 'string'
        && (e.reason === undefined || (typeof e.reason === 'string' && e.reason.length <= MAX_REASON));
      if (!valid || this.entries.size >= MAX_PAUSES) { skipped++; continue; }
      this.entries.set(e.service, { service: e.service, by: e.by.slice(0, MAX_BY), at: e.at, ...(e.reason ? { reason: e.reason } : {}) });
    }
    if (skipped) this.log?.warn('drift pauses: entries skipped (malformed or over the bound)', { file, skipped });
  }

  /** Writes the file atomically (tmp + rename), readable by its owner only. */
  private save(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const doc: PauseFile = { apiVersion: 'berth/v1', kind: 'DriftPauses', pauses: this.list() };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
