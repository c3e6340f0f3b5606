/** The BuildKit trace decoder on messages captured from dockerd 20.10, and the bounded build record. */
import { describe, expect, it } from 'vitest';
import { decodeTrace, failureSummary, logTail, newBuildRecord, recordTrace } from './buildkit-trace.ts';

// `RUN echo out1; echo err1 >&2; exit 4` on berth-local/busybox:1: the FROM step (cached), the RUN step started,
// its stdout and stderr, and the RUN step completed with its error.
const FAILING_RUN = [
  'CpMBCkdzaGEyNTY6NDk0MjQ3ODY5NTUwMzQ1ZWVlZjI0M2Y0Y2RjODc1OGZlMGU0NmVjN2NhYTk5MGUwNmI4MWI3OTNlZTY2OTkyZhoqWzEvMl0gRlJPTSBkb2NrZXIuaW8vYmVydGgtbG9jYWwvYnVzeWJveDoxIAEqDAiH0cHYBhCGgOr8ATIMCIfRwdgGEKvP7fwB',
  'CswBCkdzaGEyNTY6OTEzMDYxZjUyMGUxM2YxMmFjMjlhYzQ5NDRjMmZiN2I2NWRlYjNmZWM1NDUzOTFjNGRhZmQyZjMwODBlY2U1MhJHc2hhMjU2OjQ5NDI0Nzg2OTU1MDM0NWVlZWYyNDNmNGNkYzg3NThmZTBlNDZlYzdjYWE5OTBlMDZiODFiNzkzZWU2Njk5MmYaKlsyLzJdIFJVTiBlY2hvIG91dDE7IGVjaG8gZXJyMSA+JjI7IGV4aXQgNCoMCIfRwdgGEOGH+IIC',
  'Gl8KR3NoYTI1Njo5MTMwNjFmNTIwZTEzZjEyYWMyOWFjNDk0NGMyZmI3YjY1ZGViM2ZlYzU0NTM5MWM0ZGFmZDJmMzA4MGVjZTUyEgsIiNHB2AYQxP+XGhgBIgVvdXQxCg==',
  'Gl8KR3NoYTI1Njo5MTMwNjFmNTIwZTEzZjEyYWMyOWFjNDk0NGMyZmI3YjY1ZGViM2ZlYzU0NTM5MWM0ZGFmZDJmMzA4MGVjZTUyEgsIiNHB2AYQ66KzGhgCIgVlcnIxCg==',
  'Cq4CCkdzaGEyNTY6OTEzMDYxZjUyMGUxM2YxMmFjMjlhYzQ5NDRjMmZiN2I2NWRlYjNmZWM1NDUzOTFjNGRhZmQyZjMwODBlY2U1MhJHc2hhMjU2OjQ5NDI0Nzg2OTU1MDM0NWVlZWYyNDNmNGNkYzg3NThmZTBlNDZlYzdjYWE5OTBlMDZiODFiNzkzZWU2Njk5MmYaKlsyLzJdIFJVTiBlY2hvIG91dDE7IGVjaG8gZXJyMSA+JjI7IGV4aXQgNCoMCIfRwdgGEOGH+IICMgsIiNHB2AYQ3P3SPzpTZXhlY3V0b3IgZmFpbGVkIHJ1bm5pbmcgWy9iaW4vc2ggLWMgZWNobyBvdXQxOyBlY2hvIGVycjEgPiYyOyBleGl0IDRdOiBleGl0IGNvZGU6IDQ=',
];
const RUN = 'sha256:913061f520e13f12ac29ac4944c2fb7b65deb3fec545391c4dafd2f3080ece52';

/** A minimal protobuf encoder for the fields the decoder reads. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
function bytesField(no: number, value: Buffer | string): Buffer {
  const b = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return Buffer.concat([Buffer.from([...varint(no * 8 + 2), ...varint(b.length)]), b]);
}
function logMessage(vertex: string, msg: string): string {
  const entry = Buffer.concat([bytesField(1, vertex), Buffer.from([...varint(3 * 8), 1]), bytesField(4, msg)]);
  return bytesField(3, entry).toString('base64');
}

describe('decodeTrace', () => {
  it('reads vertexes (name, cached, started, completed, error) and logs (vertex, stream, bytes)', () => {
    const [from, started, out, err, failed] = FAILING_RUN.map(decodeTrace);
    expect(from!.vertexes[0]).toMatchObject({ name: '[1/2] FROM docker.io/berth-local/busybox:1', cached: true, completed: true, error: '' });
    expect(started!.vertexes[0]).toMatchObject({ digest: RUN, name: '[2/2] RUN echo out1; echo err1 >&2; exit 4', started: true, completed: false });
    expect(out!.logs).toEqual([{ vertex: RUN, stream: 1, msg: Buffer.from('out1\n') }]);
    expect(err!.logs[0]).toMatchObject({ stream: 2, msg: Buffer.from('err1\n') });
    expect(failed!.vertexes[0]).toMatchObject({ completed: true, error: 'executor failed running [/bin/sh -c echo out1; echo err1 >&2; exit 4]: exit code: 4' });
  });

  it('an empty message is empty; a truncated one throws', () => {
    expect(decodeTrace('')).toEqual({ vertexes: [], logs: [] });
    const whole = Buffer.from(FAILING_RUN[2]!, 'base64');
    expect(() => decodeTrace(whole.subarray(0, whole.length - 3).toString('base64'))).toThrow(/truncated/);
  });
});

describe('the build record', () => {
  it('names the failing step with its error and its own output, not the other steps\'', () => {
    const r = newBuildRecord();
    recordTrace(r, decodeTrace(logMessage('sha256:other', 'unrelated\n')));
    const started = FAILING_RUN.map((m) => recordTrace(r, decodeTrace(m))).flat();
    expect(started).toEqual(['[2/2] RUN echo out1; echo err1 >&2; exit 4']);
    expect(r.completed.has(RUN)).toBe(true);
    expect(failureSummary(r)).toBe('step [2/2] RUN echo out1; echo err1 >&2; exit 4 failed: executor failed running [/bin/sh -c echo out1; echo err1 >&2; exit 4]: exit code: 4; its output ends with:\nout1\nerr1');
  });

  it('keeps only the last maxLogBytes of output, and the tail in whole lines', () => {
    const r = newBuildRecord(1024);
    for (let i = 0; i < 500; i++) recordTrace(r, decodeTrace(logMessage(RUN, `line ${i}\n`)));
    expect(r.logBytes).toBeLessThanOrEqual(1024);
    expect(r.logs.length).toBeLessThan(150);
    const tail = logTail(r, RUN, 40);
    expect(tail.startsWith('…line ')).toBe(true);
    expect(tail.endsWith('line 499')).toBe(true);
    recordTrace(r, decodeTrace(logMessage(RUN, 'x'.repeat(5000))));
    expect(r.logBytes).toBe(1024);
  });

  it('no failed step -> no summary', () => {
    const r = newBuildRecord();
    recordTrace(r, decodeTrace(FAILING_RUN[0]!));
    expect(failureSummary(r)).toBeUndefined();
  });
});
