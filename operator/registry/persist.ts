/**
 * External endpoints outlive the operator: every change of the registry's external registrations is written to
 * `<state-dir>/registry-<instance>.json` (mode 0600, atomic rename, coalesced), and a restarted operator registers
 * them again once its first revision is applied (only then does the registry know which services accept them), as a
 * Consul agent restores its services from its data dir. A restored endpoint's heartbeat clock starts at the restore:
 * a client that is alive heartbeats within its TTL, one that is gone turns critical and is removed as usual. Until the
 * restore, nothing is written, so a start that fails early never empties the file.
 */
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { asBerthError } from '../model/errors.ts';
import type { Logger } from '../util/log.ts';
import type { ExternalRegistration, Registry } from './registry.ts';

/** Larger files are not read (the registration limits keep real ones far below). */
export const MAX_EXTERNALS_FILE_BYTES = 16 * 1024 * 1024;
const WRITE_DELAY_MS = 100;

export interface ExternalsPersistence {
  /** Registers the saved endpoints again (once; later calls do nothing); returns how many were restored. */
  restore(): Promise<number>;
  /** Writes what is pending and stops following the registry. */
  close(): Promise<void>;
}

export function externalsFile(stateDir: string, instance: string): string {
  return path.join(stateDir, `registry-${instance}.json`);
}

export function persistExternals(registry: Registry, file: string, log: Logger): ExternalsPersistence {
  let restored = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let unsubscribe: (() => void) | undefined;
  const write = (): Promise<void> => {
    writing = writing.then(async () => {
      const text = `${JSON.stringify({ externals: registry.registrations() })}\n`;
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
        await writeFile(tmp, text, { mode: 0o600 });
        await chmod(tmp, 0o600);
        await rename(tmp, file);
      } catch (err) {
        log.warn('could not save the external endpoints', { file, error: asBerthError(err).message });
      }
    });
    return writing;
  };
  const schedule = (): void => {
    if (timer) return;
    timer = setTimeout(() => { timer = undefined; void write(); }, WRITE_DELAY_MS);
    timer.unref();
  };
  return {
    async restore() {
      if (restored) return 0;
      restored = true;
      const saved = await readSaved(file, log);
      let count = 0;
      for (const reg of saved) {
        try {
          registry.register(reg);
          count++;
        } catch (err) {
          log.warn('saved external endpoint not restored', { service: reg.service, id: reg.id, error: asBerthError(err).message });
        }
      }
      if (saved.length) log.info('external endpoints restored', { restored: count, saved: saved.length, file });
      unsubscribe = registry.subscribe(schedule);
      if (count !== saved.length) schedule(); // the file loses what the revision no longer accepts
      return count;
    },
    async close() {
      unsubscribe?.();
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
        await write();
      }
      await writing;
    },
  };
}

async function readSaved(file: string, log: Logger): Promise<ExternalRegistration[]> {
  let text: string;
  try {
    const { size } = await stat(file); // checked before reading: an oversized file is never loaded whole
    if (size > MAX_EXTERNALS_FILE_BYTES) {
      log.warn('saved external endpoints not read: file too large', { file, bytes: size, max: MAX_EXTERNALS_FILE_BYTES });
      return [];
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('saved external endpoints not read', { file, error: (err as Error).message });
    return [];
  }
  try {
    const doc = JSON.parse(text) as { externals?: unknown };
    return Array.isArray(doc.externals) ? (doc.externals as ExternalRegistration[]) : [];
  } catch {
    log.warn('saved external endpoints not read: not valid JSON', { file });
    return [];
  }
}
