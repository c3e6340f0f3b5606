/**
 * The engine's log stream (GET /containers/{id}/logs?follow&timestamps) to lines, incrementally and in bounded
 * memory: the 8-byte frame headers of a non-TTY container's stream (stream type, payload length) are read as they
 * come, each stream's bytes are split at newlines, and each line's leading RFC 3339 timestamp (nanoseconds) becomes
 * microseconds. A line longer than LINE_MAX bytes is cut there and marked; the rest of it, up to its newline, is
 * counted and dropped without being held. Bytes that are not UTF-8 become U+FFFD, control characters but tab are
 * replaced, so binary output stores as text.
 */
import type { NewLine, Stream } from './store.ts';

/** Bytes of a line that are kept (the engine itself splits messages at 16 KiB). */
export const LINE_MAX = 16 * 1024;

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Splits one stream's bytes into lines; `push` returns the lines completed by `chunk`. */
class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private dropped = 0;

  constructor(private readonly stream: Stream, private readonly now: () => number) {}

  push(chunk: Buffer, out: NewLine[]): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.hold(chunk.subarray(start, end));
      if (nl === -1) return;
      out.push(this.take());
      start = nl + 1;
    }
  }

  /** The line under way, if any (the stream ended without a newline). */
  flush(out: NewLine[]): void {
    if (this.held > 0 || this.dropped > 0) out.push(this.take());
  }

  private hold(bytes: Buffer): void {
    const room = LINE_MAX + TS_MAX - this.held;
    if (bytes.length <= room) {
      if (bytes.length) this.parts.push(bytes);
      this.held += bytes.length;
      return;
    }
    if (room > 0) this.parts.push(bytes.subarray(0, room));
    this.held += Math.max(0, room);
    this.dropped += bytes.length - Math.max(0, room);
  }

  private take(): NewLine {
    const raw = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const dropped = this.dropped;
    this.parts = [];
    this.held = 0;
    this.dropped = 0;
    const { ts, body } = splitTimestamp(raw, this.now);
    let text = clean(decoder.decode(body.length > LINE_MAX ? body.subarray(0, LINE_MAX) : body));
    const cut = dropped + Math.max(0, body.length - LINE_MAX);
    if (cut > 0) text += ` [berth: line cut at ${LINE_MAX} bytes, ${cut} more dropped]`;
    return { ts, stream: this.stream, text };
  }
}

/** The longest timestamp prefix: `2026-12-03T13:28:54.123456789Z `. */
const TS_MAX = 40;
const TS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) /;

function splitTimestamp(raw: Buffer, now: () => number): { ts: number; body: Buffer } {
  const head = raw.subarray(0, TS_MAX).toString('latin1');
  const m = TS.exec(head);
  if (!m) return { ts: now(), body: raw };
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return { ts: now(), body: raw };
  const micros = Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
  return { ts: ms * 1000 + micros, body: raw.subarray(m[0].length) };
}

/** Control characters (but tab) to U+FFFD; a trailing carriage return dropped. */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\r$/, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '\ufffd');
}

/**
 * A container's log stream to lines: `tty` false reads the engine's multiplexed frames (stdout 1, stderr 2), true
 * takes the raw stream as stdout. Bounded: at most one frame header and LINE_MAX per stream are held.
 */
export class LogStreamParser {
  private readonly out = { stdout: undefined as LineSplitter | undefined, stderr: undefined as LineSplitter | undefined };
  private header = Buffer.alloc(0);
  private remaining = 0;
  private current: Stream = 'stdout';

  constructor(private readonly tty: boolean, private readonly now: () => number = () => Date.now() * 1000) {}

  /** The lines completed by `chunk`. */
  push(chunk: Buffer): NewLine[] {
    const lines: NewLine[] = [];
    if (this.tty) {
      this.splitter('stdout').push(chunk, lines);
      return lines;
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        const need = 8 - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + need)]);
        at += Math.min(need, chunk.length - at);
        if (this.header.length < 8) break;
        this.current = this.header[0] === 2 ? 'stderr' : 'stdout';
        this.remaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      this.splitter(this.current).push(chunk.subarray(at, at + take), lines);
      this.remaining -= take;
      at += take;
    }
    return lines;
  }

  /** The lines under way when the stream ended. */
  end(): NewLine[] {
    const lines: NewLine[] = [];
    this.out.stdout?.flush(lines);
    this.out.stderr?.flush(lines);
    return lines;
  }

  private splitter(s: Stream): LineSplitter {
    return (this.out[s] ??= new LineSplitter(s, this.now));
  }
}
