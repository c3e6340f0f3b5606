/**
 * Healing through a git outage, and status commits under health flaps (berth as its own process, a real git server
 * in this process whose answers the bench holds back or refuses):
 *  - replica killed -> running again, with git up, with git hanging (requests never answered), with git refusing
 *    connections (server stopped); goal: < 1 s in all three
 *  - status commits in 60 s while one service's readiness flaps every 2 s (was: a commit per flap)
 * Run: npx tsx bench/outage.ts. Removes its own containers and repositories.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { makeRemote } from '../test/helpers/git.ts';
import { fmtS, median, startBerth, until } from './lib.ts';

const sh = promisify(execFile);
const docker = new Docker();
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FLAP_S = Number(process.env.BENCH_FLAP_S ?? 60);

const app = (replicas: number) => `apiVersion: berth/v1
kind: Service
metadata: { name: app, namespace: bench }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  replicas: ${replicas}
`;

const flapper = `apiVersion: berth/v1
kind: Service
metadata: { name: flap, namespace: bench }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && (while true; do echo ok > /www/h; sleep 2; rm -f /www/h; sleep 2; done) & exec httpd -f -p 8080 -h /www"]
  ports: [{ port: 8080 }]
  health:
    readiness: { http: { path: /h, port: 8080 }, interval: 500ms, timeout: 400ms, failureThreshold: 1 }
`;

let mode: 'up' | 'hang' = 'up';
const held: (() => void)[] = [];
const replicas = 3 * ROUNDS;
const instance = `bench-outage-${process.pid}`;
const state = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-'));
const remote = await makeRemote({ 'app.yaml': app(replicas), 'flap.yaml': flapper }, {
  onRequest: () => (mode === 'hang' ? new Promise<void>((resolve) => held.push(resolve)) : undefined),
});
const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', state], 17_191);
const label = (slot: number) => [`berth.instance=${instance}`, 'berth.service=app', `berth.replica=${slot}`];
let slot = 0;

/** Kills the next replica slot (each slot once: a replica killed again soon backs off, by design) and times its restart. */
async function killOne(): Promise<number> {
  slot++;
  const [victim] = await docker.listContainers({ filters: { label: label(slot), status: ['running'] } });
  const t0 = performance.now();
  await docker.getContainer(victim!.Id).kill();
  await until(async () => (await docker.getContainer(victim!.Id).inspect()).State.Running, 'killed replica running', 60_000, 10);
  return performance.now() - t0;
}

async function commits(): Promise<number> {
  const { stdout } = await sh('git', ['--git-dir', remote.bareDir, 'rev-list', '--count', 'berth/status']).catch(() => ({ stdout: '0' }));
  return Number(stdout.trim());
}

const results: Record<string, string> = {};
try {
  await until(async () => (await docker.listContainers({ filters: { label: [`berth.instance=${instance}`, 'berth.service=app'], status: ['running'] } })).length === replicas, 'app running', 120_000, 50);
  await new Promise((r) => setTimeout(r, 2_000));
  const c0 = await commits();
  await new Promise((r) => setTimeout(r, FLAP_S * 1000));
  results[`status commits in ${FLAP_S} s, readiness flapping every 2 s`] = String((await commits()) - c0);

  const up: number[] = [];
  for (let i = 0; i < ROUNDS; i++) up.push(await killOne());
  results['replica killed -> running, git up'] = fmtS(median(up));
  mode = 'hang';
  const hang: number[] = [];
  for (let i = 0; i < ROUNDS; i++) hang.push(await killOne());
  results['replica killed -> running, git hanging'] = fmtS(median(hang));
  await remote.server.close();
  for (const release of held.splice(0)) release();
  const down: number[] = [];
  for (let i = 0; i < ROUNDS; i++) down.push(await killOne());
  results['replica killed -> running, git refusing connections'] = fmtS(median(down));
} finally {
  for (const release of held.splice(0)) release();
  await berth.stop();
  const left = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  await remote.close().catch(() => undefined);
  await fs.rm(state, { recursive: true, force: true });
}
console.log(`\nberth through a git outage (medians of ${ROUNDS})`);
for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(58)} ${v}`);
