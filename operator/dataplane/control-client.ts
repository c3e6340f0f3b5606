/**
 * The operator's side of the control socket: one JSON request to the proxy process, carrying the key, bounded in time
 * (CONTROL_TIMEOUT_MS unless asked for less) and in the size of the answer.
 */
import { lstatSync } from 'node:fs';
import http from 'node:http';
import { KEY_HEADER, MAX_ANSWER_BYTES, CONTROL_TIMEOUT_MS, keyHeader } from './protocol.ts';

export interface ControlAnswer {
  status: number;
  body: unknown;
}

export interface ControlTarget {
  socket: string;
  key: string;
}

/**
 * Refuses a socket path that is not a socket of this user: the key goes out with every request, so a socket another
 * user put in a shared state dir must never receive it.
 */
function checkOwner(socket: string): void {
  const st = lstatSync(socket); // ENOENT: nothing listens
  const uid = process.getuid?.();
  if (!st.isSocket()) throw Object.assign(new Error(`${socket} is not a socket`), { code: 'E_NOT_SOCKET' });
  if (uid !== undefined && st.uid !== uid) throw Object.assign(new Error(`${socket} belongs to uid ${st.uid}, not to this user (${uid}); not sending the key`), { code: 'E_FOREIGN_SOCKET' });
}

/**
 * Sends one request; rejects on a connection error (ENOENT, ECONNREFUSED: nothing listens), a timeout, a bad answer,
 * or `signal` aborting it (a long poll being stopped).
 */
export function controlRequest(target: ControlTarget, method: 'GET' | 'PUT' | 'POST', urlPath: string, body?: unknown, timeoutMs = CONTROL_TIMEOUT_MS, signal?: AbortSignal): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    try {
      checkOwner(target.socket);
    } catch (err) {
      return reject(err);
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { [KEY_HEADER]: keyHeader(target.key) };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    if (signal?.aborted) return reject(Object.assign(new Error(`${method} ${urlPath}: aborted`), { code: 'ABORT_ERR' }));
    const req = http.request({ socketPath: target.socket, method, path: urlPath, headers, agent: false, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) return req.destroy(new Error(`answer of ${urlPath} is larger than ${MAX_ANSWER_BYTES} bytes`));
        chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        } catch {
          reject(new Error(`answer of ${urlPath} is not JSON`));
        }
      });
    });
    function fail(err: Error): void {
      clearTimeout(timer);
      reject(err);
    }
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`${method} ${urlPath}: no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    req.on('error', fail);
    req.end(payload);
  });
}
