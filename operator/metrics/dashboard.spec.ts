import { describe, expect, it } from 'vitest';
import { dashboardMetricNames, exposedNames } from '../../test/helpers/dashboard.ts';
import { populatedMetrics } from '../../test/doubles/metrics-fixtures.ts';

describe('contrib/grafana/berth.json', () => {
  it('queries only names /metrics exposes, and covers every part the exposition has', async () => {
    const used = dashboardMetricNames();
    const exposed = exposedNames(await populatedMetrics().render());
    expect(used.filter((n) => !exposed.has(n))).toEqual([]);
    for (const family of ['berth_service_ready_replicas', 'berth_service_info', 'berth_service_restarts_total', 'berth_probe_results_total', 'berth_probe_duration_seconds_bucket',
      'berth_container_cpu_seconds_total', 'berth_container_memory_bytes', 'berth_proxy_requests_total', 'berth_proxy_request_duration_seconds_bucket', 'berth_proxy_in_flight',
      'berth_pass_duration_seconds_bucket', 'berth_source_fetch_duration_seconds_bucket', 'berth_source_fetch_errors_total', 'berth_log_store_bytes', 'berth_log_lines_ingested_total']) {
      expect(used).toContain(family);
    }
  });
});
