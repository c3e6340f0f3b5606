import { execFileSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ContainerUsage } from '../metrics/usage.ts';
import { fakeSources, pass, populatedMetrics, replica } from '../../test/doubles/metrics-fixtures.ts';
import { Metrics } from './metrics.ts';

/** The value lines of an exposition (no comments, no blank lines). */
const samples = (text: string): string[] => text.split('\n').filter((l) => l && !l.startsWith('#'));

describe('metrics (prom-client registry)', () => {
  it('keeps every name and label set of the hand-written exposition it replaced', async () => {
    const lines = samples(await populatedMetrics().render());
    for (const line of [
      'berth_passes_total{result="ok"} 1', 'berth_actions_total{type="create",cause="change",result="ok"} 1', 'berth_pass_duration_seconds_sum 0.2',
      'berth_pass_duration_seconds_count 1', 'berth_ready 1', 'berth_applied_revision_info{revision="abc123"} 1', 'berth_source_fetch_failures_total 0',
      'berth_source_up 1', 'berth_http_bodies_reading 1', 'berth_http_body_buffered_bytes 10', 'berth_http_bodies_refused_total{code="E_TOO_LARGE"} 2',
      'berth_connections_open{listener="api 127.0.0.1:7070"} 2', 'berth_connections_refused_total{listener="api 127.0.0.1:7070",limit="total"} 1',
      'berth_api_auth_failures_total{reason="missing"} 2', 'berth_api_forbidden_total 1', 'berth_api_auth_limited_total 0',
      'berth_proxy_requests_total{listener="0.0.0.0:80",service="shop/web",code="2xx",source="upstream"} 3',
      'berth_proxy_request_duration_seconds_bucket{listener="0.0.0.0:80",service="shop/web",le="0.01"} 3',
      'berth_proxy_request_duration_seconds_count{listener="0.0.0.0:80",service="shop/web"} 4', 'berth_proxy_bytes_total{listener="0.0.0.0:80",service="shop/web",direction="out"} 20',
      'berth_proxy_connections_total{listener="0.0.0.0:5432",service="shop/db"} 2', 'berth_proxy_in_flight{listener="0.0.0.0:80",service="shop/web"} 1',
      'berth_proxy_held{listener="0.0.0.0:80",service="shop/web"} 0', 'berth_proxy_upstream_requests_total{listener="0.0.0.0:80",service="shop/web",endpoint="10.0.0.1:80"} 3',
      'berth_autoscale_replicas{service="shop/web"} 3', 'berth_autoscale_min_replicas{service="shop/web"} 1', 'berth_autoscale_max_replicas{service="shop/web"} 5',
      'berth_autoscale_metric_value{service="shop/web",metric="cpu"} 40', 'berth_autoscale_metric_target{service="shop/web",metric="cpu"} 50',
    ]) expect(lines).toContain(line);
  });

  it('adds per-service replicas, health, restarts, probes, usage, fetches and the log store', async () => {
    const lines = samples(await populatedMetrics().render());
    const web = 'service="shop/web",namespace="shop"';
    for (const line of [
      `berth_service_desired_replicas{${web}} 3`, `berth_service_running_replicas{${web}} 3`, `berth_service_ready_replicas{${web}} 2`,
      `berth_service_info{${web},health="Progressing"} 1`, `berth_service_restarts_total{${web}} 1`,
      `berth_probe_results_total{${web},probe="readiness",type="http",result="ok"} 1`, `berth_probe_results_total{${web},probe="liveness",type="tcp",result="fail"} 1`,
      `berth_probe_duration_seconds_bucket{le="0.005",${web},probe="readiness"} 1`, `berth_probe_duration_seconds_count{${web},probe="liveness"} 1`,
      `berth_container_cpu_seconds_total{${web},replica="1",container="berth.t.shop.web.1.abc"} 2.5`,
      `berth_container_memory_bytes{${web},replica="1",container="berth.t.shop.web.1.abc"} 67108864`,
      'berth_pass_duration_seconds_bucket{le="0.25"} 1', 'berth_source_fetch_duration_seconds_count 2', 'berth_source_fetch_errors_total{code="E_GIT"} 1',
      'berth_log_store_up 1', 'berth_log_store_bytes 4096', 'berth_log_store_max_bytes 1073741824', 'berth_log_store_lines 12', 'berth_log_lines_ingested_total 12',
      'berth_log_followers 3', 'berth_log_queued_lines 0', 'berth_log_ingest_paused 0', 'berth_log_lines_forwarded_total 5',
    ]) expect(lines).toContain(line);
  });

  it('follows the last pass: a failed fetch, a stalled pass, a service gone, and a log store that failed', async () => {
    const m = new Metrics(fakeSources({ logs: () => ({ file: 'f', open: false, bytes: 0, lines: 0, maxBytes: 1, retention: '1h', following: 0, ingested: 0, queuedLines: 0, paused: false, error: 'EACCES' }) }));
    m.recordPass(pass(), 0.1);
    const failed = pass({ ok: false, fetchFailed: true });
    m.recordPass({ ...failed, status: { ...failed.status, services: {} } }, 0.1);
    const lines = samples(await m.render());
    expect(lines).toEqual(expect.arrayContaining(['berth_passes_total{result="error"} 1', 'berth_source_fetch_failures_total 1', 'berth_source_up 0', 'berth_ready 0', 'berth_log_store_up 0']));
    expect(lines.filter((l) => l.startsWith('berth_service_info'))).toEqual([]);
  });

  it('drops the restart and probe series of a service that left the revision', async () => {
    const m = new Metrics();
    const gone = pass();
    m.recordPass({ ...pass({ outcomes: [{ type: 'start', cause: 'drift', service: 'shop/web' }] }), desired: {} as never }, 0.1);
    m.recordProbe({ service: 'shop/web', probe: 'readiness', type: 'http', ok: true, ms: 3 });
    expect(samples(await m.render()).filter((l) => l.includes('shop/web')).length).toBeGreaterThan(3);
    m.recordPass({ ...gone, desired: {} as never, status: { ...gone.status, services: {} } }, 0.1);
    expect(samples(await m.render()).filter((l) => l.includes('shop/web'))).toEqual([]);
  });

  it('reads container stats at most every 15 s, and a scrape waits at most the bound for a slow engine', async () => {
    let now = 0;
    let reads = 0;
    let hang = false;
    const usage = new ContainerUsage(new Registry(), async (ids) => {
      reads++;
      if (hang) await new Promise(() => {});
      return Object.fromEntries(ids.map((id) => [id, { cpuNs: reads * 1e9, memoryBytes: 1, readAt: now }]));
    }, () => now, { waitMs: 50 });
    expect(await usage.current()).toEqual([]); // nothing followed yet: nothing read
    usage.follow([replica('shop/web', 1, 'c1'), { ...replica('shop/web', 2, 'c2'), status: 'exited' }]);
    expect((await usage.current()).map(([t, s]) => [t.id, s.cpuNs])).toEqual([['c1', 1e9]]);
    now = 14_000;
    await usage.current();
    expect(reads).toBe(1);
    now = 15_000;
    hang = true;
    const started = Date.now();
    expect((await usage.current()).map(([, s]) => s.cpuNs)).toEqual([1e9]); // the last reading, within the wait
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(reads).toBe(2);
  });

  it('gives each operator its own registry (two in one process do not collide)', async () => {
    const [a, b] = [new Metrics(), new Metrics()];
    a.recordPass(pass(), 1);
    expect(samples(await a.render())).toContain('berth_passes_total{result="ok"} 1');
    expect(samples(await b.render()).filter((l) => l.startsWith('berth_passes_total'))).toEqual([]);
  });

  // promtool is provisioned (scripts/provision.sh: Debian's prometheus package).
  it('passes promtool check metrics', async () => {
    const out = execFileSync('promtool', ['check', 'metrics'], { input: await populatedMetrics().render(), encoding: 'utf8' });
    expect(out.trim()).toBe('');
  });
});
