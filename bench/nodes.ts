/**
 * Many hosts, side by side in one run: the main engine plus berth-e1 (unix socket, reached through a loopback
 * TCP relay this bench opens and closes, as test/nodes.test.ts does) and berth-e2 (TCP + TLS), started or leased through
 * scripts/engines.sh as test/global-setup.ts does and released at the end. The main engine is never restarted.
 *  - commit pushed (webhook) -> 30 replicas running, spread over 3 Nodes vs the same 30 on the main engine alone (no
 *    Node declared), image already on every engine (loadImage); and the first round on engines that lack the image,
 *    which berth delivers itself (save/load)
 *  - node e1 killed (relay closed) while it runs ~1/3 of 9 replicas (tcp readiness every 200 ms) -> all 9 running and
 *    ready off e1, with --node-grace 2s and 5s (goal: under grace + 2 s)
 * Run: npx tsx bench/nodes.ts (BENCH_ROUNDS, default 3). Removes only its own instance's containers, networks and image.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { makeRemote, type Remote } from '../test/helpers/git.ts';
import { cleanupInstance, testDocker, TEST_IMAGE } from '../test/helpers/docker.ts';
import { extraEngines, loadImage } from '../test/helpers/engines.ts';
import { createRelay, freePort, type Relay } from '../test/helpers/net.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import type { StatusDoc } from '../operator/status/report.ts';
import { fmtS, median, ROOT, startBerth, until, type BerthProcess } from './lib.ts';

const run = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ENGINES_SH = path.join(ROOT, 'scripts/engines.sh');
const E1_SOCKET = '/run/berth-engines/e1/docker.sock';
const instance = `bench-nodes-${process.pid}`;
const IMAGE = `berth-bench/${instance}:v1`; // built here with a unique layer: at first only the main engine has it
const KEY = 'bench/web';

interface Engines { main: Dockerode; e1: Dockerode; e2: Dockerode }
type Where = Record<keyof Engines, number>;
interface Ctx { remote: Remote; berth: BerthProcess; engines: Engines }

function nodesYaml(relayPort: number, e2: ReturnType<typeof extraEngines>['e2']): string {
  const node = (name: string, spec: string) => `apiVersion: berth/v1\nkind: Node\nmetadata: { name: ${name} }\nspec:\n${spec}`;
  return [
    node('main', '  endpoint: "unix:///var/run/docker.sock"\n'),
    node('e1', `  endpoint: "tcp://127.0.0.1:${relayPort}"\n`),
    node('e2', `  endpoint: "${e2.endpoint}"\n  tls: { ca: ${e2.tls.ca}, cert: ${e2.tls.cert}, key: ${e2.tls.key} }\n`),
  ].join('---\n');
}

/** busybox sleeping (no probes), or busybox httpd with a tcp readiness probe every 200 ms. */
function web(replicas: number, probed = false): string {
  const body = probed
    ? '  command: [httpd, -f, -p, "8080"]\n  ports: [{ port: 8080 }]\n  health:\n    readiness: { tcp: { port: 8080 }, interval: 200ms, timeout: 200ms, failureThreshold: 3 }\n'
    : '  command: [sleep, "3600"]\n';
  return `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web, namespace: bench }\nspec:\n  image: ${IMAGE}\n  replicas: ${replicas}\n${body}`;
}

async function engines(command: 'start' | 'stop'): Promise<void> {
  await run('bash', [ENGINES_SH, command, '--lease', String(process.pid)], { timeout: 90_000 });
}

async function status(berth: BerthProcess): Promise<StatusDoc> {
  return berth.status();
}

/** Containers of this instance per engine (running only unless `all`). */
async function where(e: Engines, all = false): Promise<Where> {
  const count = async (d: Dockerode) => (await d.listContainers({ all, filters: { label: [`berth.instance=${instance}`], ...(all ? {} : { status: ['running'] }) } })).length;
  const [main, e1, e2] = await Promise.all([count(e.main), count(e.e1), count(e.e2)]);
  return { main, e1, e2 };
}
const total = (w: Where) => w.main + w.e1 + w.e2;
const fmtWhere = (w: Where) => `${w.main}/${w.e1}/${w.e2}`;

