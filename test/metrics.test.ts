/**
 * A live /metrics on the real engine: an operator with a probed, published service (HTTP through berth's proxy),
 * scraped with its token. `promtool check metrics` (Debian's prometheus package, scripts/provision.sh) passes on it;
 * the names of the hand-written exposition are there with their labels, the per-service ones appear with sane
 * values, and every name contrib/grafana/berth.json queries is in it.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardMetricNames, exposedNames } from './helpers/dashboard.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { freePort } from './helpers/net.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('metrics');
let remote: Remote;
let op: TestOperator;
let port = 0;

const web = (p: number): string => `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: test }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
  replicas: 2
  ports: [{ port: 80 }]
  health:
    readiness: { http: { path: /, port: 80 }, interval: 500ms, timeout: 400ms }
  loadBalancer: { protocol: http, publish: { port: ${p}, host: 127.0.0.1 } }
`;

const scrape = async (): Promise<string> => {
  const res = await fetch(`${op.url}/metrics`, { headers: op.auth });
  expect(res.status).toBe(200);
  return res.text();
};
const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

beforeAll(async () => {
  port = await freePort();
  remote = await makeRemote({ 'web.yaml': web(port) });
  op = await startTestOperator(remote.url, instance, { 'proxy-host': '127.0.0.1' });
  await op.reached((r) => r.status.services['test/web']?.ready === 2, 'web ready');
  for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
}, 90_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

describe('GET /metrics on a running operator', () => {
  it('passes promtool check metrics', async () => {
    const text = await scrape();
    // promtool reads the exposition on stdin and prints nothing when it finds no problem
    const checked = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (err, out, errOut) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, out: out + errOut }));
      child.stdin!.end(text);
    });
    expect(checked).toEqual({ code: 0, out: '' });
  });

  it('keeps the names and labels of the hand-written exposition', async () => {
    const text = await waitFor(async () => {
      const t = await scrape();
      return /^berth_proxy_requests_total\{listener="127\.0\.0\.1:\d+",service="test\/web",code="2xx",source="upstream"\} [1-9]/m.test(t) ? t : undefined;
    }, { what: 'the proxy requests on /metrics', timeoutMs: 10_000 });
    for (const re of [
      /^berth_passes_total\{result="ok"\} [1-9]/m, /^berth_actions_total\{type="create",cause="change",result="ok"\} 2$/m, /^berth_pass_duration_seconds_count [1-9]/m,
      /^berth_pass_duration_seconds_sum \d/m, /^berth_ready 1$/m, /^berth_applied_revision_info\{revision="[0-9a-f]{40}"\} 1$/m, /^berth_source_fetch_failures_total 0$/m,
      /^berth_source_up 1$/m, /^berth_http_bodies_reading 0$/m, /^berth_http_body_buffered_bytes 0$/m, /^berth_connections_open\{listener="[^"]+"\} \d+$/m,
      /^# TYPE berth_api_auth_failures_total counter$/m, /^berth_api_forbidden_total 0$/m, /^berth_api_auth_limited_total 0$/m,
      /^berth_proxy_request_duration_seconds_bucket\{listener="127\.0\.0\.1:\d+",service="test\/web",le="\+Inf"\} [1-9]/m,
      /^berth_proxy_request_duration_seconds_count\{listener="127\.0\.0\.1:\d+",service="test\/web"\} [1-9]/m,
      /^berth_proxy_bytes_total\{listener="127\.0\.0\.1:\d+",service="test\/web",direction="out"\} [1-9]/m,
      /^berth_proxy_in_flight\{listener="127\.0\.0\.1:\d+",service="test\/web"\} 0$/m,
      /^berth_proxy_upstream_requests_total\{listener="127\.0\.0\.1:\d+",service="test\/web",endpoint="[^"]+"\} [1-9]/m,
      /^# TYPE berth_pass_duration_seconds histogram$/m,
    ]) expect(text).toMatch(re);
  });

  it('has the per-service series with sane values', async () => {
    const text = await scrape();
    const svc = 'service="test/web",namespace="test"';
    expect(value(text, `berth_service_desired_replicas{${svc}}`)).toBe(2);
    expect(value(text, `berth_service_running_replicas{${svc}}`)).toBe(2);
    expect(value(text, `berth_service_ready_replicas{${svc}}`)).toBe(2);
    expect(value(text, `berth_service_info{${svc},health="Healthy"}`)).toBe(1);
    expect(value(text, `berth_probe_results_total{${svc},probe="readiness",type="http",result="ok"}`)).toBeGreaterThanOrEqual(2);
    expect(value(text, `berth_probe_duration_seconds_count{${svc},probe="readiness"}`)).toBeGreaterThanOrEqual(2);
    expect(value(text, `berth_probe_duration_seconds_sum{${svc},probe="readiness"}`)).toBeLessThan(60);
    const memory = text.split('\n').filter((l) => l.startsWith(`berth_container_memory_bytes{${svc},replica=`)).map((l) => Number(l.split(' ')[1]));
    expect(memory).toHaveLength(2);
    for (const m of memory) expect(m).toBeGreaterThan(0), expect(m).toBeLessThan(256 * 1024 * 1024);
    const cpu = text.split('\n').filter((l) => l.startsWith(`berth_container_cpu_seconds_total{${svc},replica=`)).map((l) => Number(l.split(' ')[1]));
    expect(cpu).toHaveLength(2);
    for (const c of cpu) expect(c).toBeGreaterThanOrEqual(0), expect(c).toBeLessThan(60);
    expect(value(text, 'berth_source_fetch_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'berth_log_store_up')).toBe(1);
    expect(value(text, 'berth_log_followers')).toBe(2);
    expect(value(text, 'berth_log_store_bytes')).toBeGreaterThan(0);
    expect(value(text, 'berth_log_lines_ingested_total')).toBeGreaterThanOrEqual(0);
  });

  it('counts a restart when a replica is killed and berth starts it again', async () => {
    const [c] = await docker.listContainers({ filters: { label: [`berth.instance=${instance}`, 'berth.service=web', 'berth.replica=1'] } });
    await docker.getContainer(c!.Id).kill();
    op.trigger('test: replica killed');
    const series = 'berth_service_restarts_total{service="test/web",namespace="test"}';
    await waitFor(async () => ((value(await scrape(), series) ?? 0) >= 1 ? true : undefined), { what: 'a restart on /metrics', timeoutMs: 30_000 });
  });

  it('has every name the Grafana dashboard queries', async () => {
    const names = exposedNames(await scrape());
    expect(dashboardMetricNames().filter((n) => !names.has(n))).toEqual([]);
  });
});
