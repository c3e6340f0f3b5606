/** A small structured logger: one line per event, `level msg key=value`, to stderr. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  /** Logs a message with fields at `level`. */
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function createLogger(opts: { level?: Level; json?: boolean; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const log = (level: Level, msg: string, fields: Record<string, unknown> = {}): void => {
    if (ORDER[level] < min) return;
    const time = new Date().toISOString();
    if (opts.json) return write(JSON.stringify({ time, level, msg, ...fields }));
    const kv = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
    write(`${time} ${level.padEnd(5)} ${msg}${kv ? ' ' + kv : ''}`);
  };
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    debug: (m, f) => log('debug', m, f),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({ write: () => undefined });

function fmt(v: unknown): string {
  // One event, one line: a multi-line value (a validation report) is joined with '; ', never an escaped \n.
  const s = (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)).replace(/\s*\n\s*/g, '; ');
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}
