/**
 * A real HTTP load for proxy tests: `concurrency` loops, each sending GET requests back to back over a keep-alive
 * agent to a loopback URL, counting answers by body and every failure (connection error, reset, non-2xx). No retries:
 * a request that fails counts as failed.
 */
import http from 'node:http';

export interface LoadResult {
  ok: number;
  failed: number;
  /** The first few failures, for the assertion message. */
  failures: string[];
  /** Successful answers per response body (trimmed). */
  bodies: Map<string, number>;
}

export interface Load {
  /** Counts so far (live). */
  result: LoadResult;
  /** Stops sending, waits for the requests in flight, returns the counts. */
  stop(): Promise<LoadResult>;
}

export function startLoad(url: string, opts: { concurrency?: number; headers?: Record<string, string> } = {}): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 8 });
  const result: LoadResult = { ok: 0, failed: 0, failures: [], bodies: new Map() };
  let running = true;
  const loops = Array.from({ length: opts.concurrency ?? 8 }, async () => {
    while (running) {
      const r = await get(url, agent, opts.headers ?? {});
      if ('body' in r) {
        result.ok++;
        result.bodies.set(r.body, (result.bodies.get(r.body) ?? 0) + 1);
      } else {
        result.failed++;
        if (result.failures.length < 10) result.failures.push(r.error);
      }
    }
  });
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}

/** One GET: the trimmed body of a 2xx answer, or what went wrong. */
export function get(url: string, agent: http.Agent | undefined, headers: Record<string, string> = {}): Promise<{ body: string; localPort?: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent, headers, timeout: 10_000 }, (res) => {
      let body = '';
      const localPort = res.socket?.localPort;
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('error', (e) => resolve({ error: `response: ${e.message}` }));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve({ body: body.trim(), localPort });
        else resolve({ error: `HTTP ${res.statusCode}: ${body.trim().slice(0, 200)}` });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
  });
}
