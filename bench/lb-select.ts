/**
 * Selection cost of berth's load-balancing algorithms: ns per pick at 100 endpoints, 1e6 picks after a
 * warm-up, median of 5 runs; and the key movement of consistent hashing when 1 of 100 endpoints is removed (100k keys).
 * Pure CPU, no Docker. Run: npx tsx bench/lb-select.ts
 */
import { performance } from 'node:perf_hooks';
import type { LbAlgorithm } from '../operator/model/manifest.ts';
import { ConsistentHashBalancer } from '../operator/proxy/lb/consistent-hash.ts';
import { createBalancer } from '../operator/proxy/lb/create-balancer.ts';
import { murmur3 } from '../operator/proxy/lb/hash.ts';
import { mulberry32, randomInt } from '../operator/proxy/lb/prng.ts';
import type { Balancer, BalancerOptions, Endpoint } from '../operator/proxy/lb/types.ts';

const ENDPOINTS = 100;
const PICKS = 1_000_000;
const WARMUP = 200_000;
const RUNS = 5;
const KEYS = 100_000;
/** Random session-like keys the hashing cases cycle through: 2^16 of them, warm in the CPU cache, so a lower bound for keys parsed off the wire. */
const KEY_POOL = 1 << 16;
/** Connections kept open by the "with load" cases: each pick opens one and closes the oldest. */
const IN_FLIGHT = 1000;

interface Case {
  name: string;
  algorithm: LbAlgorithm;
  opts?: BalancerOptions;
  keyed: boolean;
  /** Acquire on every pick and release the connection opened IN_FLIGHT picks earlier. */
  withLoad: boolean;
}

const CASES: Case[] = [
  { name: 'round-robin', algorithm: 'round-robin', keyed: false, withLoad: false },
  { name: 'weighted-round-robin', algorithm: 'weighted-round-robin', keyed: false, withLoad: false },
  { name: 'consistent-hash (random keys)', algorithm: 'consistent-hash', keyed: true, withLoad: false },
  { name: 'consistent-hash bounded 1.25 (+acquire/release, 1000 open)', algorithm: 'consistent-hash', opts: { boundedLoad: 1.25 }, keyed: true, withLoad: true },
  { name: 'least-connections (nothing open)', algorithm: 'least-connections', keyed: false, withLoad: false },
  { name: 'least-connections (+acquire/release, 1000 open)', algorithm: 'least-connections', keyed: false, withLoad: true },
];

function endpoints(n: number, seed: number): Endpoint[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => ({ id: `web-${i}`, address: `10.0.${i >> 8}.${i & 255}:8080`, weight: randomInt(rand, 1, 5) }));
}

function randomKeys(n: number, seed: number): string[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => `sid-${Math.floor(rand() * 2 ** 32).toString(16)}${Math.floor(rand() * 2 ** 32).toString(16)}`);
}

/** Runs `count` picks and returns the elapsed ms; `sink` keeps the work observable. */
function run(b: Balancer, c: Case, keys: readonly string[], count: number, open: string[], sink: { n: number }): number {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const picked = b.pick(c.keyed ? { key: keys[i & (KEY_POOL - 1)]! } : undefined);
    sink.n += picked!.weight;
    if (!c.withLoad) continue;
    b.acquire(picked!.id);
    const slot = i % IN_FLIGHT;
    const old = open[slot];
    if (old !== undefined) b.release(old);
    open[slot] = picked!.id;
  }
  return performance.now() - t0;
}

function nsPerPick(c: Case, eps: readonly Endpoint[], keys: readonly string[], sink: { n: number }): number {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const b = createBalancer(c.algorithm, eps, c.opts);
    const open: string[] = [];
    run(b, c, keys, WARMUP, open, sink);
    times.push((run(b, c, keys, PICKS, open, sink) * 1e6) / PICKS);
  }
  return median(times);
}

function hashCost(keys: readonly string[], sink: { n: number }): number {
  const once = (count: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) sink.n ^= murmur3(keys[i & (KEY_POOL - 1)]!);
    return performance.now() - t0;
  };
  once(WARMUP);
  return median(Array.from({ length: RUNS }, () => (once(PICKS) * 1e6) / PICKS));
}

interface Movement { fraction: number; strayed: number }

/** Removes each of the 100 endpoints in turn (weights 1) and measures the share of 100k keys that changed endpoint. */
function keyMovement(): Movement[] {
  const eps = endpoints(ENDPOINTS, 1).map((e) => ({ ...e, weight: 1 }));
  const keys = randomKeys(KEYS, 3);
  const b = new ConsistentHashBalancer(eps);
  const before = keys.map((key) => b.pick({ key })!.id);
  return eps.map((gone) => {
    b.update(eps.filter((e) => e.id !== gone.id));
    const after = keys.map((key) => b.pick({ key })!.id);
    b.update(eps);
    let moved = 0;
    let strayed = 0;
    before.forEach((id, k) => {
      if (after[k] === id) return;
      moved += 1;
      if (id !== gone.id) strayed += 1;
    });
    return { fraction: moved / KEYS, strayed };
  });
}

function ringBuildMs(): number {
  const eps = endpoints(ENDPOINTS, 1);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) new ConsistentHashBalancer(eps);
  return (performance.now() - t0) / 20;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  const eps = endpoints(ENDPOINTS, 1);
  const keys = randomKeys(KEY_POOL, 2);
  const sink = { n: 0 };
  console.log(`lb-select: ${ENDPOINTS} endpoints (weights 1..5), ${PICKS.toExponential(0)} picks after ${WARMUP.toExponential(0)} warm-up, median of ${RUNS} runs, node ${process.version}`);
  for (const c of CASES) console.log(`  ${c.name.padEnd(60)} ${nsPerPick(c, eps, keys, sink).toFixed(1).padStart(7)} ns/pick`);
  console.log(`  ${'(of which murmur3 of the key)'.padEnd(60)} ${hashCost(keys, sink).toFixed(1).padStart(7)} ns/hash`);
  const totalWeight = eps.reduce((a, e) => a + e.weight, 0);
  console.log(`  ring build (${totalWeight * 160} points): ${ringBuildMs().toFixed(2)} ms`);
  const moves = keyMovement();
  const fr = moves.map((m) => m.fraction);
  const mean = fr.reduce((a, f) => a + f, 0) / fr.length;
  console.log(`consistent-hash key movement, remove 1 of ${ENDPOINTS} (weights 1, 160 points each), ${KEYS / 1000}k keys, each endpoint removed in turn:`);
  console.log(`  moved: mean ${(mean * 100).toFixed(2)} %, min ${(Math.min(...fr) * 100).toFixed(2)} %, median ${(median(fr) * 100).toFixed(2)} %, max ${(Math.max(...fr) * 100).toFixed(2)} % (ideal 1/N = ${(100 / ENDPOINTS).toFixed(2)} %); keys moved off endpoints that stayed: ${moves.reduce((a, m) => a + m.strayed, 0)}`);
  if (sink.n === 0.5) console.log(sink.n);
}

main();
