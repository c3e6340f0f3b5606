import { describe, expect, it } from 'vitest';
import { LINE_MAX, LogStreamParser } from './parse.ts';

/** One multiplexed frame of the engine's stream. */
function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}
const T = '2026-12-03T13:28:54.123456789Z';
const us = Date.parse('2026-12-03T13:28:54Z') * 1000 + 123_456;

describe('LogStreamParser', () => {
  it('reads frames split anywhere, per stream, with microsecond timestamps', () => {
    const p = new LogStreamParser(false);
    const bytes = Buffer.concat([frame(1, `${T} hello\n${T} wor`), frame(2, `${T} oops\n`), frame(1, 'ld\n')]);
    const lines = [];
    for (let i = 0; i < bytes.length; i += 3) lines.push(...p.push(bytes.subarray(i, i + 3)));
    expect(lines).toEqual([
      { ts: us, stream: 'stdout', text: 'hello' },
      { ts: us, stream: 'stderr', text: 'oops' },
      { ts: us, stream: 'stdout', text: 'world' },
    ]);
    expect(p.end()).toEqual([]);
  });

  it('cuts a long line at LINE_MAX without holding the rest, marks it; flushes a line without newline at the end', () => {
    const p = new LogStreamParser(true, () => 42);
    const big = 'a'.repeat(1024 * 1024);
    const lines = [...p.push(Buffer.from(`${T} `)), ...[...Array(4)].flatMap(() => p.push(Buffer.from(big))), ...p.push(Buffer.from('\nlast'))];
    expect(lines).toHaveLength(1);
    expect(lines[0]!.text.startsWith('a'.repeat(LINE_MAX) + ' [berth: line cut at 16384 bytes, ')).toBe(true);
    expect(lines[0]!.text).toContain(`${4 * 1024 * 1024 - LINE_MAX} more dropped]`);
    expect(lines[0]!.ts).toBe(us);
    expect(p.end()).toEqual([{ ts: 42, stream: 'stdout', text: 'last' }]);
  });

  it('stores binary output as text: invalid UTF-8 and control characters replaced, CR dropped', () => {
    const p = new LogStreamParser(false);
    const lines = p.push(frame(1, Buffer.concat([Buffer.from(`${T} `), Buffer.from([0xff, 0x00, 0x41, 0x09, 0x1b, 0x0d, 0x0a])])));
    expect(lines).toEqual([{ ts: us, stream: 'stdout', text: '\ufffd\ufffdA\t\ufffd' }]);
  });
});
