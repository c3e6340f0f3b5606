/**
 * docker/awesome-compose samples end to end on the real engine: the multi-service samples that `berth validate`
 * accepts as they are and that use only registry images (operator/compose/awesome.spec.ts) are pushed to a real git
 * server, each as its own stack, and converge under a test operator. Their images are stand-ins
 * (test/fixtures/compose/standins/<image>/Dockerfile, FROM berth-local/busybox:1, built here with the classic builder
 * and tagged with the names the samples use): a database stand-in checks the credentials of its image's environment,
 * a web stand-in logs in to its database (and pings its cache) over the stack's networks on every request, so its page
 * shows whether the wiring of the sample (service names, ports, networks, the environment on both sides) works.
 * Nothing is pulled: compose's default pull_policy (missing) uses the local images.
 *
 * The one change to a sample: each published port "HOST:CONTAINER" gets a free host port of this machine instead of
 * HOST (80, 3000, 5432 are privileged or may be taken here), by publishOn below. None of these samples has a
 * healthcheck of its own: a service is ready once its replica runs, and each page is asked until it answers; the
 * database stand-ins' own tools (mysqladmin ping, pg_isready, redis-cli ping), which samples with healthchecks call,
 * are run in their containers.
 */
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStandin, publishOn, removeStandin, sampleFiles } from './helpers/awesome.ts';
import { cleanupInstance, execIn, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('awesome');

/** The stand-in images: the name a sample uses, its build directory, and the version it reports. */
const STANDINS = [
  { image: 'mariadb:10.6.4-focal', dir: 'mariadb', version: '10.6.4-focal' },
  { image: 'mariadb:10.5', dir: 'mariadb', version: '10.5' },
  { image: 'wordpress:latest', dir: 'wordpress', version: 'latest' },
  { image: 'postgres:alpine', dir: 'postgres', version: 'alpine' },
  { image: 'postgres:latest', dir: 'postgres', version: 'latest' },
  { image: 'redis:alpine', dir: 'redis', version: 'alpine' },
  { image: 'gitea/gitea:latest', dir: 'gitea', version: 'latest' },
  { image: 'nextcloud:apache', dir: 'nextcloud', version: 'apache' },
  { image: 'dpage/pgadmin4:latest', dir: 'pgadmin4', version: 'latest' },
];

/** What one published port answers: an HTTP page (GET /), or a line of the stand-in database protocol. */
interface Probe {
  /** The container port of the item (unique within a sample). */
  target: number;
  http?: RegExp;
  line?: { send: string; expect: RegExp };
}

interface Sample {
  name: string;
  /** Its services, as the compose file lists them, with their images. */
  services: Record<string, string>;
  probes: Probe[];
  /** Commands run in a service's container, and what each prints. */
  execs: { service: string; cmd: string[]; out: RegExp }[];
}

const ALIVE = { mysql: /^mysqld is alive$/, pg: /^localhost:5432 - accepting connections$/ };

const SAMPLES: Sample[] = [
  {
    name: 'wordpress-mysql', services: { db: 'mariadb:10.6.4-focal', wordpress: 'wordpress:latest' },
    probes: [{ target: 80, http: /^WordPress stand-in latest: \/\nmysql database db:3306 says: OK mariadb 10\.6\.4-focal wordpress\n$/ }],
    execs: [{ service: 'db', cmd: ['mysqladmin', 'ping', '-h', '127.0.0.1'], out: ALIVE.mysql }],
  },
  {
    name: 'gitea-postgres', services: { gitea: 'gitea/gitea:latest', db: 'postgres:alpine' },
    probes: [{ target: 3000, http: /^Gitea stand-in latest: \/\npostgres database db:5432 says: OK postgres alpine gitea\n$/ }],
    execs: [{ service: 'db', cmd: ['pg_isready'], out: ALIVE.pg }],
  },
  {
    name: 'nextcloud-postgres', services: { nc: 'nextcloud:apache', db: 'postgres:alpine' },
    probes: [{ target: 80, http: /^Nextcloud stand-in apache: \/\npostgres database db:5432 says: OK postgres alpine nextcloud\n$/ }],
    execs: [{ service: 'db', cmd: ['pg_isready', '-h', 'localhost'], out: ALIVE.pg }],
  },
  {
    // nc is on both networks, redis only on redisnet, db only on dbnet
    name: 'nextcloud-redis-mariadb', services: { nc: 'nextcloud:apache', redis: 'redis:alpine', db: 'mariadb:10.5' },
    probes: [{ target: 80, http: /^Nextcloud stand-in apache: \/\nmysql database db:3306 says: OK mariadb 10\.5 nextcloud\nredis cache redis:6379 says: PONG\n$/ }],
    execs: [
      { service: 'db', cmd: ['mysqladmin', 'ping', '--silent'], out: /^$/ },
      { service: 'db', cmd: ['cat', '/tmp/mariadbd.args'], out: /^--transaction-isolation=READ-COMMITTED --binlog-format=ROW$/ },
      { service: 'redis', cmd: ['redis-cli', 'ping'], out: /^PONG$/ },
      { service: 'redis', cmd: ['sh', '-c', 'standin-db-ask db 3306 PING 2>/dev/null || echo unreachable'], out: /^unreachable$/ },
    ],
  },
  {
    // both services published; the variables come from the sample's .env
    name: 'postgresql-pgadmin', services: { postgres: 'postgres:latest', pgadmin: 'dpage/pgadmin4:latest' },
    probes: [
      { target: 80, http: /^pgAdmin 4 stand-in latest: \/\nlogin: your@email\.com\n$/ },
      { target: 5432, line: { send: 'AUTH yourUser changeit postgres', expect: /^OK postgres latest postgres$/ } },
    ],
    execs: [{ service: 'postgres', cmd: ['pg_isready'], out: ALIVE.pg }],
  },
];

let remote: Remote | undefined;
let op: TestOperator | undefined;
const published = new Map<string, Map<number, number>>();
/** The tags this test put on the engine (removed afterwards); a real image of a stand-in's name is left alone. */
const tagged: string[] = [];
const realImages: string[] = [];

beforeAll(async () => {
  for (const s of STANDINS) {
    if (!(await buildStandin(docker, s))) {
      realImages.push(s.image); // the machine has the real image: never tag over it
      continue;
    }
    tagged.push(s.image);
  }
  const files: Record<string, string> = {};
  for (const s of SAMPLES) {
    for (const [path, content] of Object.entries(sampleFiles(s.name))) files[`${s.name}/${path}`] = content;
    const { text, ports } = await publishOn(files[`${s.name}/compose.yaml`]!);
    files[`${s.name}/compose.yaml`] = text;
    published.set(s.name, ports);
  }
  remote = await makeRemote(files);
  op = await startTestOperator(remote.url, instance, { 'proxy-host': '127.0.0.1' });
}, 240_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  // only while the name still points at a stand-in (another run may have replaced it since)
  for (const image of tagged) await removeStandin(docker, image);
}, 120_000);

