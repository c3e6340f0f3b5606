/**
 * Request smuggling defences, as nginx and HAProxy apply them: a request whose framing two HTTP parsers could read
 * differently is refused with 400 and its connection closed, so neither it nor anything pipelined after it reaches an
 * upstream. Node's parser (llhttp, strict) already refuses most such requests before a handler runs (answered by
 * handleClientError); what it lets through is checked here:
 * - `Transfer-Encoding` other than exactly `chunked`: llhttp hands `gzip, chunked` to the handler, and `identity`
 *   or `xchunked` too, complaining only about the bytes after the headers; or on an HTTP/1.0 request (RFC 9112 §6.1:
 *   faulty framing);
 * - a second `Host` header (llhttp keeps both; which one routes would depend on the parser);
 * and, as a second line should the parser ever be made lenient, both `Content-Length` and `Transfer-Encoding`, any
 * repeated `Content-Length`, and a header name that is not a token or a value with control bytes (obs-fold arrives as
 * such bytes under a lenient parser).
 */
import type { IncomingMessage } from 'node:http';

/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control bytes other than HTAB (CR, LF and NUL included); obs-text (0x80-0xff) stays allowed, as RFC 9110 allows it. */
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Why a request's framing or header bytes are refused (a short message), or undefined when it may be forwarded. */
export function framingProblem(req: Pick<IncomingMessage, 'rawHeaders' | 'httpVersion'>): string | undefined {
  const raw = req.rawHeaders;
  let contentLength = 0;
  let transferEncoding = 0;
  let host = 0;
  let te: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (!TOKEN.test(name)) return 'invalid header name';
    if (CTL.test(value)) return `invalid byte in header ${name}`;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') host++;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') contentLength++;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          transferEncoding++;
          te = value;
        }
        break;
    }
  }
  if (contentLength > 1) return 'more than one Content-Length';
  if (host > 1) return 'more than one Host';
  if (transferEncoding === 0) return undefined;
  if (contentLength > 0) return 'both Content-Length and Transfer-Encoding';
  if (transferEncoding > 1) return 'more than one Transfer-Encoding';
  if (te!.trim().toLowerCase() !== 'chunked') return `Transfer-Encoding ${JSON.stringify(te)} is not chunked`;
  if (req.httpVersion === '1.0') return 'Transfer-Encoding on an HTTP/1.0 request';
  return undefined;
}
