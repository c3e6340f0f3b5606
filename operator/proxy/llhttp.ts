/**
 * llhttp, the HTTP/1.1 parser Node's own http module runs, as the WebAssembly build undici ships (undici's client
 * parses every fetch response with it). The forwarding path (http-connection.ts) parses request heads and upstream
 * response framing with it and nothing else: no IncomingMessage, no streams. Chosen over http-parser-js after
 * measuring both on a six-header request head (about 4 µs each per head, the same within noise: the parse is a
 * small part of a request's cost, the sends are most of it) for what sets them apart: llhttp is strict exactly as
 * Node's http server is (obs-fold, bare LF, bad chunk sizes, duplicate Content-Length are errors), where
 * http-parser-js folds continuation lines, takes `parseInt` chunk sizes and lets Content-Length + chunked through.
 *
 * One WebAssembly instance serves every parser of the process; a parser is a pointer into it. `execute` copies the
 * bytes into the instance's memory and runs the parser synchronously; the callbacks receive spans of the caller's
 * own buffer (no copy). `execute` must not be called from inside a callback (the scratch buffer is shared): the
 * callers defer such work to a microtask.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const constants = require('undici/lib/llhttp/constants.js') as { TYPE: Record<string, number>; ERROR: Record<string, number>; METHODS: Record<string, number> };

export const ERR_OK = constants.ERROR.OK!;
export const ERR_PAUSED = constants.ERROR.PAUSED!;
export const ERR_PAUSED_UPGRADE = constants.ERROR.PAUSED_UPGRADE!;
/** Returned by a callback to stop parsing with an error (llhttp's HPE_USER). */
export const ERR_USER = constants.ERROR.USER!;
const ERROR_NAMES: string[] = [];
for (const [name, n] of Object.entries(constants.ERROR)) ERROR_NAMES[n] ??= `HPE_${name}`;
const METHOD_NAMES: string[] = [];
for (const [name, n] of Object.entries(constants.METHODS)) METHOD_NAMES[n] ??= name;

/** Node's default limit on a message head (--max-http-header-size): request line or status line plus headers. */
export const MAX_HEAD_BYTES = 16 * 1024;

interface Exports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(ptr: number): void;
  llhttp_execute(ptr: number, data: number, len: number): number;
  llhttp_finish(ptr: number): number;
  llhttp_resume(ptr: number): void;
  llhttp_get_error_pos(ptr: number): number;
  llhttp_get_error_reason(ptr: number): number;
  llhttp_get_method(ptr: number): number;
  llhttp_get_http_major(ptr: number): number;
  llhttp_get_http_minor(ptr: number): number;
  llhttp_should_keep_alive(ptr: number): number;
}

/** What a parser reports; each returns 0 to go on, or ERR_PAUSED / ERR_USER (headers: 1 = no body, 2 = upgrade). */
export interface ParserHandler {
  onMessageBegin(): number;
  onHeaders(parser: HttpParser, statusCode: number, upgrade: boolean, keepAlive: boolean): number;
  onBody(chunk: Buffer): number;
  onMessageComplete(): number;
}

let wasm: Exports | undefined;
/** The parser running `execute` now, the caller's buffer and where it was copied to. */
let current: HttpParser | undefined;
let currentChunk: Buffer | undefined;
let scratch = 0;
let scratchSize = 0;

function span(at: number, len: number): Buffer {
  const start = at - scratch;
  return currentChunk!.subarray(start, start + len);
}

function latin1(at: number, len: number): string {
  const start = at - scratch;
  return currentChunk!.toString('latin1', start, start + len);
}

function instance(): Exports {
  if (wasm) return wasm;
  let mod: WebAssembly.Module;
  try {
    mod = new WebAssembly.Module(require('undici/lib/llhttp/llhttp_simd-wasm.js') as Uint8Array<ArrayBuffer>);
  } catch {
    mod = new WebAssembly.Module(require('undici/lib/llhttp/llhttp-wasm.js') as Uint8Array<ArrayBuffer>);
  }
  const env = {
    wasm_on_message_begin: () => current!.begin(),
    wasm_on_url: (_p: number, at: number, len: number) => current!.addUrl(at, len),
    wasm_on_status: () => 0,
    wasm_on_header_field: (_p: number, at: number, len: number) => current!.addField(at, len),
    wasm_on_header_value: (_p: number, at: number, len: number) => current!.addValue(at, len),
    wasm_on_headers_complete: (_p: number, status: number, upgrade: number, keepAlive: number) => current!.headersDone(status, upgrade === 1, keepAlive === 1),
    wasm_on_body: (_p: number, at: number, len: number) => current!.handler.onBody(span(at, len)),
    wasm_on_message_complete: () => current!.handler.onMessageComplete(),
  };
  wasm = new WebAssembly.Instance(mod, { env }).exports as unknown as Exports;
  return wasm;
}

export type ParserKind = 'request' | 'response';

/**
 * One HTTP/1.1 message stream (a client connection's requests, or an upstream connection's responses). The head of
 * the current message is in `method`, `url`, `rawHeaders` and `httpVersion` once `onHeaders` runs.
 */
