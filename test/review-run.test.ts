/**
 * Plain-git review branches through `berth run --review-branches 'review/*'`: the plan of each matching
 * branch head lands on the status branch as <instance>/plans/<branch>.md and .json, follows the branch when it moves
 * and goes away when the branch is deleted. The tracked branch is never touched by any of it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, writeFiles, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { runningOf, service, signedWebhook, startTestOperator, type TestOperator } from './helpers/operator.ts';

const HOOK_SECRET = 'review-run-hook-secret';
let hooks = 0;

const run = promisify(execFile);
const docker = testDocker();
const instance = uniqueInstance('reviewrun');
let remote: Remote;
let op: TestOperator;

/** A file of the status branch of the served repository, or null. */
async function statusFile(path: string): Promise<string | null> {
  return run('git', ['--git-dir', remote.bareDir, 'show', `berth/status:${instance}/${path}`]).then((r) => r.stdout, () => null);
}

/** Commits `files` on a new or existing local branch and pushes it; returns the commit id. */
async function pushBranch(branch: string, files: Record<string, string>): Promise<string> {
  await remote.git(['checkout', '--quiet', '-B', branch, 'main']);
  await writeFiles(remote.workDir, files);
  await remote.git(['add', '-A']);
  await remote.git(['commit', '--quiet', '-m', `${branch} change`]);
  await remote.git(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`]);
  const sha = await remote.git(['rev-parse', 'HEAD']);
  await remote.git(['checkout', '--quiet', 'main']);
  return sha;
}

beforeAll(async () => {
  remote = await makeRemote({ 'web.yaml': service('web', { replicas: 1 }) });
  op = await startTestOperator(remote.url, instance, { 'review-branches': ['review/*'], 'webhook-secret': HOOK_SECRET });
  await op.reached((r) => r.converged, 'main applied', 60_000);
}, 90_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
}, 60_000);

describe('review branches on plain git', () => {
  it('commits the plan of each review branch to the status branch, follows it, and removes it with the branch', async () => {
    const a = await pushBranch('review/scale', { 'web.yaml': service('web', { replicas: 3 }) });
    const b = await pushBranch('review/broken', { 'web.yaml': service('web', { replicas: 1 }).replace('replicas: 1', 'replicas: many') });
    await pushBranch('feature/other', { 'web.yaml': service('web', { replicas: 5 }) });
    const push = () => signedWebhook(op.url, HOOK_SECRET, 'push', JSON.stringify({ delivery: ++hooks }));
    await push(); // the git server's push webhook (berth also polls on --interval)
    const md = await waitFor(() => statusFile('plans/review/scale.md'), { what: 'plan of review/scale', timeoutMs: 30_000 });
    expect(md).toContain(`revision \`${a.slice(0, 7)}\``);
    expect(md).toContain('**2 to create**');
    const json = JSON.parse((await statusFile('plans/review/scale.json'))!) as { revision: string; ok: boolean; plan: { summary: { create: number } } };
    expect(json).toMatchObject({ revision: a, ok: true, plan: { summary: { create: 2 } } });
    const broken = await waitFor(() => statusFile('plans/review/broken.md'), { what: 'plan of review/broken' });
    expect(broken).toContain(b.slice(0, 7));
    expect(broken).toMatch(/`web\.yaml:\d+:\d+`/);
    expect(await statusFile('plans/feature/other.md')).toBeNull();
    expect((await runningOf(docker, instance, 'web')).length).toBe(1); // planning applies nothing

    const a2 = await pushBranch('review/scale', { 'web.yaml': service('web', { replicas: 2 }) });
    await remote.git(['push', '--quiet', 'origin', ':refs/heads/review/broken']);
    await push();
    await waitFor(async () => (await statusFile('plans/review/scale.md'))?.includes(a2.slice(0, 7)) && (await statusFile('plans/review/broken.md')) === null, { what: 'moved and removed', timeoutMs: 30_000 });
    expect(await statusFile('plans/review/broken.json')).toBeNull();
    expect(await statusFile('plans/review/scale.md')).toContain('**1 to create**');
    expect((await runningOf(docker, instance, 'web')).length).toBe(1);
  }, 90_000);
});
