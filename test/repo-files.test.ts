/**
 * Files of the repository inside replicas, on the real engine: a compose stack whose service (busybox httpd) mounts
 * `./conf/site.conf:/etc/site.conf:ro`, the directory `./www:/www`, a top-level config and an anonymous volume. The
 * replica serves git's content; a change of the file in git, pushed, rolls the replica and it serves the new content;
 * the anonymous volume is the replica's own and goes with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, execIn, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('repofiles');
let remote: Remote;
let op: TestOperator;

const COMPOSE = `services:
  web:
    image: berth-local/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    volumes:
      - ./conf/site.conf:/etc/site.conf:ro
      - ./www:/www
      - /data
    configs:
      - source: motd
        target: /etc/motd
        mode: 0440
configs:
  motd:
    file: ./conf/motd.txt
`;

const exec = (id: string, cmd: string[]): Promise<string> => execIn(docker, id, cmd);
const get = (id: string, path: string): Promise<string> => exec(id, ['wget', '-q', '-O', '-', `http://127.0.0.1:8080${path}`]);

/** A pass after now, asked for with a trigger, that matches `pred`. */
async function pass(what: string, pred: Parameters<TestOperator['waitPass']>[0]) {
  return waitFor(async () => {
    const next = op.waitPass(() => true, what);
    op.trigger(`test: ${what}`);
    const p = await next;
    return pred(p) ? p : undefined;
  }, { what, intervalMs: 200, timeoutMs: 90_000 });
}

beforeAll(async () => {
  remote = await makeRemote({
    'rf/compose.yaml': COMPOSE,
    'rf/conf/site.conf': 'listen 8080 v1\n',
    'rf/conf/motd.txt': 'welcome v1\n',
    'rf/www/index.html': '<h1>v1</h1>\n',
    'rf/www/css/site.css': 'body { color: red }\n',
  });
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

describe('files of the repository in replicas', () => {
  let first: string;
  let anonymous: string;

  it('copies the file, the directory and the config from git into the replica before it starts', async () => {
    const p = await op.waitPass((r) => r.converged || r.error !== null, 'converged', 90_000);
    expect(p.error?.message ?? null).toBeNull();
    const [c] = await runningOf(docker, instance, 'web');
    expect(c).toBeDefined();
    first = c!.Id;
    expect(await exec(first, ['cat', '/etc/site.conf'])).toBe('listen 8080 v1\n');
    expect(await get(first, '/index.html')).toBe('<h1>v1</h1>\n');
    expect(await get(first, '/css/site.css')).toBe('body { color: red }\n');
    expect(await exec(first, ['cat', '/etc/motd'])).toBe('welcome v1\n');
    expect((await exec(first, ['stat', '-c', '%a %u', '/etc/motd', '/etc/site.conf', '/www/index.html'])).trim().split('\n')).toEqual(['440 0', '644 0', '644 0']);
    // /etc itself is as the image has it (no directory entry of ours reset it)
    expect((await exec(first, ['stat', '-c', '%a', '/etc'])).trim()).toBe('755');
    // a copy: writing it changes the container only
    await exec(first, ['sh', '-c', 'echo local > /www/index.html']);
    expect(await get(first, '/index.html')).toBe('local\n');
    const info = await docker.getContainer(first).inspect();
    const mount = (info.Mounts ?? []).find((m) => m.Destination === '/data');
    expect(mount?.Type).toBe('volume');
    anonymous = mount!.Name!;
    expect(anonymous).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('a change of a file in git rolls the replica, which serves the new content; its anonymous volume goes with the old one', async () => {
    const revision = await remote.commit({ 'rf/www/index.html': '<h1>v2</h1>\n' }, 'new page');
    await pass('the new revision converged', (r) => r.converged && r.error === null && r.desired?.revision === revision);
    const c = await waitFor(async () => {
      const [now] = await runningOf(docker, instance, 'web');
      return now && now.Id !== first ? now : undefined;
    }, { what: 'a new replica', timeoutMs: 60_000 });
    expect(await waitFor(async () => ((await get(c.Id, '/index.html').catch(() => '')) === '<h1>v2</h1>\n' ? 'v2' : undefined), { what: 'the new page served' })).toBe('v2');
    expect(await exec(c.Id, ['cat', '/etc/site.conf'])).toBe('listen 8080 v1\n');
    await waitFor(async () => !(await docker.getContainer(first).inspect().then(() => true, () => false)), { what: 'the old replica removed', timeoutMs: 30_000 });
    expect(await docker.getVolume(anonymous).inspect().then(() => 'present', () => 'removed')).toBe('removed');
  }, 150_000);
});
