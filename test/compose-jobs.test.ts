/**
 * compose `depends_on: service_completed_successfully` on the real engine: the depended-on service is a berth Job that
 * writes into a named volume and exits 0, and the dependent starts only after it succeeded and reads what it wrote; a
 * migration exiting 1 keeps its dependent from starting, with the reason in the status. Images built from the
 * repository for a Job (kind Job `build:`, compose `build:` on a run-to-completion service) are built through the
 * Services' build path (BuildKit, the same tag and labels) and the Job runs them to success; a failing build is
 * reported as a Service's, and the Job's run is not started.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { cleanupInstance, demuxLogs, TEST_IMAGE, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { JobStatus } from '../operator/jobs/plan.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const instance = uniqueInstance('cjobs');
let remote: Remote;
let op: TestOperator;

/** A stack whose migrate runs `migrate` (a shell command) with the volume at /data, and whose web prints /data/schema. */
const stack = (migrate: string) => `services:
  migrate:
    ${migrate}
    volumes: [data:/data]
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "echo web-saw-$$(cat /data/schema); exec sleep 3600"]
    volumes: [data:/data]
    depends_on:
      migrate: { condition: service_completed_successfully }
volumes:
  data:
`;
const shell = (cmd: string) => `image: ${TEST_IMAGE}\n    command: ["sh", "-c", "${cmd}"]`;
// The instance in the Dockerfiles makes their content (and so the image tags berth.local/<ns>/<name>:<hash>) this run's own.
const dockerfile = (line: string) => `FROM ${TEST_IMAGE}\nRUN echo ${instance} > /built-for\n${line}\n`;

const files = {
  'good/compose.yaml': stack(shell('sleep 1; echo v1 > /data/schema')),
  'bad/compose.yaml': stack(shell('echo half > /data/schema; exit 1')),
  'built/compose.yaml': stack('build: ./migrate\n    command: ["sh", "-c", "cp /schema /data/schema"]'),
  'built/migrate/Dockerfile': dockerfile('RUN echo from-build > /schema'),
  'jobs/tool.yaml': 'apiVersion: berth/v1\nkind: Job\nmetadata: { name: tool, namespace: jobs }\nspec:\n  build: { context: jobs/tool }\n  command: [sh, -c, "cat /built-for /tool"]\n  backoffLimit: 0\n',
  'jobs/tool/Dockerfile': dockerfile('RUN echo tool-ran > /tool'),
};

