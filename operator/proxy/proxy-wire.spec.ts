import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { httpFronts, rawConnection, startRecordingBackend, type RecordingBackend } from '../../test/doubles/recording-backend.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


const fronts = httpFronts(cleanups);

async function backend(): Promise<RecordingBackend> {
  const b = await startRecordingBackend();
  cleanups.push(() => b.close());
  return b;
}

describe.each(fronts)('%s on the wire', (_kind, front) => {
  it('streams a chunked upload to the backend intact, in more than one piece', async () => {
    const b = await backend();
    const { port } = await front(b);
    const parts = Array.from({ length: 5 }, (_, i) => `part-${i}-${'x'.repeat(1000)}|`);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      let i = 0;
      const next = () => {
        if (i === parts.length) return void req.end();
        req.write(parts[i++]);
        setTimeout(next, 20);
      };
      next();
    });
    expect(answer.status).toBe(200);
    const seen = b.requests[0]!;
    expect(seen.body).toBe(parts.join(''));
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(seen.chunks).toBeGreaterThan(1);
  });

  it('answers Expect: 100-continue with 100 before the final answer, and the body reaches the backend', async () => {
    const b = await backend();
    const { port } = await front(b);
    const c = await rawConnection(port);
    c.write('POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await c.until(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    expect(b.requests).toEqual([]);
    c.write('hello');
    const all = await c.until(/"bytes":5\}/);
    expect(all).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(b.requests.map((r) => r.body)).toEqual(['hello']);
  });

  it('answers pipelined requests on one connection in order, even when an earlier one is slower', async () => {
    const b = await backend();
    const { port } = await front(b);
    const c = await rawConnection(port);
    c.write('GET /delay/150 HTTP/1.1\r\nHost: x\r\n\r\nPOST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: x\r\n\r\n');
    const all = await c.until(/"url":"\/three"/);
    const urls = [...all.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    expect(urls).toEqual(['/delay/150', '/two', '/three']);
    expect(all.match(/HTTP\/1\.1 200 /g)).toHaveLength(3);
    expect(c.socket.destroyed).toBe(false);
  });

  it('honours Connection: close: the answer comes, then the connection is closed, and nothing after it is served', async () => {
    const b = await backend();
    const { port } = await front(b);
    const c = await rawConnection(port);
    c.write('GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    const all = await c.closed();
    expect(all).toMatch(/^HTTP\/1\.1 200 [\s\S]*connection: close/i);
    expect(all.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(b.requests.map((r) => r.url)).toEqual(['/last']);
  });

  it('sets X-Forwarded-For (appended), -Proto, -Host and Via as nginx does; a client cannot choose -Proto or -Host', async () => {
    const b = await backend();
    const { port } = await front(b);
    const c = await rawConnection(port);
    c.write('GET /h HTTP/1.1\r\nHost: shop.example.com:8080\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nVia: 1.0 edge\r\n\r\n');
    const answer = await c.until(/"url":"\/h"/);
    const h = b.requests[0]!.headers;
    expect([h['x-forwarded-for'], h['x-forwarded-proto'], h['x-forwarded-host'], h.via, h.host])
      .toEqual(['10.0.0.1, 127.0.0.1', 'http', 'shop.example.com:8080', '1.0 edge, 1.1 berth', 'shop.example.com:8080']);
    expect(b.requests[0]!.rawHeaders.filter((n) => /^x-forwarded-(proto|host)$/i.test(n))).toHaveLength(2);
    expect(answer).toMatch(/\r\nvia: 1\.1 berth\r\n/i);
  });
});
