import { schedule } from '../operator/scheduler/index.ts';
import type { Placed } from '../operator/scheduler/index.ts';
import { Gi, Mi, node, placement, replicas } from '../operator/scheduler/scheduler-fixtures.ts';
const nodes = Array.from({ length: 1000 }, (_, i) => node(`node-${String(i).padStart(4, '0')}`, { zone: 'abcd'[i % 4]! }, 16, 64 * Gi));
const placed: Placed[] = [];
const sizes = [0.5, 0.5, 1, 2];
nodes.forEach((n, i) => { let used = 0; for (let k = 0; used < 16; k++) { const cpu = Math.min(sizes[(i + k) % 4]!, 16 - used); used += cpu; placed.push({ service: `low/filler-${k % 7}`, replica: i * 100 + k, cpu, memory: 256 * Mi, placement: placement({ priority: k % 3 }), node: n.name }); } });
const pending = replicas('high/critical', 1000, 2, 512 * Mi, placement({ priority: 100 }));
for (let k = 0; k < 3; k++) { const t = process.cpuUsage(); const r = schedule({ nodes, placed, pending }); const u = process.cpuUsage(t); console.log((u.user + u.system) / 1000, r.evictions.length); }
