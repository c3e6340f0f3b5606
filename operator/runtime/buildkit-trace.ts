/**
 * BuildKit progress as dockerd streams it (`{"id":"moby.buildkit.trace","aux":"<base64>"}`): a hand decoder of the few
 * fields of moby.buildkit.v1.StatusResponse berth reads, and a bounded record of a build's steps and output (pure).
 *
 *   StatusResponse { repeated Vertex vertexes = 1; repeated VertexStatus statuses = 2; repeated VertexLog logs = 3; }
 *   Vertex         { string digest = 1; string name = 3; bool cached = 4; Timestamp started = 5; Timestamp completed = 6; string error = 7; }
 *   VertexLog      { string vertex = 1; int64 stream = 3; bytes msg = 4; }
 */

/** One step (vertex) of a BuildKit solve, as far as this message tells. */
export interface TraceVertex {
  digest: string;
  name: string;
  cached: boolean;
  started: boolean;
  completed: boolean;
  error: string;
}

/** Output of a step: `stream` 1 = stdout, 2 = stderr. */
export interface TraceLog {
  vertex: string;
  stream: number;
  msg: Buffer;
}

export interface TraceStatus {
  vertexes: TraceVertex[];
  logs: TraceLog[];
}

/** Decodes one `aux` value; throws on a malformed message. */
export function decodeTrace(base64: string): TraceStatus {
  const out: TraceStatus = { vertexes: [], logs: [] };
  for (const f of fields(Buffer.from(base64, 'base64'))) {
    if (f.no === 1 && f.bytes) out.vertexes.push(vertex(f.bytes));
    else if (f.no === 3 && f.bytes) out.logs.push(log(f.bytes));
  }
  return out;
}

function vertex(buf: Buffer): TraceVertex {
  const v: TraceVertex = { digest: '', name: '', cached: false, started: false, completed: false, error: '' };
  for (const f of fields(buf)) {
    if (f.no === 1 && f.bytes) v.digest = f.bytes.toString('utf8');
    else if (f.no === 3 && f.bytes) v.name = f.bytes.toString('utf8');
    else if (f.no === 4) v.cached = f.varint !== 0;
    else if (f.no === 5) v.started = true;
    else if (f.no === 6) v.completed = true;
    else if (f.no === 7 && f.bytes) v.error = f.bytes.toString('utf8');
  }
  return v;
}

function log(buf: Buffer): TraceLog {
  const l: TraceLog = { vertex: '', stream: 0, msg: Buffer.alloc(0) };
  for (const f of fields(buf)) {
    if (f.no === 1 && f.bytes) l.vertex = f.bytes.toString('utf8');
    else if (f.no === 3) l.stream = f.varint;
    else if (f.no === 4 && f.bytes) l.msg = f.bytes;
  }
  return l;
}

interface Field {
  no: number;
  /** Wire type 0 (varint; numbers past 2^53 lose precision, none of ours are); 0 otherwise. */
  varint: number;
  /** Wire type 2 (length-delimited). */
  bytes?: Buffer;
}

/** The fields of one protobuf message, in order; fixed32/fixed64 are skipped, groups refused. */
function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new Error('varint too long');
  };
  while (pos < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const type = key % 8;
    if (type === 0) yield { no, varint: varint() };
    else if (type === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new Error('truncated field');
      yield { no, varint: 0, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (type === 1) pos += 8;
    else if (type === 5) pos += 4;
    else throw new Error(`unsupported wire type ${type}`);
    if (pos > buf.length) throw new Error('truncated field');
  }
}

/** What a build reports on failure and progress: step names, errors, and the last `maxLogBytes` of output. */
export interface BuildRecord {
  /** Steps seen, by digest (at most MAX_VERTEXES). */
  names: Map<string, string>;
  completed: Set<string>;
  cached: Set<string>;
  /** digest of the first step that reported an error, and its error. */
  failed?: { digest: string; error: string };
  /** Output chunks, oldest first, at most maxLogBytes in all. */
  logs: { vertex: string; text: string }[];
  logBytes: number;
  maxLogBytes: number;
}

const MAX_VERTEXES = 2000;

export function newBuildRecord(maxLogBytes = 64 * 1024): BuildRecord {
  return { names: new Map(), completed: new Set(), cached: new Set(), logs: [], logBytes: 0, maxLogBytes };
}

/** Folds one decoded message into `r`; returns the names of the steps that started with it (for progress). */
export function recordTrace(r: BuildRecord, s: TraceStatus): string[] {
  const started: string[] = [];
  for (const v of s.vertexes) {
    if (!r.names.has(v.digest)) {
      if (r.names.size >= MAX_VERTEXES) continue;
      if (v.name) r.names.set(v.digest, v.name);
    }
    if (v.started && !v.completed && v.name && !r.completed.has(v.digest)) started.push(v.name);
    if (v.completed) r.completed.add(v.digest);
    if (v.cached) r.cached.add(v.digest);
    if (v.error && !r.failed) r.failed = { digest: v.digest, error: v.error };
  }
  for (const l of s.logs) {
    const text = l.msg.toString('utf8');
    r.logs.push({ vertex: l.vertex, text });
    r.logBytes += text.length;
    while (r.logBytes > r.maxLogBytes && r.logs.length > 1) r.logBytes -= r.logs.shift()!.text.length;
    if (r.logBytes > r.maxLogBytes) {
      const only = r.logs[0]!;
      only.text = only.text.slice(-r.maxLogBytes);
      r.logBytes = only.text.length;
    }
  }
  return started;
}

/** The last `maxChars` of the output of step `digest` (all steps when undefined), trimmed, lines kept. */
export function logTail(r: BuildRecord, digest: string | undefined, maxChars = 2048): string {
  const text = r.logs.filter((l) => digest === undefined || l.vertex === digest).map((l) => l.text).join('');
  const tail = text.length > maxChars ? `…${text.slice(-maxChars).replace(/^[^\n]*\n/, '')}` : text;
  return tail.replace(/\s+$/, '');
}

/** `step "<name>" failed: <error>` with that step's output tail, for an E_BUILD message; undefined when no step failed. */
export function failureSummary(r: BuildRecord): string | undefined {
  if (!r.failed) return undefined;
  const name = r.names.get(r.failed.digest) ?? r.failed.digest.slice(0, 19);
  const tail = logTail(r, r.failed.digest);
  return `step ${name} failed: ${r.failed.error}${tail ? `; its output ends with:\n${tail}` : ' (no output)'}`;
}
