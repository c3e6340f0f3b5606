/** kind Job and CronJob (issue #17, manifest side): schema, defaults, checks at file:line:col and desired state. */
import { describe, expect, it } from 'vitest';
import { ValidationError, formatIssue } from '../../../model/errors.ts';
import type { DesiredState } from '../../../model/state.ts';
import { memorySnapshot } from '../../../source/memory-source.ts';
import { loadDesired } from '../../load.ts';
import { parseManifests } from '../../parse.ts';

const job = (name: string, spec: string, ns = 'shop'): string => `apiVersion: berth/v1\nkind: Job\nmetadata: { name: ${name}, namespace: ${ns} }\nspec:\n${spec}`;
const cron = (name: string, spec: string): string => `apiVersion: berth/v1\nkind: CronJob\nmetadata: { name: ${name}, namespace: shop }\nspec:\n${spec}`;
const service = (name: string, extra = ''): string => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name}, namespace: shop }\nspec:\n  image: berth-local/busybox:1\n${extra}`;
const IMAGE = '  image: berth-local/busybox:1\n';

async function load(files: Record<string, string>, revision = 'r1'): Promise<DesiredState> {
  return loadDesired(memorySnapshot(files, revision), { instance: 'i', path: '' });
}

async function issues(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
  throw new Error('expected the revision to be refused');
}

describe('kind Job', () => {
  it('takes the defaults and resolves its containers as a Service\'s replicas; no Jobs, no desired.jobs', async () => {
    const desired = await load({ 'j.yaml': job('migrate', `${IMAGE}  command: [sh, -c, "echo migrated"]\n  env: { MODE: up }\n`) });
    expect(desired.jobs).toHaveLength(1);
    const [j] = desired.jobs!;
    expect(j).toMatchObject({
      key: 'shop/migrate', namespace: 'shop', name: 'migrate', labels: {},
      spec: { image: 'berth-local/busybox:1', command: ['sh', '-c', 'echo migrated'], env: { MODE: 'up' }, completions: 1, parallelism: 1, backoffLimit: 6, pullPolicy: 'IfNotPresent', volumes: [], resources: {} },
      image: { type: 'ref', ref: 'berth-local/busybox:1' }, network: 'berth.i.shop', env: { MODE: 'up' }, source: { file: 'j.yaml', line: 1, col: 1 },
    });
    expect(j!.specHash).toMatch(/^[0-9a-f]{16}$/);
    expect(j!.spec.activeDeadlineMs).toBeUndefined();
    expect(j!.spec.ttlAfterFinishedMs).toBeUndefined();
    // Nothing runs a Job yet: no network, service or other part of the desired state comes from it.
    expect([desired.services, desired.networks, desired.cronJobs]).toEqual([[], [], undefined]);
    const plain = await load({ 's.yaml': service('web') });
    expect(['jobs', 'cronJobs'].filter((k) => k in plain)).toEqual([]);
  });

  it('reads every Job field: durations in ms, the container fields as a Service has them', async () => {
    const desired = await load({
      'v.yaml': 'apiVersion: berth/v1\nkind: Volume\nmetadata: { name: data, namespace: shop }\n',
      'n.yaml': 'apiVersion: berth/v1\nkind: Network\nmetadata: { name: back, namespace: shop }\n',
      'j.yaml': job('etl', `${IMAGE}  completions: 5\n  parallelism: 2\n  backoffLimit: 0\n  activeDeadline: 1h30m\n  ttlAfterFinished: 0s\n  user: "1000:1000"\n  workingDir: /work\n  resources: { cpu: 250m, memory: 64Mi }\n  volumes: [{ volume: data, mountPath: /data }]\n  networks: [back]\n  files: [{ content: "x=1\\n", target: /etc/etl.conf }]\n  placement: { strategy: binpack }\n`),
    });
    const [j] = desired.jobs!;
    expect(j!.spec).toMatchObject({
      completions: 5, parallelism: 2, backoffLimit: 0, activeDeadlineMs: 5_400_000, ttlAfterFinishedMs: 0,
      container: { user: '1000:1000', workingDir: '/work' }, resources: { cpu: 0.25, memory: 64 * 2 ** 20 },
      volumes: [{ volume: 'data', mountPath: '/data', readOnly: false }], networks: [{ name: 'back', aliases: [] }], placement: { strategy: 'binpack' },
    });
    expect(j!.network).toMatch(/^berth\.i\.shop\.back\.[0-9a-f]{8}$/);
    expect(j!.networks).toEqual([{ name: j!.network, aliases: ['etl'] }]);
    expect(j!.files?.map((f) => [f.target, f.entries.length])).toEqual([['/etc/etl.conf', 1]]);
  });

  it('runs once per spec hash: the same Job at a new revision keeps it; what shapes the containers, or completions, changes it', async () => {
    const hash = async (spec: string, revision = 'r1'): Promise<string> => (await load({ 'j.yaml': job('migrate', `${IMAGE}${spec}`) }, revision)).jobs![0]!.specHash;
    const base = await hash('  command: [migrate, up]\n');
    expect(await hash('  command: [migrate, up]\n', 'r2')).toBe(base);
    // how it is run, retried or cleaned up is not a new run
    expect(await hash('  command: [migrate, up]\n  parallelism: 1\n  backoffLimit: 2\n  activeDeadline: 10m\n  ttlAfterFinished: 1h\n')).toBe(base);
    expect(await hash('  command: [migrate, down]\n')).not.toBe(base);
    expect(await hash('  command: [migrate, up]\n  env: { A: b }\n')).not.toBe(base);
    expect(await hash('  command: [migrate, up]\n  completions: 2\n')).not.toBe(base);
    expect(await hash('  command: [migrate, up]\n  completions: 3\n  parallelism: 3\n')).toBe(await hash('  command: [migrate, up]\n  completions: 3\n'));
  });

  it('refuses the Service-only fields, saying why, and lists the allowed ones for an unknown field', async () => {
    expect(await issues({
      'j.yaml': job('migrate', `${IMAGE}  replicas: 2\n  restart: { policy: always }\n  autoscale: { max: 3, metrics: [{ cpu: 50% }] }\n  loadBalancer: {}\n  update: {}\n  health: { readiness: { tcp: { port: 80 } } }\n  ports: [{ port: 80, publish: { port: 8080 } }]\n  containerName: mig\n  dependsOn: [db]\n  backoffLimit: -1\n  completions: 0\n  parallelism: 0\n  colour: blue\n`),
    })).toEqual([
      "j.yaml:6:13: spec.replicas: a Job runs completions containers to completion, parallelism at a time: use completions and parallelism (replicas is a Service's)",
      "j.yaml:7:12: spec.restart: a Job's failed containers are retried up to backoffLimit times, with backoff: use backoffLimit (restart is a Service's)",
      "j.yaml:8:14: spec.autoscale: a Job runs a fixed number of completions and is not scaled: autoscale is a Service's",
      "j.yaml:9:17: spec.loadBalancer: a Job gets no traffic: berth's proxy balances only over ready Service replicas (loadBalancer is a Service's)",
      "j.yaml:10:11: spec.update: a Job is not rolled: a changed spec is a new run of it (update is a Service's rolling update)",
      "j.yaml:11:11: spec.health: a Job runs to completion and its exit code decides: readiness and liveness probes are a Service's",
      "j.yaml:12:10: spec.ports: a Job gets no traffic: berth publishes ports (ports[].publish, loadBalancer, Routes) only in front of ready Service replicas, and a container needs no port to connect out",
      "j.yaml:13:18: spec.containerName: a Job's retries and completions are several containers, which cannot share one name: containerName is a Service's",
      "j.yaml:14:14: spec.dependsOn: a Job does not wait for other resources; a Service can wait for a Job instead (its spec.dependsOn may name the Job)",
      "j.yaml:15:17: spec.backoffLimit: must be >= 0",
      "j.yaml:16:16: spec.completions: must be >= 1",
      "j.yaml:17:16: spec.parallelism: must be >= 1",
      "j.yaml:18:3: spec.colour: unknown field (allowed: image, pullPolicy, build, command, entrypoint, user, workingDir, readOnly, tmpfs, ulimits, sysctls, extraHosts, hostname, stdinOpen, tty, stopSignal, stopGracePeriod, securityOpt, env, resources, volumes, secrets, networks, files, anonymousVolumes, securityContext, placement, completions, parallelism, backoffLimit, activeDeadline, ttlAfterFinished)",
    ]);
  });

  it('gives a shared field\'s schema errors in the Service\'s words (one schema: the Job $refs service.schema.json)', () => {
    const spec = '  image: x:1\n  volumes: [{ volume: data, mountPth: /x }]\n  networks: [{ nme: x }]\n  stopGracePeriod: soon\n  resources: { memory: lots }\n';
    const of = (content: string): string[] => parseManifests([{ path: 'a.yaml', content }]).issues.map(formatIssue);
    const expected = [
      'a.yaml:6:13: spec.volumes[0].mountPath: is required',
      'a.yaml:6:29: spec.volumes[0].mountPth: unknown field (allowed: volume, mountPath, readOnly)',
      'a.yaml:7:14: spec.networks[0].name: is required',
      'a.yaml:7:16: spec.networks[0].nme: unknown field (allowed: name, aliases)',
      'a.yaml:8:20: spec.stopGracePeriod: must be a duration such as 500ms, 2s, 1m30s or 1h, or an integer number of seconds',
      'a.yaml:9:24: spec.resources.memory: must be a number of bytes or a quantity such as 64Mi, 1Gi, 512M, 1G, 100k',
    ];
    expect(of(job('a', spec))).toEqual(expected);
    expect(of(`apiVersion: berth/v1\nkind: Service\nmetadata: { name: a, namespace: shop }\nspec:\n${spec}`)).toEqual(expected);
  });

  it('checks parallelism, durations, references and name clashes at file:line:col, with the Service\'s words for the shared fields', async () => {
    expect(await issues({
      's.yaml': service('migrate'),
      'j.yaml': job('migrate', `${IMAGE}  completions: 2\n  parallelism: 3\n  activeDeadline: 0s\n  ttlAfterFinished: -1s\n  volumes: [{ volume: nope, mountPath: /data }, { volume: nope, mountPath: /data }]\n  secrets: [{ secret: gone }]\n  networks: [back]\n  resources: { memory: 1Mi }\n  env: { "A=B": x }\n`),
      'k.yaml': job('long', `${IMAGE}  activeDeadline: 169h\n  ttlAfterFinished: 721h\n`),
    })).toEqual([
      "j.yaml:3:19: metadata.name: Service shop/migrate has the same name (s.yaml:3): berth names and labels the containers of both after it, so they would be mistaken for each other; rename one",
      "j.yaml:7:16: spec.parallelism: parallelism 3 is more than completions 2: at most completions containers of a Job run at a time",
      "j.yaml:8:19: spec.activeDeadline: must be more than 0, got 0s",
      "j.yaml:9:21: spec.ttlAfterFinished: must not be negative, got -1s",
      "j.yaml:10:23: spec.volumes[0].volume: no Volume \"nope\" in namespace \"shop\"",
      "j.yaml:10:59: spec.volumes[1].volume: no Volume \"nope\" in namespace \"shop\"",
      "j.yaml:10:76: spec.volumes[1].mountPath: duplicate mountPath /data (also spec.volumes[0])",
      "j.yaml:11:23: spec.secrets[0].secret: no Secret \"gone\" in namespace \"shop\"",
      "j.yaml:12:14: spec.networks[0].name: no Network \"back\" in namespace \"shop\" (declare a kind: Network, or use \"default\", the namespace's own network)",
      "j.yaml:13:24: spec.resources.memory: must be at least 6Mi (Docker's minimum), got 1048576 bytes",
      "j.yaml:14:10: spec.env[\"A=B\"]: environment variable names cannot be empty or contain \"=\"",
      "k.yaml:6:19: spec.activeDeadline: must be at most 168h, got 169h",
      "k.yaml:7:21: spec.ttlAfterFinished: must be at most 720h, got 721h",
    ]);
  });

  it('needs exactly one of image and build, and checks a build context as a Service\'s', async () => {
    expect(await issues({
      'a.yaml': job('a', '  command: [x]\n'),
      'b.yaml': job('b', `${IMAGE}  build: { context: app }\n`),
      'c.yaml': job('c', '  build: { context: missing }\n'),
    })).toEqual([
      "a.yaml:5:3: spec: one of image or build is required",
      "b.yaml:6:3: spec.build: image and build are mutually exclusive: set exactly one",
      "b.yaml:6:21: spec.build.context: directory app does not exist at revision r1",
      "c.yaml:5:21: spec.build.context: directory missing does not exist at revision r1",
    ]);
    const desired = await load({ 'j.yaml': job('tool', '  build: { context: tool }\n'), 'tool/Dockerfile': 'FROM busybox\n' });
    expect(desired.jobs![0]!.image).toMatchObject({ type: 'build', context: 'tool', dockerfile: 'Dockerfile' });
  });
});

describe('kind CronJob', () => {
  it('takes the defaults; its jobTemplate is a Job\'s, resolved once for every run', async () => {
    const desired = await load({ 'c.yaml': cron('report', '  schedule: "0 3 * * 1-5"\n  jobTemplate:\n    spec:\n      image: berth-local/busybox:1\n      command: [report]\n') });
    expect(desired.cronJobs).toHaveLength(1);
    const [c] = desired.cronJobs!;
    expect(c).toMatchObject({
      key: 'shop/report',
      spec: { schedule: '0 3 * * 1-5', timeZone: 'UTC', concurrencyPolicy: 'Allow', suspend: false, successfulRunsHistory: 3, failedRunsHistory: 1, jobTemplate: { spec: { command: ['report'], completions: 1, parallelism: 1, backoffLimit: 6 } } },
      template: { image: { type: 'ref', ref: 'berth-local/busybox:1' }, network: 'berth.i.shop', env: {} },
    });
    expect(c!.spec.startingDeadlineMs).toBeUndefined();
    expect(c!.template.specHash).toMatch(/^[0-9a-f]{16}$/);
    expect(desired.jobs).toBeUndefined();
    const all = await load({ 'c.yaml': cron('report', '  schedule: "@daily"\n  timeZone: Europe/Berlin\n  concurrencyPolicy: Forbid\n  startingDeadline: 5m\n  suspend: true\n  successfulRunsHistory: 0\n  failedRunsHistory: 5\n  jobTemplate: { spec: { image: x:1 } }\n') });
    expect(all.cronJobs![0]!.spec).toMatchObject({ schedule: '@daily', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid', startingDeadlineMs: 300_000, suspend: true, successfulRunsHistory: 0, failedRunsHistory: 5 });
  });

  it('refuses an invalid schedule or time zone at that field, and reports the template at spec.jobTemplate.spec', async () => {
    expect(await issues({
      'a.yaml': cron('a', '  schedule: "61 * * * *"\n  timeZone: Mars/Base\n  startingDeadline: 25h\n  jobTemplate:\n    spec:\n      image: berth-local/busybox:1\n      parallelism: 2\n      secrets: [{ secret: nope }]\n      volumes: [{ volume: nope, mountPath: /data }]\n'),
      'b.yaml': cron('b', '  schedule: "* * *"\n  jobTemplate: { spec: { image: x:1 } }\n'),
      'c.yaml': cron('c', '  schedule: "0 0 31 2 *"\n  jobTemplate: { spec: { image: x:1 } }\n'),
    })).toEqual([
      "a.yaml:5:13: spec.schedule: invalid schedule: minute field \"61\": must be 0-59",
      "a.yaml:6:13: spec.timeZone: unknown time zone \"Mars/Base\": must be an IANA name like \"Europe/Berlin\" or \"UTC\"",
      "a.yaml:7:21: spec.startingDeadline: must be at most 24h, got 25h",
      "a.yaml:11:20: spec.jobTemplate.spec.parallelism: parallelism 2 is more than completions 1: at most completions containers of a Job run at a time",
      "a.yaml:12:27: spec.jobTemplate.spec.secrets[0].secret: no Secret \"nope\" in namespace \"shop\"",
      "a.yaml:13:27: spec.jobTemplate.spec.volumes[0].volume: no Volume \"nope\" in namespace \"shop\"",
      "b.yaml:5:13: spec.schedule: invalid schedule: expected 5 fields (minute hour day-of-month month day-of-week) or a macro like @daily, got 3: \"* * *\"",
      "c.yaml:5:13: spec.schedule: invalid schedule: day-of-month field \"31\" never matches in month field \"2\": no selected month has that day",
    ]);
  });

  it('locates a template field that overflows after the schema accepted it at the CronJob\'s field', () => {
    const content = cron('r', '  schedule: "@daily"\n  jobTemplate:\n    spec:\n      image: x:1\n      activeDeadline: 99999999999999999h\n');
    expect(parseManifests([{ path: 'c.yaml', content }]).issues.map(formatIssue)).toEqual([
      'c.yaml:9:23: spec.jobTemplate.spec.activeDeadline: invalid duration quantity "99999999999999999h"',
    ]);
  });

  it('refuses Service-only and unknown fields of the template and of the CronJob, and a template without image or build', async () => {
    expect(await issues({
      'a.yaml': cron('a', '  schedule: "@hourly"\n  concurrencyPolicy: Sometimes\n  history: 3\n  jobTemplate:\n    spec:\n      image: x:1\n      replicas: 2\n      restart: { policy: never }\n'),
      'b.yaml': cron('b', '  schedule: "@hourly"\n  jobTemplate:\n    spec:\n      command: [x]\n'),
      'c.yaml': cron('c', '  jobTemplate: {}\n'),
      's.yaml': service('b'),
    })).toEqual([
      "a.yaml:6:22: spec.concurrencyPolicy: must be one of: Allow, Forbid, Replace",
      "a.yaml:7:3: spec.history: unknown field (allowed: schedule, timeZone, concurrencyPolicy, startingDeadline, suspend, successfulRunsHistory, failedRunsHistory, jobTemplate)",
      "a.yaml:11:17: spec.jobTemplate.spec.replicas: a Job runs completions containers to completion, parallelism at a time: use completions and parallelism (replicas is a Service's)",
      "a.yaml:12:16: spec.jobTemplate.spec.restart: a Job's failed containers are retried up to backoffLimit times, with backoff: use backoffLimit (restart is a Service's)",
      "b.yaml:3:19: metadata.name: Service shop/b has the same name (s.yaml:3): berth names and labels the containers of both after it, so they would be mistaken for each other; rename one",
      "b.yaml:8:7: spec.jobTemplate.spec: one of image or build is required",
      "c.yaml:5:3: spec.schedule: is required",
      "c.yaml:5:16: spec.jobTemplate.spec: is required",
    ]);
  });
});

describe('Jobs and CronJobs with the repository', () => {
  it('checks a CronJob template\'s build and files at its own fields, and builds it as a Job\'s', async () => {
    expect(await issues({
      'c.yaml': cron('nightly', '  schedule: "@daily"\n  jobTemplate:\n    spec:\n      build: { context: nope }\n      files: [{ source: missing.conf, target: /etc/x.conf }]\n'),
      'j.yaml': job('once', '  build: { context: tool, dockerfile: Nope }\n'),
      'tool/Dockerfile': 'FROM busybox\n',
    })).toEqual([
      'c.yaml:8:25: spec.jobTemplate.spec.build.context: directory nope does not exist at revision r1',
      'c.yaml:9:25: spec.jobTemplate.spec.files[0].source: missing.conf does not exist at revision r1',
      'j.yaml:5:39: spec.build.dockerfile: tool/Nope not found in the build context',
    ]);
    const desired = await load({ 'c.yaml': cron('nightly', '  schedule: "@daily"\n  jobTemplate:\n    spec:\n      build: { context: tool }\n      files: [{ source: tool/Dockerfile, target: /Dockerfile }]\n'), 'tool/Dockerfile': 'FROM busybox\n' });
    expect(desired.cronJobs![0]!.template.image).toMatchObject({ type: 'build', context: 'tool' });
    expect(desired.cronJobs![0]!.template.files?.map((f) => f.target)).toEqual(['/Dockerfile']);
  });

  it('comes back from the validation worker as from an in-process load', async () => {
    const files = { 'j.yaml': job('migrate', IMAGE), 'c.yaml': cron('report', '  schedule: "@daily"\n  jobTemplate: { spec: { image: x:1 } }\n'), 's.yaml': service('web') };
    const inProcess = await load(files);
    const worker = await loadDesired(memorySnapshot(files, 'r1'), { instance: 'i', path: '', isolation: 'worker' });
    expect([worker.jobs, worker.cronJobs]).toEqual([inProcess.jobs, inProcess.cronJobs]);
    expect(worker.jobs).toHaveLength(1);
    const none = await loadDesired(memorySnapshot({ 's.yaml': service('web') }, 'r1'), { instance: 'i', path: '', isolation: 'worker' });
    expect(['jobs', 'cronJobs'].filter((k) => k in none)).toEqual([]);
  });

  it('refuses a CronJob named like a Job of its namespace; the same name in another namespace is fine', async () => {
    expect(await issues({
      'j.yaml': job('report', IMAGE),
      'c.yaml': cron('report', '  schedule: "@daily"\n  jobTemplate: { spec: { image: x:1 } }\n'),
    })).toEqual([
      'c.yaml:3:19: metadata.name: Job shop/report has the same name (j.yaml:3): berth names and labels the containers of both after it, so they would be mistaken for each other; rename one',
    ]);
    await expect(load({ 'j.yaml': job('report', IMAGE, 'other'), 'c.yaml': cron('report', '  schedule: "@daily"\n  jobTemplate: { spec: { image: x:1 } }\n') })).resolves.toBeDefined();
  });
});

describe('spec.dependsOn naming a Job', () => {
  it('accepts a Job of the namespace (no discovery variables, the same spec hash as without it)', async () => {
    const without = await load({ 's.yaml': service('web'), 'j.yaml': job('migrate', IMAGE) });
    const desired = await load({ 's.yaml': service('web', '  dependsOn: [migrate]\n'), 'j.yaml': job('migrate', IMAGE) });
    const web = desired.services.find((s) => s.name === 'web')!;
    expect(web.spec.dependsOn).toEqual(['migrate']);
    expect(web.env).toEqual({});
    expect(web.specHash).toBe(without.services[0]!.specHash);
  });

  it('reports a missing Service or Job, a Job of another namespace, and condition healthy on a Job', async () => {
    expect(await issues({
      's.yaml': service('web', '  dependsOn: [migrate, nope, other, { service: seed, condition: healthy }]\n'),
      'j.yaml': `${job('migrate', IMAGE)}---\n${job('seed', IMAGE)}---\n${job('other', IMAGE, 'elsewhere')}`,
    })).toEqual([
      "s.yaml:6:24: spec.dependsOn[1]: no Service or Job \"nope\" in namespace \"shop\"",
      "s.yaml:6:30: spec.dependsOn[2]: no Service or Job \"other\" in namespace \"shop\"",
      "s.yaml:6:65: spec.dependsOn[3].condition: Job \"seed\" has no replicas to become ready: a Service waits for the Jobs it names to succeed, so drop condition healthy",
    ]);
  });
});
