/**
 * docker/awesome-compose samples with healthchecks of their own, end to end on the real engine: nginx-golang-mysql,
 * nginx-flask-mysql and nginx-aspnet-mysql, each a proxy (nginx) in front of a backend built from the sample's
 * repository, which logs in to a MariaDB whose compose healthcheck (`mysqladmin ping ... --password="$(cat
 * /run/secrets/db-password)"`, start_period 30s) gates the backend through `depends_on: db: condition:
 * service_healthy`. The three run as stacks of one repository on a real git server under one test operator.
 *
 * Their images are stand-ins built here with the classic builder (test/fixtures/compose/standins/, FROM
 * berth-local/busybox:1, labelled berth.test.standin and tagged with the names the samples use): mariadb:10-focal
 * (standins/mariadb, built with HEALTH_HOLD, see below), nginx (standins/nginx: reads the sample's server block from
 * /etc/nginx/conf.d/default.conf and forwards every request to its proxy_pass upstream) and nginx:1.13-alpine, the base
 * of the proxy/Dockerfile of nginx-flask-mysql and nginx-aspnet-mysql, which berth builds unchanged from the sample
 * (`FROM nginx:1.13-alpine`, `COPY conf ...`). Nothing is pulled: compose's default pull_policy (missing) uses the local
 * images, and BuildKit finds the stand-in base image on the engine.
 *
 * What differs from the samples as docker/awesome-compose has them, and why:
 * - each published port `HOST:CONTAINER` gets a free host port instead of HOST (80 and 8000 are privileged or may be
 *   taken here; publishOn of test/helpers/awesome.ts);
 * - db/password.txt holds the same password, encrypted for an age identity this test generates (berth refuses a
 *   plaintext secret file; the operator gets the identity with --age-key-file);
 * - the files of each backend build context (backend/: the Go, Flask and ASP.NET applications, whose Dockerfiles
 *   start from golang, python and dotnet images of Docker Hub and download modules: nothing of that is reachable
 *   here) are replaced by standins/backend: a Dockerfile whose one stage is named `builder` (the `target:` of the
 *   Go and Flask samples; the ASP.NET sample builds the last stage), the scripts of standins/common and
 *   standins/backend/bin, and a standin.env with what the real application hard-codes (its port, the database host,
 *   user and name; see BACKENDS). It listens on the port the sample's proxy forwards to, and every request logs in to
 *   the database over the stack's network with the password of /run/secrets/db-password, as the real backend does.
 * The compose files, the proxy configurations and the proxies' build contexts are the samples' own.
 *
 * The health gate is made visible: the mariadb stand-in is built with HEALTH_HOLD=/tmp/standin-healthy, so its
 * `mysqladmin ping` (the sample's healthcheck) fails, while the server itself answers, until the test creates that file
 * in the container. Until then each backend must have no container and the status must say why; then everything
 * converges and the page of each proxy's published port shows the whole chain: proxy -> backend -> database login OK.
 *
 * Why these three of the five samples with `service_healthy`: their stand-in tags (mariadb:10-focal, nginx,
 * nginx:1.13-alpine) are this file's alone. nginx-golang-postgres (postgres) and react-java-mysql
 * (mariadb:10.6.4-focal) use tags that test/awesome-compose.test.ts builds without the hold, and the two files may
 * run at the same time; nginx-golang-postgres also runs its db as `user: postgres`, a user the busybox image lacks.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { armor, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStandin, COMPOSE_FIXTURES, publishOn, removeStandin, sampleFiles } from './helpers/awesome.ts';
import { cleanupInstance, execIn, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { containersOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('awesomehealth');
/** The file whose absence holds the mariadb stand-in's `mysqladmin ping`. */
const HOLD = '/tmp/standin-healthy';

/** The stand-in images: the name a sample uses, its build directory, the version it reports, build args. */
const STANDINS = [
  { image: 'mariadb:10-focal', dir: 'mariadb', version: '10-focal', args: { HEALTH_HOLD: HOLD } },
  { image: 'nginx:latest', dir: 'nginx', version: 'latest' },
  { image: 'nginx:1.13-alpine', dir: 'nginx', version: '1.13-alpine' },
];

