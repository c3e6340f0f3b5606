/**
 * --log-forward on the real engine: a replica's lines reach an OTLP/HTTP logs endpoint started by the test (a
 * receiver of its own that checks the protocol's JSON payload: resourceLogs / scopeLogs / logRecords, nanosecond
 * times, the body and the berth.* attributes), after a 503 the exporter retries, and the URL's credentials never reach
 * the log. All traffic on 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { service, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('logfwd');
let remote: Remote;
let op: TestOperator | undefined;
let receiver: http.Server;
let url = '';
const records: { body: string; attrs: Record<string, string>; time: bigint }[] = [];
const problems: string[] = [];
let requests = 0;

type Attr = { key: string; value: { stringValue?: string } };

function check(payload: unknown): void {
  const p = payload as { resourceLogs?: { resource?: { attributes?: Attr[] }; scopeLogs?: { scope?: { name?: string }; logRecords?: { timeUnixNano?: string; body?: { stringValue?: string }; attributes?: Attr[]; severityText?: string }[] }[] }[] };
  if (!Array.isArray(p.resourceLogs)) return void problems.push('no resourceLogs');
  for (const rl of p.resourceLogs) {
    const res = Object.fromEntries((rl.resource?.attributes ?? []).map((a) => [a.key, a.value.stringValue ?? '']));
    if (res['service.name'] !== 'berth' || res['berth.instance'] !== instance) problems.push(`resource ${JSON.stringify(res)}`);
    for (const sl of rl.scopeLogs ?? []) {
      if (sl.scope?.name !== 'berth.logs') problems.push(`scope ${sl.scope?.name}`);
      for (const r of sl.logRecords ?? []) {
        if (!/^\d{19}$/.test(r.timeUnixNano ?? '')) problems.push(`timeUnixNano ${r.timeUnixNano}`);
        if (typeof r.body?.stringValue !== 'string') problems.push('body');
        if (r.severityText !== 'INFO' && r.severityText !== 'WARN') problems.push(`severity ${r.severityText}`);
        records.push({ body: r.body?.stringValue ?? '', attrs: Object.fromEntries((r.attributes ?? []).map((a) => [a.key, a.value.stringValue ?? ''])), time: BigInt(r.timeUnixNano ?? '0') });
      }
    }
  }
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      requests++;
      if (req.url !== '/v1/logs' || req.method !== 'POST') problems.push(`${req.method} ${req.url}`);
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) problems.push(`content-type ${req.headers['content-type']}`);
      // The first export is refused: the exporter must retry it.
      if (requests === 1) return void res.writeHead(503).end();
      try {
        check(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        problems.push(`not JSON: ${String(err)}`);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://forwarder:fwd-secret-7788@127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/logs`;
  remote = await makeRemote({ 'web.yaml': service('web', { command: ['sh', '-c', 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo "fwd $i"; done; echo "oops" >&2; exec sleep 3600'] }) });
  op = await startTestOperator(remote.url, instance, { 'log-forward': url });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await new Promise((r) => receiver.close(r));
  await cleanupInstance(docker, instance);
});

describe('--log-forward', () => {
  it('sends every stored line to the OTLP endpoint with its source, retrying a refused export', async () => {
    await waitFor(() => records.filter((r) => r.body.startsWith('fwd ') || r.body === 'oops').length >= 31, { what: `31 records forwarded (got ${records.length}, ${requests} requests, problems ${problems.join('; ')})`, timeoutMs: 60_000, intervalMs: 250 });
    expect(problems).toEqual([]);
    expect(requests).toBeGreaterThanOrEqual(2);
    const fwd = records.filter((r) => r.body.startsWith('fwd '));
    expect(new Set(fwd.map((r) => r.body)).size).toBe(30);
    expect(fwd[0]!.attrs).toMatchObject({ 'berth.namespace': 'test', 'berth.service': 'web', 'berth.kind': 'Service', 'berth.replica': '1', 'berth.node': 'local', 'log.iostream': 'stdout' });
    expect(records.find((r) => r.body === 'oops')!.attrs['log.iostream']).toBe('stderr');
    expect(Number(fwd[0]!.time / 1_000_000n)).toBeGreaterThan(Date.now() - 120_000);
    expect(op!.recentLog().join('\n')).not.toContain('fwd-secret-7788');
  }, 90_000);
});
