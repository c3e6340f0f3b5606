/**
 * The tail of a finished container's output through the engine's logs API (ContainerRuntime.containerLogs): `tail`
 * lines, read as a stream so a read stops at a byte cap, given up at a timeout. `follow` makes the answer a stream; the
 * engine ends it at once for a container that is not running (the only kind this is asked about).
 */
import type Dockerode from 'dockerode';
import { BerthError } from '../model/errors.ts';
import type { FailFn } from './docker-observe.ts';
import type { LogTail, LogTailOptions } from './runtime.ts';

/** Reads the last `opts.lines` lines of container `id`'s output (see ContainerRuntime.containerLogs). */
export async function containerLogs(docker: Dockerode, fail: FailFn, id: string, opts: LogTailOptions): Promise<LogTail> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  try {
    const stream = await docker.getContainer(id).logs({ stdout: true, stderr: true, tail: opts.lines, follow: true, abortSignal: controller.signal });
    return await readCapped(stream as NodeJS.ReadableStream & { destroy(): void }, opts.maxBytes, controller.signal);
  } catch (err) {
    if (controller.signal.aborted) throw new BerthError('E_DOCKER', `output of container ${id}: no answer within ${opts.timeoutMs} ms`);
    if (err instanceof BerthError) throw err;
    throw fail(err, `read the output of container ${id}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads `stream` to its end or until `maxBytes` were read (then closes it); rejects when `signal` aborts first. */
function readCapped(stream: NodeJS.ReadableStream & { destroy(): void }, maxBytes: number, signal: AbortSignal): Promise<LogTail> {
  return new Promise((resolve, reject) => {
    const demux = new LogDemux();
    let read = 0;
    let done = false;
    const finish = (result?: LogTail, err?: unknown): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      stream.removeAllListeners('data');
      stream.destroy();
      if (result) resolve(result);
      else reject(err);
    };
    const onAbort = (): void => finish(undefined, new BerthError('E_DOCKER', 'aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (chunk: Buffer) => {
      const room = maxBytes - read;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      read += part.length;
      demux.push(part);
      if (read >= maxBytes) finish({ text: demux.text(), truncated: true });
    });
    stream.once('end', () => finish({ text: demux.text(), truncated: false }));
    stream.once('close', () => finish({ text: demux.text(), truncated: false }));
    stream.once('error', (err: unknown) => finish(undefined, err));
  });
}

/**
 * Docker's log stream of a container without a TTY is framed (8-byte header: stream 0/1/2, three zero bytes, size
 * BE32; then the payload); with a TTY it is the raw bytes. Which one is told by the first header; frames may straddle chunks.
 */
export class LogDemux {
  private mode: 'unknown' | 'framed' | 'raw' = 'unknown';
  private pending = Buffer.alloc(0);
  private remaining = 0;
  private readonly kept: Buffer[] = [];

  /** Feeds the next chunk. */
  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    if (this.mode === 'unknown') {
      if (buf.length < 4) {
        this.pending = Buffer.from(buf);
        return;
      }
      this.mode = buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0 ? 'framed' : 'raw';
    }
    if (this.mode === 'raw') {
      this.kept.push(Buffer.from(buf));
      return;
    }
    while (buf.length) {
      if (this.remaining === 0) {
        if (buf.length < 8) {
          this.pending = Buffer.from(buf);
          return;
        }
        this.remaining = buf.readUInt32BE(4);
        buf = buf.subarray(8);
        continue;
      }
      const take = Math.min(this.remaining, buf.length);
      this.kept.push(Buffer.from(buf.subarray(0, take)));
      this.remaining -= take;
      buf = buf.subarray(take);
    }
  }

  /** The payload so far, as UTF-8 (invalid sequences become U+FFFD); a 1-3 byte start never told apart counts as raw. */
  text(): string {
    const tail = this.mode === 'unknown' ? [this.pending] : [];
    return Buffer.concat([...this.kept, ...tail]).toString('utf8');
  }
}

/** Follows container `id`'s output from `since` with timestamps (ContainerRuntime.followLogs); the stream is the engine's own. */
export async function followLogs(docker: Dockerode, fail: FailFn, id: string, since: string, signal: AbortSignal): Promise<{ stream: NodeJS.ReadableStream; tty: boolean }> {
  try {
    const c = docker.getContainer(id);
    const info = await c.inspect({ abortSignal: signal } as object);
    // dockerode types `since` as a number; the engine takes decimal seconds (sub-second resumption).
    const stream = await c.logs({ stdout: true, stderr: true, timestamps: true, follow: true, since: since as unknown as number, abortSignal: signal });
    return { stream: stream as NodeJS.ReadableStream, tty: info.Config.Tty === true };
  } catch (err) {
    throw fail(err, `follow the output of container ${id}`);
  }
}