beforeAll(async () => {
  remote = await makeRemote(files);
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

const jobOf = (p: PassResult, key: string): JobStatus | undefined => (p.status as { jobs?: Record<string, JobStatus> }).jobs?.[key];

async function pass(pred: (p: PassResult) => boolean, what: string, timeoutMs = 60_000): Promise<PassResult> {
  const timer = setInterval(() => op.trigger('test'), 500);
  try {
    return await op.waitPass(pred, what, timeoutMs);
  } finally {
    clearInterval(timer);
  }
}

async function jobContainers(namespace: string, name: string): Promise<Docker.ContainerInspectInfo[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.kind=Job', `berth.namespace=${namespace}`, `berth.job=${name}`] } });
  return Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
}

async function output(id: string): Promise<string> {
  return demuxLogs((await docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer).stdout;
}

/** web of `namespace` running, its start after the migration's end, and what it printed. */
async function webAfterMigrate(namespace: string): Promise<string> {
  const up = await pass((p) => p.status.services[`${namespace}/web`]?.running === 1, `${namespace}/web running`);
  expect(jobOf(up, `${namespace}/migrate`)).toMatchObject({ phase: 'Succeeded', ready: 1, desired: 1 });
  const [migrate, more] = await jobContainers(namespace, 'migrate');
  expect(more).toBeUndefined();
  expect(migrate!.State.ExitCode).toBe(0);
  const [web] = await runningOf(docker, instance, 'web').then((cs) => cs.filter((c) => c.Labels['berth.namespace'] === namespace));
  const started = (await docker.getContainer(web!.Id).inspect()).State.StartedAt;
  expect(Date.parse(started)).toBeGreaterThanOrEqual(Date.parse(migrate!.State.FinishedAt));
  // Running is not printed yet: wait for its first line.
  return waitFor(async () => (await output(web!.Id)) || undefined, { what: `${namespace}/web's first line`, timeoutMs: 15_000 });
}

describe('compose service_completed_successfully and Job builds', () => {
  it('runs migrate as a Job to success, then starts web, which reads what migrate wrote into the volume', async () => {
    expect(await webAfterMigrate('good')).toContain('web-saw-v1');
  }, 150_000);

  it('a migrate exiting 1 fails the Job (run once: restart no) and web is never started, with why in its status', async () => {
    const blocked = await pass((p) => jobOf(p, 'bad/migrate')?.phase === 'Failed' && /^waiting for jobs: job bad\/migrate failed \(BackoffLimitExceeded\)/.test(p.status.services['bad/web']?.message ?? ''), 'bad/web held by the failed migration');
    expect(jobOf(blocked, 'bad/migrate')).toMatchObject({ phase: 'Failed', reason: 'BackoffLimitExceeded', failed: 1 });
    expect(blocked.status.services['bad/web']).toMatchObject({ running: 0 });
    const attempts = await jobContainers('bad', 'migrate');
    expect(attempts.map((c) => c.State.ExitCode)).toEqual([1]);
    const web = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.namespace=bad', 'berth.service=web'] } });
    expect(web).toEqual([]);
  }, 150_000);

  it('builds a kind Job image from its context in the repository, labelled as a Service build, and the Job succeeds', async () => {
    const done = await pass((p) => jobOf(p, 'jobs/tool')?.phase === 'Succeeded', 'jobs/tool succeeded');
    expect(jobOf(done, 'jobs/tool')).toMatchObject({ ready: 1, failed: 0 });
    const [c] = await jobContainers('jobs', 'tool');
    expect(c!.Config.Image).toMatch(/^berth\.local\/jobs\/tool:[0-9a-f]{16}$/);
    expect((await output(c!.Id)).split('\n')).toEqual([instance, 'tool-ran', '']);
    const image = await docker.getImage(c!.Config.Image).inspect();
    expect(image.Config.Labels).toMatchObject({ 'berth.managed': 'true', 'berth.instance': instance, 'berth.kind': 'Service', 'berth.namespace': 'jobs', 'berth.service': 'tool' });
  }, 150_000);

  it('builds the image of a compose run-to-completion service, and its dependent starts after it', async () => {
    expect(await webAfterMigrate('built')).toContain('web-saw-from-build');
    const [migrate] = await jobContainers('built', 'migrate');
    expect(migrate!.Config.Image).toMatch(/^berth\.local\/built\/migrate:[0-9a-f]{16}$/);
  }, 150_000);

  it("a Job whose build fails is reported as a Service's build is (step and output), and none of its containers is created", async () => {
    const sha = await remote.commit({
      'jobs/broken.yaml': 'apiVersion: berth/v1\nkind: Job\nmetadata: { name: broken, namespace: jobs }\nspec:\n  build: { context: jobs/broken }\n',
      'jobs/broken/Dockerfile': dockerfile('RUN echo berth-job-build-marker && exit 3'),
    }, 'a Job whose build fails');
    const failed = await pass((p) => p.revision === sha && JSON.stringify(p.status.lastError ?? '').includes('exit code: 3'), 'the build failure in the status');
    expect(failed.status.lastError).toMatchObject({ code: 'E_BUILD' });
    expect(JSON.stringify(failed.status.lastError)).toContain('berth-job-build-marker');
    expect(jobOf(failed, 'jobs/broken')).toMatchObject({ phase: 'Pending', ready: 0 });
    expect(await jobContainers('jobs', 'broken')).toEqual([]);
  }, 150_000);
});
