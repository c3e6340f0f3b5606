/**
 * spec.containerName (compose container_name), stdinOpen and tty on the real engine: the replica's container has
 * exactly that name, is replaced under it when its spec changes, and a name another container already has is
 * refused at create without that container being touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, service, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('cname');
const name = `${instance}-shell`;
const taken = `${instance}-taken`;
let remote: Remote;
let op: TestOperator;
let foreignId = '';

// `sh` with no stdin exits at once; with stdinOpen and tty it waits on its terminal, so a running replica shows both.
const shell = (env: string) => service('shell', { command: ['sh'], env: { V: env }, extra: `  containerName: ${name}\n  stdinOpen: true\n  tty: true\n` });

beforeAll(async () => {
  // A container berth does not manage, holding the name the second service asks for.
  const foreign = await docker.createContainer({ name: taken, Image: 'berth-local/busybox:1', Cmd: ['sleep', '3600'], Labels: { 'berth.test.owner': instance } });
  await foreign.start();
  foreignId = foreign.id;
  remote = await makeRemote({ 'shell.yaml': shell('1') });
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await docker.getContainer(foreignId).remove({ force: true }).catch(() => undefined);
  await cleanupInstance(docker, instance);
});

async function converged(what: string): Promise<void> {
  const timer = setInterval(() => op.trigger('test'), 300);
  try {
    await op.waitPass((p) => p.status.services['test/shell']?.ready === 1 && p.pending?.actions.length === 0, what, 60_000);
  } finally {
    clearInterval(timer);
  }
}

describe('spec.containerName, stdinOpen, tty', () => {
  it('names the replica as asked, with stdin open and a tty, and replaces it under the same name', async () => {
    await converged('shell running');
    const info = await docker.getContainer(name).inspect();
    expect(info.State.Running).toBe(true);
    expect([info.Config.Tty, info.Config.OpenStdin]).toEqual([true, true]);
    expect(info.Config.Labels['berth.instance']).toBe(instance);
    const [listed] = await runningOf(docker, instance, 'shell');
    expect(listed!.Names).toEqual([`/${name}`]);

    await remote.commit({ 'shell.yaml': shell('2') }, 'change env');
    const replaced = await waitFor(async () => {
      op.trigger('test');
      const c = await docker.getContainer(name).inspect().catch(() => undefined);
      return c && c.Id !== info.Id && c.State.Running && c.Config.Env.includes('V=2') ? c : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300, what: 'the replica replaced under its name' });
    expect(replaced.Name).toBe(`/${name}`);
    await converged('one replica after the replacement');
    expect(await runningOf(docker, instance, 'shell')).toHaveLength(1);
  }, 150_000);

  it("refuses a name another container has, and leaves that container alone", async () => {
    await remote.commit({ 'other.yaml': service('other', { extra: `  containerName: ${taken}\n` }) }, 'name taken');
    const failed = await waitFor(async () => {
      op.trigger('test');
      const p = op.passes.at(-1);
      return p?.applied?.errors.find((e) => e.message.includes(`the name is taken by container ${foreignId.slice(0, 12)}`));
    }, { timeoutMs: 60_000, intervalMs: 300, what: 'the create refused' });
    expect(failed.code).toBe('E_DOCKER');
    const foreign = await docker.getContainer(taken).inspect();
    expect([foreign.Id, foreign.State.Running, foreign.Config.Labels['berth.instance']]).toEqual([foreignId, true, undefined]);
    // The first service is untouched.
    expect((await docker.getContainer(name).inspect()).State.Running).toBe(true);
  }, 90_000);
});