interface Sample {
  name: string;
  /** The application the backend stand-in replaces (its name on the page). */
  app: string;
  /** The proxy's configuration file in the sample (its proxy_pass names the backend's port). */
  proxyConf: string;
  /** The nginx version the proxy runs (the image `nginx`, or the base of the sample's proxy/Dockerfile). */
  nginx: string;
  /** The database login the real backend hard-codes, with where it does. */
  db: { host: string; user: string; name: string; source: string };
  /** Container ports of the backend that the sample publishes too. */
  backendPublished: number[];
}

const SAMPLES: Sample[] = [
  {
    name: 'nginx-golang-mysql', app: 'Go backend', proxyConf: 'proxy/nginx.conf', nginx: 'latest', backendPublished: [],
    db: { host: 'db', user: 'root', name: 'example', source: 'backend/main.go: "root:%s@tcp(db:3306)/example"' },
  },
  {
    name: 'nginx-flask-mysql', app: 'Flask backend', proxyConf: 'proxy/conf', nginx: '1.13-alpine', backendPublished: [8000],
    db: { host: 'db', user: 'root', name: 'example', source: "backend/hello.py: DBManager(database='example', host=\"db\", user=\"root\")" },
  },
  {
    name: 'nginx-aspnet-mysql', app: 'ASP.NET backend', proxyConf: 'proxy/conf', nginx: '1.13-alpine', backendPublished: [],
    db: { host: 'db', user: 'root', name: 'example', source: 'backend/Program.cs: "server=db;user=root;database=example;port=3306"' },
  },
];
const SERVICES = ['db', 'backend', 'proxy'];

/** The upstream port of the one proxy_pass of an nginx server block. */
function upstreamPort(conf: string): number {
  const m = [...conf.matchAll(/^\s*proxy_pass\s+http:\/\/[^:\s]+:(\d+)\s*;/gm)];
  if (m.length !== 1) throw new Error(`expected one proxy_pass in ${conf}`);
  return Number(m[0]![1]);
}

/** The files of the backend stand-in, by path in its build context. */
function backendContext(s: Sample, port: number): Record<string, string> {
  const standins = join(COMPOSE_FIXTURES, 'standins');
  const files: Record<string, string> = { Dockerfile: readFileSync(join(standins, 'backend', 'Dockerfile'), 'utf8') };
  for (const dir of ['common', 'backend/bin']) {
    for (const f of readdirSync(join(standins, dir))) files[`bin/${f}`] = readFileSync(join(standins, dir, f), 'utf8');
  }
  files['standin.env'] = [
    `# what ${s.db.source} hard-codes, and the port of its server`,
    `APP='${s.app}'`, `PORT=${port}`, 'DB_KIND=mysql', `DB_HOST=${s.db.host}`, `DB_USER=${s.db.user}`, `DB_NAME=${s.db.name}`, '',
  ].join('\n');
  return files;
}

let remote: Remote | undefined;
let op: TestOperator | undefined;
let keyDir: string | undefined;
const published = new Map<string, Map<number, number>>();
/** The samples' own passwords (db/password.txt as docker/awesome-compose has it). */
const passwords = new Map<string, string>();
/** The tags this test put on the engine (removed afterwards); a real image of a stand-in's name is left alone. */
const tagged: string[] = [];
const realImages: string[] = [];
/** When the test let the databases' healthchecks pass (ms since the epoch). */
let releasedAt = 0;
let trigger: NodeJS.Timeout | undefined;

