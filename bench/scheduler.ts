/**
 * Scheduler throughput: 10,000 replicas (500 services x 20) onto 1,000 simulated nodes labelled zone a-d and
 * tier, half the services constrained, some binpack, some topology-spread over zones, some maxPerNode; then 1,000
 * high-priority replicas that only fit by preempting low-priority ones on a full cluster. Median of 3 runs after a
 * warm-up. Pure CPU, no Docker. Anchor: kube-scheduler's CI threshold of 680 pods/s on 5,000 nodes.
 * Run: npx tsx bench/scheduler.ts
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { schedule } from '../operator/scheduler/index.ts';
import type { Placed, ScheduleInput, ScheduleResult, SchedNode, SchedReplica } from '../operator/scheduler/index.ts';
import { Gi, Mi, node, placement, replicas } from '../test/doubles/scheduler-fixtures.ts';
import { median } from './lib.ts';

const NODES = 1000;
const SERVICES = 500;
const PER_SERVICE = 20;
const PREEMPTORS = 1000;
const RUNS = 3;
const GOAL_PER_S = 20_000;
const CONSTRAINTS = ['node.labels.zone == a', 'node.labels.tier != db', 'node.labels.zone != d', 'node.labels.tier == web'];

function cluster(): SchedNode[] {
  return Array.from({ length: NODES }, (_, i) => node(`node-${String(i).padStart(4, '0')}`, { zone: 'abcd'[i % 4]!, tier: i % 5 === 0 ? 'db' : 'web' }, 16, 64 * Gi));
}

/** 500 services: half constrained, a third binpack, a quarter topology-spread over zones, a seventh at most 2 per node. */
function workload(): SchedReplica[] {
  const out: SchedReplica[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const p = placement({
      strategy: s % 3 === 0 ? 'binpack' : 'spread',
      constraints: s % 2 === 0 ? [CONSTRAINTS[(s / 2) % CONSTRAINTS.length]!] : [],
      ...(s % 4 === 1 ? { topologySpreadKey: 'zone' } : {}),
      ...(s % 7 === 0 ? { maxPerNode: 2 } : {}),
      priority: s % 10,
    });
    out.push(...replicas(`ns${s % 20}/svc-${s}`, PER_SERVICE, 0.1 + (s % 5) * 0.1, (128 + (s % 8) * 128) * Mi, p));
  }
  return out;
}

/** A full cluster: low-priority replicas of 0.5-2 cpu filling all 16 cores of every node; 1,000 replicas of 4 services, 1-3 cpu, priority 70-100. */
function preemptionInput(nodes: SchedNode[]): ScheduleInput {
  const placed: Placed[] = [];
  const sizes = [0.5, 0.5, 1, 2];
  nodes.forEach((n, i) => {
    let used = 0;
    for (let k = 0; used < 16; k++) {
      const cpu = Math.min(sizes[(i + k) % sizes.length]!, 16 - used);
      used += cpu;
      placed.push({ service: `low/filler-${k % 7}`, replica: i * 100 + k, cpu, memory: 256 * Mi, placement: placement({ priority: k % 3 }), node: n.name });
    }
  });
  const sizesHigh = [1, 2, 3, 1.5];
  const pending = sizesHigh.flatMap((cpu, j) => replicas(`high/critical-${j}`, PREEMPTORS / sizesHigh.length, cpu, 512 * Mi, placement({ priority: 100 - 10 * j })));
  return { nodes, placed, pending };
}

interface Timing {
  /** Median wall-clock ms. */
  ms: number;
  /** Median CPU ms of this process (user + system): what the scheduler itself cost, whatever else runs on the machine. */
  cpuMs: number;
  result: ScheduleResult;
}

function timed(input: ScheduleInput): Timing {
  schedule(input); // warm-up
  const runs = Array.from({ length: RUNS }, () => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const result = schedule(input);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, result };
  });
  return { ms: median(runs.map((r) => r.ms)), cpuMs: median(runs.map((r) => r.cpuMs)), result: runs[0]!.result };
}

function report(t: Timing): string {
  const perS = (ms: number) => Math.round((t.result.assignments.length / ms) * 1000).toLocaleString('en-US');
  return `${t.ms.toFixed(1)} ms total (${t.cpuMs.toFixed(1)} ms CPU), ${perS(t.ms)} placements/s (${perS(t.cpuMs)}/s of CPU)`;
}

const nodes = cluster();
console.log(`load average ${os.loadavg()[0]!.toFixed(2)} on ${os.availableParallelism()} CPUs; median of ${RUNS} runs after a warm-up`);
const place = timed({ nodes, placed: [], pending: workload() });
const rate = (place.result.assignments.length / place.ms) * 1000;
console.log(`scheduler: ${SERVICES * PER_SERVICE} replicas onto ${NODES} nodes`);
console.log(`  placed ${place.result.assignments.length}, unschedulable ${place.result.unschedulable.length}`);
console.log(`  ${report(place)}; goal >= ${GOAL_PER_S.toLocaleString('en-US')}/s: ${rate >= GOAL_PER_S ? 'met' : 'MISSED'} (kube-scheduler CI threshold: 680 pods/s)`);

const pre = preemptionInput(nodes);
const preempt = timed(pre);
console.log(`preemption: ${PREEMPTORS} replicas onto a full cluster of ${NODES} nodes (${pre.placed.length} low-priority replicas)`);
console.log(`  placed ${preempt.result.assignments.length}, evicted ${preempt.result.evictions.length}, unschedulable ${preempt.result.unschedulable.length}`);
console.log(`  ${report(preempt)}`);