export class HttpParser {
  private readonly ptr: number;
  private readonly llhttp: Exports;
  url = '';
  rawHeaders: string[] = [];
  private inValue = false;
  private headBytes = 0;
  /** The head grew past MAX_HEAD_BYTES (the parse error that follows is an HPE_HEADER_OVERFLOW). */
  overflow = false;
  /** Where the last pause or error left off in the buffer given to `execute`. */
  offset = 0;
  /** The last error: llhttp's code name (HPE_*) and reason. */
  errorCode = '';
  errorReason = '';

  constructor(kind: ParserKind, readonly handler: ParserHandler) {
    this.llhttp = instance();
    this.ptr = this.llhttp.llhttp_alloc(kind === 'request' ? constants.TYPE.REQUEST! : constants.TYPE.RESPONSE!);
  }

  get method(): string {
    return METHOD_NAMES[this.llhttp.llhttp_get_method(this.ptr)] ?? 'GET';
  }

  get httpVersion(): string {
    return `${this.llhttp.llhttp_get_http_major(this.ptr)}.${this.llhttp.llhttp_get_http_minor(this.ptr)}`;
  }

  /** Parses `chunk`: ERR_OK, ERR_PAUSED / ERR_PAUSED_UPGRADE (then `offset` is where the rest starts), or an error. */
  execute(chunk: Buffer): number {
    if (current) throw new Error('llhttp: execute called from a parser callback');
    const llhttp = this.llhttp;
    if (chunk.length > scratchSize) {
      if (scratch) llhttp.free(scratch);
      scratchSize = Math.ceil(chunk.length / 4096) * 4096;
      scratch = llhttp.malloc(scratchSize);
    }
    new Uint8Array(llhttp.memory.buffer, scratch, chunk.length).set(chunk);
    current = this;
    currentChunk = chunk;
    let rc: number;
    try {
      rc = llhttp.llhttp_execute(this.ptr, scratch, chunk.length);
    } finally {
      current = undefined;
      currentChunk = undefined;
    }
    if (rc !== ERR_OK) this.noteStop(rc);
    return rc;
  }

  /** The end of the stream: completes a message delimited by the close (a response without length). */
  finish(): number {
    if (current) throw new Error('llhttp: finish called from a parser callback');
    current = this;
    let rc: number;
    try {
      rc = this.llhttp.llhttp_finish(this.ptr);
    } finally {
      current = undefined;
    }
    if (rc !== ERR_OK) this.noteStop(rc, false);
    return rc;
  }

  /** Lets a paused parser go on (its next `execute` continues after the pause). */
  resume(): void {
    this.llhttp.llhttp_resume(this.ptr);
  }

  get keepAlive(): boolean {
    return this.llhttp.llhttp_should_keep_alive(this.ptr) === 1;
  }

  free(): void {
    this.llhttp.llhttp_free(this.ptr);
  }

  /** @internal callbacks of the WebAssembly instance */
  begin(): number {
    this.url = '';
    this.rawHeaders = [];
    this.inValue = false;
    this.headBytes = 0;
    return this.handler.onMessageBegin();
  }

  /** @internal */
  addUrl(at: number, len: number): number {
    if (this.grow(len)) return ERR_USER;
    this.url += latin1(at, len);
    return 0;
  }

  /** @internal */
  addField(at: number, len: number): number {
    if (this.grow(len)) return ERR_USER;
    const raw = this.rawHeaders;
    if (this.inValue || raw.length === 0) {
      raw.push(latin1(at, len), '');
      this.inValue = false;
    } else {
      raw[raw.length - 2] += latin1(at, len);
    }
    return 0;
  }

  /** @internal */
  addValue(at: number, len: number): number {
    if (this.grow(len)) return ERR_USER;
    const raw = this.rawHeaders;
    raw[raw.length - 1] += latin1(at, len);
    this.inValue = true;
    return 0;
  }

  /** @internal */
  headersDone(status: number, upgrade: boolean, keepAlive: boolean): number {
    const raw = this.rawHeaders;
    // llhttp reports values with their surrounding whitespace cut only at the start
    for (let i = 1; i < raw.length; i += 2) {
      const v = raw[i]!;
      const last = v.charCodeAt(v.length - 1);
      if (last === 32 || last === 9) raw[i] = v.trimEnd();
    }
    return this.handler.onHeaders(this, status, upgrade, keepAlive);
  }

  private grow(len: number): boolean {
    this.headBytes += len;
    if (this.headBytes <= MAX_HEAD_BYTES) return false;
    this.overflow = true;
    return true;
  }

  private noteStop(rc: number, withPos = true): void {
    if (withPos) this.offset = this.llhttp.llhttp_get_error_pos(this.ptr) - scratch;
    if (rc === ERR_PAUSED || rc === ERR_PAUSED_UPGRADE) return;
    this.errorCode = this.overflow ? 'HPE_HEADER_OVERFLOW' : ERROR_NAMES[rc] ?? `HPE_${rc}`;
    const reason = this.llhttp.llhttp_get_error_reason(this.ptr);
    if (!reason) {
      this.errorReason = this.errorCode;
      return;
    }
    const mem = new Uint8Array(this.llhttp.memory.buffer, reason);
    const end = mem.indexOf(0);
    this.errorReason = Buffer.from(mem.buffer, reason, end < 0 ? 0 : Math.min(end, 200)).toString('latin1');
  }
}