beforeAll(async () => {
  for (const s of STANDINS) {
    if (!(await buildStandin(docker, s))) realImages.push(s.image); // the machine has the real image: never tag over it
    else tagged.push(s.image);
  }
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  keyDir = await mkdtemp(join(tmpdir(), 'berth-awesome-health-'));
  await writeFile(join(keyDir, 'key.txt'), `${identity}\n`, { mode: 0o600 });
  const files: Record<string, string> = {};
  for (const s of SAMPLES) {
    const own = sampleFiles(s.name);
    passwords.set(s.name, own['db/password.txt']!);
    for (const [path, content] of Object.entries(own)) if (!path.startsWith('backend/')) files[`${s.name}/${path}`] = content;
    for (const [path, content] of Object.entries(backendContext(s, upstreamPort(own[s.proxyConf]!)))) files[`${s.name}/backend/${path}`] = content;
    const e = new Encrypter();
    e.addRecipient(recipient);
    files[`${s.name}/db/password.txt`] = armor.encode(await e.encrypt(own['db/password.txt']!));
    const { text, ports } = await publishOn(own['compose.yaml']!);
    files[`${s.name}/compose.yaml`] = text;
    published.set(s.name, ports);
  }
  remote = await makeRemote(files);
  op = await startTestOperator(remote.url, instance, { 'proxy-host': '127.0.0.1', 'age-key-file': join(keyDir, 'key.txt') });
  trigger = setInterval(() => op!.trigger('test'), 500);
}, 120_000);

afterAll(async () => {
  clearInterval(trigger);
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await rm(`/dev/shm/berth/${instance}`, { recursive: true, force: true });
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
  for (const image of tagged) await removeStandin(docker, image);
}, 120_000);

/** The containers (running or not) of `service` in the stack `sample` (services of several stacks share names). */
async function containersIn(sample: string, service: string) {
  return (await containersOf(docker, instance, service)).filter((c) => c.Labels['berth.namespace'] === sample);
}

/** The one running container of `service` in `sample`. */
async function replicaOf(sample: string, service: string) {
  const running = (await containersIn(sample, service)).filter((c) => c.State === 'running');
  expect(running, `${sample}/${service} running`).toHaveLength(1);
  return running[0]!;
}

