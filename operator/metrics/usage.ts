/**
 * CPU and memory of every running service replica, from the engines' one-shot stats (runtime.containerStats, the
 * readings the autoscaler uses). Read only when /metrics is scraped, at most once per USAGE_INTERVAL_MS: a scrape
 * waits at most USAGE_WAIT_MS for a new reading and shows the last one otherwise (a slow engine never slows a scrape).
 */
import type { Registry } from 'prom-client';
import { LABELS } from '../model/keys.ts';
import type { ObservedContainer } from '../model/state.ts';
import type { ContainerStats } from '../runtime/runtime.ts';
import { counterFrom, gaugeFrom, serviceLabels } from './collect.ts';

export const USAGE_INTERVAL_MS = 15_000;
export const USAGE_WAIT_MS = 1_000;

interface Target {
  id: string;
  labels: { service: string; namespace: string; replica: string; container: string };
}

type L = 'service' | 'namespace' | 'replica' | 'container';

export class ContainerUsage {
  private targets: Target[] = [];
  private stats: Record<string, ContainerStats> = {};
  private readAt = -Infinity;
  private reading: Promise<void> | null = null;

  constructor(registry: Registry, private readonly read: (ids: string[]) => Promise<Record<string, ContainerStats>>, private readonly now: () => number = Date.now,
    private readonly opts: { intervalMs?: number; waitMs?: number } = {}) {
    counterFrom<L>({ registry, name: 'berth_container_cpu_seconds_total', help: 'CPU time a service replica\'s container used since it started (engine stats, read at most every 15 s).', labels: ['service', 'namespace', 'replica', 'container'] },
      async () => (await this.current()).map(([t, s]) => [t.labels, s.cpuNs / 1e9] as const));
    gaugeFrom<L>({ registry, name: 'berth_container_memory_bytes', help: 'Memory a service replica\'s container uses, inactive page cache excluded (as docker stats; read at most every 15 s).', labels: ['service', 'namespace', 'replica', 'container'] },
      async () => (await this.current()).map(([t, s]) => [t.labels, s.memoryBytes] as const));
  }

  /** The running Service replicas of the pass's observation are the ones read from now on. */
  follow(containers: readonly ObservedContainer[]): void {
    this.targets = containers
      .filter((c) => c.status === 'running' && c.labels[LABELS.service] !== undefined && c.labels[LABELS.namespace] !== undefined && c.labels[LABELS.kind] !== 'Job' && c.labels[LABELS.kind] !== 'CronJob')
      .map((c) => ({ id: c.id, labels: { ...serviceLabels(`${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}`), replica: c.labels[LABELS.replica] ?? '', container: c.name } }));
  }

  /** The followed replicas with a reading, reading again first when the last one is older than the interval. */
  async current(): Promise<[Target, ContainerStats][]> {
    if (this.targets.length && !this.reading && this.now() - this.readAt >= (this.opts.intervalMs ?? USAGE_INTERVAL_MS)) {
      this.readAt = this.now();
      const ids = this.targets.map((t) => t.id);
      this.reading = this.read(ids).then((stats) => { this.stats = stats; }, () => undefined).finally(() => { this.reading = null; });
    }
    if (this.reading) await Promise.race([this.reading, new Promise((resolve) => setTimeout(resolve, this.opts.waitMs ?? USAGE_WAIT_MS).unref())]);
    return this.targets.flatMap((t) => (this.stats[t.id] ? [[t, this.stats[t.id]!] as [Target, ContainerStats]] : []));
  }
}
