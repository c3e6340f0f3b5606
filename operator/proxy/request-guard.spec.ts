import { afterEach, describe, expect, it } from 'vitest';
import { httpFronts, rawConnection, startRecordingBackend } from '../../test/doubles/recording-backend.ts';
import { framingProblem } from './request-guard.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const H = 'Host: x\r\n';
/**
 * Requests two parsers could frame differently. `node`: llhttp (strict) refuses it before the request handler runs;
 * false: node hands the request to the handler (and, for some, complains only about the bytes after its headers).
 */
const cases: { name: string; bytes: string; node: boolean }[] = [
  { name: 'Content-Length and Transfer-Encoding', bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, node: true },
  { name: 'Transfer-Encoding then Content-Length', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, node: true },
  { name: 'two different Content-Length', bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, node: true },
  { name: 'two equal Content-Length', bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, node: true },
  { name: 'a Content-Length list', bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`, node: true },
  { name: 'Transfer-Encoding: gzip, chunked', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, node: false },
  { name: 'Transfer-Encoding: chunked, gzip', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, node: true },
  { name: 'Transfer-Encoding: identity', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, node: false },
  { name: 'Transfer-Encoding: xchunked', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, node: false },
  { name: 'two Transfer-Encoding', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, node: true },
  { name: 'Transfer-Encoding with a space before the colon', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, node: true },
  { name: 'Transfer-Encoding on HTTP/1.0', bytes: `POST /a HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, node: false },
  { name: 'obs-fold (space)', bytes: `GET /a HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n`, node: true },
  { name: 'obs-fold (tab) of Transfer-Encoding', bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\tchunked\r\n\r\n0\r\n\r\n`, node: true },
  { name: 'a first header line starting with a space', bytes: 'GET /a HTTP/1.1\r\n Host: x\r\n\r\n', node: true },
  { name: 'a header name that is not a token', bytes: `GET /a HTTP/1.1\r\n${H}X(A): 1\r\n\r\n`, node: true },
  { name: 'NUL in a header value', bytes: `GET /a HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, node: true },
  { name: 'DEL in a header value', bytes: `GET /a HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`, node: true },
  { name: 'a bare CR in a header value', bytes: `GET /a HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, node: true },
  { name: 'a bare LF in a header value', bytes: `GET /a HTTP/1.1\r\n${H}X-A: a\nX-B: c\r\n\r\n`, node: true },
  { name: 'two Host headers', bytes: `GET /a HTTP/1.1\r\n${H}Host: y\r\n\r\n`, node: false },
];

const fronts = httpFronts(cleanups);

describe.each(fronts)('%s refuses ambiguous framing', (_kind, front) => {
  it.each(cases)('$name: 400, connection closed, nothing (nor the pipelined request after it) forwarded', async ({ bytes }) => {
    const b = await startRecordingBackend();
    cleanups.push(() => b.close());
    const { port } = await front(b);
    const c = await rawConnection(port);
    c.write(`${bytes}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`);
    const all = await c.closed();
    expect(all).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close\r\n/i);
    expect(all.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 30));
    expect(b.requests).toEqual([]);
    expect(b.connections).toBe(0);
  });

  it.each([
    ['a chunk size line ending in a bare LF', '5\nhello\r\n0\r\n\r\n'],
    ['a NUL in a chunk extension', '5;\x00\r\nhello\r\n0\r\n\r\n'],
  ])('%s: 400, connection closed, the upstream request aborted and nothing after it forwarded', async (_name, body) => {
    const b = await startRecordingBackend();
    cleanups.push(() => b.close());
    const { port } = await front(b);
    const c = await rawConnection(port);
    c.write(`POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${body}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`);
    const all = await c.closed();
    expect(all).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close\r\n/i);
    await new Promise((r) => setTimeout(r, 30));
    expect(b.requests).toEqual([]);
  });

  it('answers an earlier pipelined request first, then 400 and close for the ambiguous one behind it', async () => {
    const b = await startRecordingBackend();
    cleanups.push(() => b.close());
    const { port } = await front(b);
    for (const bad of [cases[0]!.bytes, cases[5]!.bytes]) {
      const c = await rawConnection(port);
      c.write(`GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n${bad}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`);
      const all = await c.closed();
      expect(all).toMatch(/^HTTP\/1\.1 200 [\s\S]*"url":"\/delay\/50"[\s\S]*HTTP\/1\.1 400 Bad Request\r\n/);
    }
    expect(b.requests.map((r) => r.url)).toEqual(['/delay/50', '/delay/50']);
  });

  it('still forwards Transfer-Encoding: chunked in any letter case and tab-separated values', async () => {
    const b = await startRecordingBackend();
    cleanups.push(() => b.close());
    const { port } = await front(b);
    const c = await rawConnection(port);
    c.write(`POST /ok HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\nX-A: a\tb caf\xe9\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    await c.until(/"bytes":3/);
    expect(b.requests.map((r) => [r.url, r.body, r.headers['x-a']])).toEqual([['/ok', 'abc', 'a\tb caf\xe9']]);
  });
});

describe('framingProblem', () => {
  const req = (rawHeaders: string[], httpVersion = '1.1') => framingProblem({ rawHeaders, httpVersion });

  it('accepts ordinary requests', () => {
    expect(req(['Host', 'x', 'Content-Length', '5'])).toBeUndefined();
    expect(req(['Host', 'x', 'transfer-encoding', ' CHUNKED '])).toBeUndefined();
    expect(req(['Host', 'x', 'X-A', 'a\tb\xe9'])).toBeUndefined();
  });

  // what a lenient parser (insecureHTTPParser) would let through: refused here all the same
  it.each([
    [['Content-Length', '5', 'Transfer-Encoding', 'chunked'], /both/],
    [['Content-Length', '5', 'content-length', '5'], /Content-Length/],
    [['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'], /more than one Transfer-Encoding/],
    [['Transfer-Encoding', 'gzip, chunked'], /not chunked/],
    [['Transfer-Encoding', 'xchunked'], /not chunked/],
    [['X-A', 'one\r\n two'], /invalid byte/],
    [['X-A', 'a\x00'], /invalid byte/],
    [['X A', '1'], /invalid header name/],
    [['', '1'], /invalid header name/],
    [['Host', 'a', 'HOST', 'b'], /Host/],
  ])('refuses %j', (raw, message) => {
    expect(req(raw)).toMatch(message);
  });

  it('refuses Transfer-Encoding on HTTP/1.0', () => {
    expect(req(['Transfer-Encoding', 'chunked'], '1.0')).toMatch(/HTTP\/1\.0/);
  });
});