describe('docker/awesome-compose samples with healthchecks, on the engine with stand-in images', () => {
  it('uses only stand-ins: this machine has none of the real images', () => {
    expect(realImages).toEqual([]);
    expect(tagged).toEqual(STANDINS.map((s) => s.image));
  });

  it('holds each backend (depends_on db: service_healthy) while its database\'s healthcheck fails', async () => {
    const waiting = (p: { status: { services: Record<string, { message?: string } | undefined> } }) => SAMPLES.every((s) =>
      p.status.services[`${s.name}/backend`]?.message?.startsWith('waiting for dependencies with condition healthy:'));
    // a pass waits for a dependency it just created within its probes' deadline (start_period 30s, then 5 failures)
    const pass = await op!.waitPass(waiting, 'every backend waiting for its healthy db', 100_000);
    for (const s of SAMPLES) {
      const db = pass.status.services[`${s.name}/db`]!;
      expect(db.ready, `${s.name}/db`).toBe(0);
      expect(pass.status.services[`${s.name}/backend`]!.message).toContain(`${s.name}/db is not healthy`);
      expect(await containersIn(s.name, 'backend'), `${s.name}/backend`).toEqual([]);
      // the database answers; only its healthcheck tool is held
      const c = await replicaOf(s.name, 'db');
      expect((await execIn(docker, c.Id, ['standin-db-ask', '127.0.0.1', '3306', 'PING'])).trim()).toBe('PONG');
      const check = await execIn(docker, c.Id, ['sh', '-c', 'mysqladmin ping -h 127.0.0.1 --password="$(cat /run/secrets/db-password)" --silent 2>&1; echo "exit $?"']);
      expect(check).toBe("mysqladmin: connect to server at '127.0.0.1' failed (stand-in held until /tmp/standin-healthy exists)\nexit 1\n");
    }
    // (the proxies, depends_on backend without a condition, are not looked at here: berth creates them once the
    // backend's actions were handled, deferred or not, where docker compose would wait for the backend to start)
    // the hold is still in place: a later pass has still no backend
    await op!.waitPass(() => true, 'a later pass', 30_000);
    for (const s of SAMPLES) expect(await containersIn(s.name, 'backend'), `${s.name}/backend`).toEqual([]);
    releasedAt = Date.now();
    for (const s of SAMPLES) await execIn(docker, (await replicaOf(s.name, 'db')).Id, ['touch', HOLD]);
  }, 150_000);

  it('then converges every service of each sample, the backends created after their databases became healthy', async () => {
    expect(releasedAt).toBeGreaterThan(0);
    const keys = SAMPLES.flatMap((s) => SERVICES.map((svc) => `${s.name}/${svc}`));
    const pass = await op!.waitPass((p) => keys.every((k) => {
      const st = p.status.services[k];
      return st !== undefined && st.desired === 1 && st.ready === 1 && st.health === 'Healthy';
    }), 'every service of the samples ready', 90_000);
    expect(Object.keys(pass.status.services).sort()).toEqual([...keys].sort());
    for (const k of keys) expect(pass.status.services[k]!.message, k).toBeUndefined();
    for (const s of SAMPLES) {
      const backend = await replicaOf(s.name, 'backend');
      expect(backend.Created * 1000, `${s.name}/backend created after the release`).toBeGreaterThanOrEqual(Math.floor(releasedAt / 1000) * 1000);
      expect((await replicaOf(s.name, 'db')).Image).toBe('mariadb:10-focal');
    }
  }, 120_000);

  it.each(SAMPLES)('$name: its proxy\'s published port answers through the backend, which logged in to the database', async (s) => {
    const page = async (port: number) => {
      let last = 'no answer';
      return waitFor(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => err);
        if (res instanceof Error) last = res.message;
        else if (res.status === 200) return res.text();
        else last = `${res.status}: ${await res.text()}`;
        return undefined;
      }, { timeoutMs: 30_000, intervalMs: 500, what: `${s.name} through port ${port}` }).catch((err: Error) => {
        throw new Error(`${err.message}; last answer: ${last}`);
      });
    };
    const ports = published.get(s.name)!;
    const upstream = `http://backend:${upstreamPort(sampleFiles(s.name)[s.proxyConf]!)}`;
    const backendPage = `${s.app} stand-in: /\nmysql database db:3306 says: OK mariadb 10-focal example\n`;
    expect(await page(ports.get(80)!)).toBe(`nginx stand-in ${s.nginx}: / -> ${upstream}/\n${backendPage}`);
    for (const target of s.backendPublished) expect(await page(ports.get(target)!)).toBe(backendPage);
    // the proxy serves the sample's own configuration: bind-mounted (spec.files) or copied in by its Dockerfile
    const proxy = await replicaOf(s.name, 'proxy');
    expect(await execIn(docker, proxy.Id, ['cat', '/etc/nginx/conf.d/default.conf'])).toBe(sampleFiles(s.name)[s.proxyConf]);
    if (s.nginx === 'latest') expect(proxy.Image).toBe('nginx');
    // the backend is the stand-in built from the replaced context, reading the secret berth delivered
    const backend = await replicaOf(s.name, 'backend');
    expect(backend.Image).toMatch(new RegExp(`^berth\\.local/${s.name}/backend:`));
    expect(await execIn(docker, backend.Id, ['cat', '/run/secrets/db-password'])).toBe(passwords.get(s.name));
  }, 60_000);

  it('the passwords appear in no container\'s configuration, nor in the status or the log', async () => {
    const all = await containersOf(docker, instance);
    expect(all.length).toBe(SAMPLES.length * SERVICES.length);
    for (const c of all) {
      const info = await docker.getContainer(c.Id).inspect();
      const inspected = JSON.stringify(info);
      for (const [sample, password] of passwords) {
        expect(info.Config.Env.join('\n'), `${c.Names[0]} Env`).not.toContain(password);
        expect(inspected, `${c.Names[0]} inspect, password of ${sample}`).not.toContain(password);
      }
    }
    const statuses = JSON.stringify(op!.passes.map((p) => p.status));
    const log = op!.recentLog().join('\n');
    for (const password of passwords.values()) {
      expect(statuses).not.toContain(password);
      expect(log).not.toContain(password);
    }
  });
});