describe('docker/awesome-compose samples on the engine, with stand-in images', () => {
  it('uses only stand-ins: this machine has none of the real images', () => {
    expect(realImages).toEqual([]);
    expect(tagged).toEqual(STANDINS.map((s) => s.image));
  });

  it('converges every service of each sample, from the local images without asking a registry', async () => {
    const keys = SAMPLES.flatMap((s) => Object.keys(s.services).map((svc) => `${s.name}/${svc}`));
    const timer = setInterval(() => op!.trigger('test'), 500);
    try {
      const pass = await op!.waitPass((p) => keys.every((k) => {
        const st = p.status.services[k];
        return st !== undefined && st.desired === 1 && st.ready === 1 && st.health === 'Healthy';
      }), 'every service of the samples ready', 150_000);
      expect(Object.keys(pass.status.services).sort()).toEqual([...keys].sort());
      for (const k of keys) {
        const st = pass.status.services[k]!;
        // run as the node has them: no digest (nothing resolved in a registry), no ErrImagePull
        expect(st.digest, k).toBeUndefined();
        expect(st.message, k).toBeUndefined();
      }
      expect(pass.desired?.services.every((s) => s.spec.pullPolicy === 'IfNotPresent')).toBe(true);
    } finally {
      clearInterval(timer);
    }
  }, 180_000);

  it.each(SAMPLES)('$name: reached through its published ports, its services wired to each other', async (s) => {
    for (const probe of s.probes) {
      const port = published.get(s.name)!.get(probe.target)!;
      if (probe.http) {
        const body = await waitFor(async () => {
          const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
          return res?.status === 200 ? res.text() : undefined;
        }, { timeoutMs: 60_000, intervalMs: 500, what: `${s.name} through port ${port}` });
        expect(body).toMatch(probe.http);
      }
      if (probe.line) {
        const send = probe.line.send;
        const answer = await waitFor(() => askLine(port, send), { timeoutMs: 60_000, intervalMs: 500, what: `${s.name} through port ${port}` });
        expect(answer).toMatch(probe.line.expect);
      }
    }
    for (const e of s.execs) {
      const [c] = await replicaOf(s.name, e.service);
      expect((await execIn(docker, c!.Id, e.cmd)).trim(), `${e.service}: ${e.cmd.join(' ')}`).toMatch(e.out);
    }
    for (const [service, image] of Object.entries(s.services)) expect((await replicaOf(s.name, service))[0]?.Image, service).toBe(image);
  }, 120_000);
});

/** The running replicas of `service` in the stack `sample` (services of several stacks share names). */
async function replicaOf(sample: string, service: string) {
  return (await runningOf(docker, instance, service)).filter((c) => c.Labels['berth.namespace'] === sample);
}

/** One line sent to 127.0.0.1:port and the line answered, or undefined (refused, closed without an answer). */
function askLine(port: number, line: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('connect', () => socket.write(`${line}\n`));
    socket.on('data', (d) => { data += d.toString('utf8'); });
    socket.on('error', () => resolve(undefined));
    socket.on('close', () => resolve(data.trim() || undefined));
  });
}
