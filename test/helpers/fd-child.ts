/**
 * Child process of test/fd-exhaustion.test.ts, run under a low RLIMIT_NOFILE (prlimit): berth's API server and a TCP
 * proxy (to an echo server of its own) with the limits `berth run` derives from that descriptor limit. Prints
 * `{"api": port, "proxy": port}`; then, for each `probe` line on stdin, opens what the operator's own work would
 * (outbound connections like health probes, files like scripts and git objects) and prints how many succeeded.
 * Loopback only; it exits when stdin closes.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { flagsWith } from '../../operator/settings/flags.ts';
import { trafficSettings } from '../../operator/settings/settings.ts';
import { registryRoutes } from '../../operator/registry/api.ts';
import { startProxy } from '../../operator/proxy/proxy.ts';
import { Registry } from '../../operator/registry/registry.ts';
import { trafficLimits } from '../../operator/commands/traffic-limits.ts';
import { Metrics } from '../../operator/server/metrics.ts';
import { startServer } from '../../operator/server/server.ts';
import { silentLogger } from '../../operator/util/log.ts';

const PROBES = 100;
const FILES = 20;

const echo = net.createServer((s) => { s.on('error', () => undefined); s.pipe(s); });
echo.on('error', () => undefined);
await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
const echoPort = (echo.address() as net.AddressInfo).port;
const limits = trafficLimits(trafficSettings(flagsWith('run', {})), silentLogger);
const server = await startServer('127.0.0.1', 0, { log: silentLogger, metrics: new Metrics(), status: () => null, trigger: () => undefined,
  routes: registryRoutes(new Registry(), limits.registry), limits: limits.server,
});
const proxy = await startProxy({
  host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'tcp', endpoints: [{ id: 'echo', address: `127.0.0.1:${echoPort}`, weight: 1 }],
  gate: limits.guard.gate('proxy'), idleTimeoutMs: 60_000,
});
process.stdout.write(JSON.stringify({ api: Number(new URL(server.url).port), proxy: proxy.port, limits: limits.summary }) + '\n');

/** What the operator's own work needs at once: PROBES outbound connections and FILES open files. */
async function probe(): Promise<{ connected: number; files: number; errors: string[] }> {
  const errors = new Set<string>();
  const sockets = await Promise.all(Array.from({ length: PROBES }, () => new Promise<net.Socket | null>((resolve) => {
    const s = net.connect(echoPort, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => { errors.add(err.code ?? err.message); resolve(null); });
  })));
  const fds: number[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fd-'));
  for (let i = 0; i < FILES; i++) {
    try {
      fds.push(fs.openSync(path.join(dir, `f${i}`), 'w'));
    } catch (err) {
      errors.add((err as NodeJS.ErrnoException).code ?? String(err));
    }
  }
  for (const fd of fds) fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const s of sockets) s?.destroy();
  return { connected: sockets.filter(Boolean).length, files: fds.length, errors: [...errors] };
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'probe') void probe().then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
});
lines.on('close', () => process.exit(0));
