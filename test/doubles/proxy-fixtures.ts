/** Test fixtures of the embedded proxy's specs: tiny loopback backends and clients. Loopback only, bounded. */
import http from 'node:http';
import net from 'node:net';

/** A backend the specs start on 127.0.0.1 and close afterwards. */
export interface Backend {
  name: string;
  port: number;
  address: string;
  /** Requests (http) or connections (tcp) seen. */
  hits: number;
  close(): Promise<void>;
}

/** An HTTP backend whose /slow requests wait until `release()`; `held` counts the ones waiting. */
export interface HttpBackend extends Backend {
  held: number;
  release(): void;
}

/** A TCP echo server: each chunk comes back prefixed with "<name>:". */
export async function startEcho(name: string): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    b.hits++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(`${name}:${d.toString()}`));
  });
  const port = await listen(server);
  const b: Backend = { name, port, address: `127.0.0.1:${port}`, hits: 0, close: () => closeAll(server, sockets) };
  return b;
}

/** An HTTP backend answering JSON {name, path, xff, drop (the X-Drop header, if any)}; /slow waits for release(). */
export async function startHttpBackend(name: string): Promise<HttpBackend> {
  const waiting: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    b.hits++;
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, path: req.url, xff: req.headers['x-forwarded-for'], drop: req.headers['x-drop'] }));
    req.resume();
    if (req.url !== '/slow') return void answer();
    b.held++;
    waiting.push(answer);
  });
  const port = await listen(server);
  const b: HttpBackend = {
    name, port, address: `127.0.0.1:${port}`, hits: 0, held: 0,
    release: () => waiting.splice(0).forEach((f) => f()),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return b;
}

/** A loopback port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return port;
}

/** Opens a TCP connection to 127.0.0.1:port, sends `line` and resolves with the first answer (until "\n"). */
export function tcpRoundTrip(port: number, line = 'ping'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(5_000, () => s.destroy(new Error('tcp round trip timed out')));
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed before an answer (got ${JSON.stringify(buf)})`)));
    s.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\n')) return;
      s.end();
      resolve(buf.trim());
    });
    s.write(`${line}\n`);
  });
}

/** An HTTP answer read whole. */
export interface Answer {
  status: number;
  body: string;
}

/** One HTTP request to 127.0.0.1:port without connection reuse; rejects after 5 s. */
export function request(port: number, path: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An answer on a kept-alive connection: which local port (so which client socket) carried it. */
export interface KeptAnswer extends Answer {
  localPort: number;
}

/** A client holding one keep-alive connection: every request goes over the same socket while the server keeps it. */
export interface KeepAliveClient {
  request(path: string, headers?: http.OutgoingHttpHeaders): Promise<KeptAnswer>;
  close(): void;
}

/** Opens a keep-alive client to 127.0.0.1:port (one socket at most; requests queue on it); rejects after 5 s. */
export function keepAliveClient(port: number): KeepAliveClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    request: (path, headers) => new Promise((resolve, reject) => {
      let localPort = 0;
      const req = http.request({ host: '127.0.0.1', port, path, headers, agent, timeout: 5_000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, localPort }));
        res.on('error', reject);
      });
      req.once('socket', (s) => {
        if (!s.connecting) localPort = s.localPort ?? 0;
        else s.once('connect', () => (localPort = s.localPort ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    }),
    close: () => agent.destroy(),
  };
}

/** Sends raw bytes and resolves with everything received until the server closes (5 s deadline). */
export function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(5_000, () => s.destroy(new Error('raw exchange timed out')));
    s.on('data', (d) => (buf += d.toString()));
    s.on('error', reject);
    s.on('end', () => resolve(buf));
    s.write(bytes);
  });
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closeAll(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((r) => server.close(() => r()));
}