async function push(ctx: Ctx, replicas: number, probed = false): Promise<number> {
  await ctx.remote.commit({ 'web.yaml': web(replicas, probed) }, 'bench');
  const t0 = performance.now();
  await fetch(`${ctx.berth.url}/hooks/git`, { method: 'POST', body: '{}', headers: ctx.berth.auth });
  return t0;
}

async function scaleToZero(ctx: Ctx, probed = false): Promise<void> {
  await push(ctx, 0, probed);
  await until(async () => total(await where(ctx.engines, true)) === 0, 'scale to 0', 120_000, 50);
}

/** Scale 0 -> n (no probes): ms from the push to n running on the engines, and where they run. */
async function converge(ctx: Ctx, n: number): Promise<{ ms: number; at: Where }> {
  const t0 = await push(ctx, n);
  const at = await until(async () => { const w = await where(ctx.engines); return total(w) === n && w; }, `${n} running`, 180_000, 25);
  const ms = performance.now() - t0;
  await scaleToZero(ctx);
  return { ms, at };
}

/** Starts berth on a fresh repository and runs `fn`; always stops it and removes this instance's containers. */
async function withBerth<T>(files: Record<string, string>, args: string[], e: Engines, fn: (ctx: Ctx) => Promise<T>): Promise<T> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-nodes-'));
  const remote = await makeRemote(files);
  try {
    const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', stateDir, ...args], await freePort());
    try {
      return await fn({ remote, berth, engines: e });
    } finally {
      await berth.stop();
    }
  } finally {
    for (const d of [e.main, e.e1, e.e2]) {
      const left = await d.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
      await Promise.all(left.map((c) => d.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    }
    await remote.close();
    await fs.rm(stateDir, { recursive: true, force: true });
  }
}

async function nodesReady(berth: BerthProcess, n: number): Promise<void> {
  await until(async () => { const s = await status(berth); return s.nodes?.length === n && s.nodes.every((x) => x.state === 'Ready'); }, 'nodes Ready', 60_000, 50);
}

interface Results { rows: [string, string][]; goals: string[] }

async function convergeBench(e: Engines, nodes: string, r: Results): Promise<void> {
  const rounds = (xs: { ms: number }[]) => xs.map((x) => (x.ms / 1000).toFixed(2)).join(', ');
  const spread: { ms: number; at: Where }[] = [];
  await withBerth({ 'nodes.yaml': nodes, 'web.yaml': web(0) }, [], e, async (ctx) => {
    await nodesReady(ctx.berth, 3);
    const absent = await Promise.all([e.e1, e.e2].map((d) => d.getImage(IMAGE).inspect().then(() => false, () => true)));
    if (!absent.every(Boolean)) throw new Error(`bench: ${IMAGE} is already on an extra engine`);
    const first = await converge(ctx, 30);
    r.rows.push(['push -> 30 running, 3 Nodes, with image delivery (1st round)', `${fmtS(first.ms)}  (main/e1/e2 ${fmtWhere(first.at)})`]);
    for (const d of [e.e1, e.e2]) await loadImage(d, IMAGE); // delivered by berth already: checks the image ID
    for (let i = 0; i < ROUNDS; i++) spread.push(await converge(ctx, 30));
  });
  const single: { ms: number; at: Where }[] = [];
  await withBerth({ 'web.yaml': web(0) }, [], e, async (ctx) => {
    for (let i = 0; i < ROUNDS; i++) single.push(await converge(ctx, 30));
  });
  const [m3, m1] = [median(spread.map((x) => x.ms)), median(single.map((x) => x.ms))];
  r.rows.push(['push -> 30 running, 3 Nodes (image on every engine)', `${fmtS(m3)}  (main/e1/e2 ${fmtWhere(spread[0]!.at)}; rounds ${rounds(spread)})`]);
  r.rows.push(['push -> 30 running, main engine alone (no Node)', `${fmtS(m1)}  (rounds ${rounds(single)})`]);
  r.goals.push(`3 engines vs 1 engine, 30 replicas: ${(m3 / m1).toFixed(2)}x the single-engine time (no goal set; informative)`);
}

/** Waits until the 9 probed replicas are ready, with some on e1; returns where they run. */
async function nineReadyWithE1(ctx: Ctx): Promise<Where> {
  return until(async () => {
    const s = (await status(ctx.berth)).services[KEY];
    if ((s?.replicas.filter((x) => x.ready).length ?? 0) !== 9) return false;
    const w = await where(ctx.engines);
    return total(w) === 9 && w.e1 > 0 && w;
  }, '9 ready with some on e1', 120_000, 50);
}

/**
 * Scales 0 -> 9 (placed afresh, about 1/3 on e1), then closes e1's relay: ms until 9 replicas run and are ready off
 * e1, and until berth marked e1 NotReady. Reopens the relay and waits until e1's stale replicas are removed.
 */
async function killRound(ctx: Ctx, relay: Relay): Promise<{ ms: number; notReadyMs: number; before: Where }> {
  await scaleToZero(ctx, true);
  await push(ctx, 9, true);
  const before = await nineReadyWithE1(ctx);
  const t0 = performance.now();
  await relay.close();
  let notReadyMs = NaN;
  await until(async () => {
    const s = await status(ctx.berth);
    if (Number.isNaN(notReadyMs) && s.nodes?.find((n) => n.name === 'e1')?.state === 'NotReady') notReadyMs = performance.now() - t0;
    if ((s.services[KEY]?.replicas.filter((x) => x.ready && x.node !== 'e1').length ?? 0) < 9) return false;
    const w = await where(ctx.engines);
    return w.main + w.e2 >= 9;
  }, 'replicas ready off e1', 60_000, 25);
  const ms = performance.now() - t0;
  await relay.open(); // same port: the node answers again
  await until(async () => {
    const s = await status(ctx.berth);
    return s.nodes?.find((n) => n.name === 'e1')?.state === 'Ready' && (await where(ctx.engines, true)).e1 === 0;
  }, 'e1 back and its stale replicas removed', 60_000, 100);
  return { ms, notReadyMs, before };
}

async function killBench(e: Engines, relay: Relay, nodes: string, r: Results): Promise<void> {
  for (const grace of [2, 5]) {
    const rounds: { ms: number; notReadyMs: number; before: Where }[] = [];
    await withBerth({ 'nodes.yaml': nodes, 'web.yaml': web(0, true) }, ['--node-grace', `${grace}s`], e, async (ctx) => {
      await nodesReady(ctx.berth, 3);
      for (let i = 0; i < ROUNDS; i++) rounds.push(await killRound(ctx, relay));
    });
    const ms = median(rounds.map((x) => x.ms));
    const detail = rounds.map((x) => `${(x.ms / 1000).toFixed(2)} [e1 had ${x.before.e1}, NotReady at ${(x.notReadyMs / 1000).toFixed(2)}]`).join(', ');
    r.rows.push([`node e1 killed -> 9 running+ready off e1, grace ${grace}s`, `${fmtS(ms)}  (rounds ${detail})`]);
    r.goals.push(`node killed -> replicas ready elsewhere, grace ${grace}s: ${fmtS(ms)} vs goal < ${grace + 2}.00 s — ${ms < (grace + 2) * 1000 ? 'met' : 'NOT MET'}`);
  }
}

const results: Results = { rows: [], goals: [] };
const main = testDocker();
const relay = createRelay(E1_SOCKET);
await engines('start');
try {
  const { e1, e2 } = extraEngines();
  const e: Engines = { main, e1: e1.docker, e2: e2.docker };
  await relay.open();
  await createDockerRuntime(main).buildImage(IMAGE, [
    { path: 'Dockerfile', mode: 0o100644, content: Buffer.from(`FROM ${TEST_IMAGE}\nCOPY id /id\n`) },
    { path: 'id', mode: 0o100644, content: Buffer.from(`${instance}\n`) },
  ], 'Dockerfile', {});
  const nodes = nodesYaml(relay.port(), e2);
  await convergeBench(e, nodes, results);
  await killBench(e, relay, nodes, results);
} finally {
  await relay.close();
  const { e1, e2 } = extraEngines();
  for (const d of [main, e1.docker, e2.docker]) await cleanupInstance(d, instance).catch((err) => console.error(`cleanup: ${(err as Error).message}`));
  await engines('stop');
}
console.log(`\nberth on several engines: main + berth-e1 (unix, via a TCP relay) + berth-e2 (TCP+TLS), this machine; medians of ${ROUNDS}`);
for (const [k, v] of results.rows) console.log(`  ${k.padEnd(62)} ${v}`);
console.log('goals');
for (const g of results.goals) console.log(`  ${g}`);
