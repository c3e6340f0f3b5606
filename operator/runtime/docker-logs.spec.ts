import { describe, expect, it } from 'vitest';
import { LogDemux } from './docker-logs.ts';

const frame = (stream: 1 | 2, text: string): Buffer => {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

describe('LogDemux', () => {
  it('joins the payloads of stdout and stderr frames in order, frames and characters straddling chunks', () => {
    const all = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err ü\n'), frame(1, 'out 2\n')]);
    for (const size of [1, 3, 7, 9, all.length]) {
      const d = new LogDemux();
      for (let at = 0; at < all.length; at += size) d.push(all.subarray(at, at + size));
      expect(d.text()).toBe('out 1\nerr ü\nout 2\n');
    }
  });

  it('passes the raw bytes of a TTY container through', () => {
    const d = new LogDemux();
    d.push(Buffer.from('hel'));
    d.push(Buffer.from('lo\r\nworld\n'));
    expect(d.text()).toBe('hello\r\nworld\n');
    const short = new LogDemux();
    short.push(Buffer.from('ok'));
    expect(short.text()).toBe('ok');
  });
});
