/**
 * Release review figures: a repository of 200 services on a real git smart-HTTP server, berth run with a
 * local GitHub API (replayed responses, as in the tests). Measures pull request opened (webhook) -> plan comment
 * posted, pushes to the pull request (webhook) -> comment updated, and the GitHub API calls per pull request update
 * (plan changed / unchanged). Run: npx tsx bench/review.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { flagsWith } from '../operator/settings/flags.ts';
import { startOperator } from '../operator/commands/operator.ts';
import { startGitHubFixtures, type FixtureExchange } from '../test/doubles/github-fixtures.ts';
import { silentLogger } from '../operator/util/log.ts';
import { makeRemote, writeFiles } from '../test/helpers/git.ts';
import { cleanupInstance, testDocker } from '../test/helpers/docker.ts';
import { median, until } from './lib.ts';

const SERVICES = 200;
const UPDATES = 5;
const REPO = 'bench-org/manifests';
const API = `/repos/${REPO}`;
const TOKEN = 'ghs_benchToken000000000000000000';

function manifests(version: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < SERVICES; i++) {
    files[`svc/s${i}.yaml`] = `apiVersion: berth/v1
kind: Service
metadata: { name: s${i}, namespace: bench }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  replicas: 0
  env: { VERSION: "${i === 0 ? version : 0}" }
  ports: [{ port: 8080 }]
`;
  }
  return files;
}

const ok = (body: unknown, status = 200): FixtureExchange['response'] => ({ status, headers: { 'content-type': 'application/json; charset=utf-8' }, body });
const pull = (sha: string) => ({ number: 1, state: 'open', title: 'bench', merged_at: null, merge_commit_sha: null, head: { ref: 'feature', sha, repo: { full_name: REPO } }, base: { ref: 'main', sha: 'x', repo: { full_name: REPO } } });
const comment = (id: number) => ({ id, html_url: `https://github.com/${REPO}/pull/1#issuecomment-${id}`, body: '', user: { login: 'berth[bot]', type: 'Bot' } });
const listPulls = (...pulls: unknown[]): FixtureExchange => ({ request: { method: 'GET', path: `${API}/pulls?state=open&base=main&per_page=100` }, response: ok(pulls) });
const status = (sha: string): FixtureExchange => ({ request: { method: 'POST', path: `${API}/statuses/${sha}` }, response: ok({ id: 1, state: 'success' }, 201) });

async function main(): Promise<void> {
  const docker = testDocker();
  const instance = `bench-review-${process.pid}`;
  const remote = await makeRemote(manifests(0));
  const main0 = await remote.git(['rev-parse', 'HEAD']);
  const heads: string[] = [];
  await remote.git(['checkout', '--quiet', '-b', 'feature']);
  for (let v = 1; v <= UPDATES + 1; v++) {
    await writeFiles(remote.workDir, manifests(v));
    await remote.git(['commit', '--quiet', '-am', `v${v}`]);
    heads.push(await remote.git(['rev-parse', 'HEAD']));
  }

  const exchanges: FixtureExchange[] = [
    status(main0), status(main0), { request: { method: 'GET', path: `${API}/commits/${main0}/pulls` }, response: ok([]) },
    listPulls(),
    // opened
    listPulls(pull(heads[0]!)),
    { request: { method: 'GET', path: `${API}/issues/1/comments?per_page=100` }, response: ok([]) },
    { request: { method: 'POST', path: `${API}/issues/1/comments` }, response: ok(comment(1), 201) },
    status(heads[0]!),
  ];
  for (let u = 1; u <= UPDATES; u++) {
    exchanges.push(listPulls(pull(heads[u]!)), { request: { method: 'PATCH', path: `${API}/issues/comments/1` }, response: ok(comment(1)) }, status(heads[u]!));
    exchanges.push(listPulls(pull(heads[u]!)));
  }
  const gh = await startGitHubFixtures(exchanges, { token: TOKEN });
  process.env.BERTH_BENCH_GITHUB_TOKEN = TOKEN;
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-review-'));
  const op = await startOperator(flagsWith('run', {
    repo: remote.url, instance, interval: '1h', listen: '127.0.0.1:0', 'state-dir': stateDir,
    'github-repo': REPO, 'github-api-url': gh.url, 'github-token-env': 'BERTH_BENCH_GITHUB_TOKEN',
  }), silentLogger);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const hook = () => fetch(`${op.url}/hooks/git`, { method: 'POST', headers: { 'x-github-event': 'pull_request' }, body: '{}' });
  /** Waits for request number `n` (1-based) and returns its arrival time. */
  const arrival = async (n: number) => (await until(async () => gh.requests[n - 1], `GitHub request #${n}`, 60_000, 5)).at;
  try {
    await until(async () => gh.requests.length >= 4 || undefined, 'first pass and review round', 120_000);
    await op.reviewIdle();
    await pause(3_500); // Octokit's throttling spaces writes (1 s) and comment creations (3 s) like GitHub asks
    await remote.git(['push', '--quiet', 'origin', `${heads[0]}:refs/pull/1/head`]);
    let t0 = performance.now();
    await hook();
    const opened = (await arrival(7)) - t0;
    await arrival(8);
    await op.reviewIdle();
    const updates: number[] = [];
    const changedCalls: number[] = [];
    const unchangedCalls: number[] = [];
    let n = 8;
    for (let u = 1; u <= UPDATES; u++) {
      await pause(1_500);
      await remote.git(['push', '--quiet', '--force', 'origin', `${heads[u]}:refs/pull/1/head`]);
      const before = gh.requests.length;
      t0 = performance.now();
      await hook();
      updates.push((await arrival(n + 2)) - t0);
      await arrival(n + 3);
      await op.reviewIdle();
      changedCalls.push(gh.requests.length - before);
      const again = gh.requests.length;
      await hook();
      await arrival(n + 4);
      await op.reviewIdle();
      unchangedCalls.push(gh.requests.length - again);
      n += 4;
    }
    gh.done();
    console.log(`review bench: ${SERVICES} services, berth run with a local GitHub API and a real git server, ${os.cpus().length} CPUs`);
    console.log(`pull request opened (webhook) -> plan comment posted: ${opened.toFixed(0)} ms (goal < 2000 ms)`);
    console.log(`push to the pull request (webhook) -> comment updated: median ${median(updates).toFixed(0)} ms (${updates.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`GitHub API calls per pull request update: plan changed ${Math.max(...changedCalls)} (goal <= 3), unchanged ${Math.max(...unchangedCalls)} (goal <= 1)`);
  } finally {
    await op.stop();
    await gh.close();
    await remote.close();
    await rm(stateDir, { recursive: true, force: true });
    await cleanupInstance(docker, instance);
  }
}

await main();
