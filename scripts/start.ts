/**
 * `npm start`: berth on the bundled examples. Serves examples-repo/ as a git repository over smart HTTP
 * (a bare copy in .berth/git, kept across runs so your pushes persist), runs berth on it, converges, and
 * tells you how to push a change. A push wakes berth through its webhook.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { flagsWith } from '../operator/settings/flags.ts';
import { startOperator } from '../operator/commands/operator.ts';
import { createLogger } from '../operator/util/log.ts';
import { renderStatusText } from '../operator/status/render.ts';
import { initBareRepo, startGitServer } from './git-http-server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const STATE = path.join(ROOT, '.berth');
const GIT_ROOT = path.join(STATE, 'git');
/** berth's --state-dir: clones, the API tokens file, the local CLI token and the audit trail. */
const STATE_DIR = path.join(STATE, 'state');
const REPO = 'examples.git';
const GIT_PORT = Number(process.env.BERTH_EXAMPLES_GIT_PORT ?? 7071);
const LISTEN = process.env.BERTH_LISTEN ?? '127.0.0.1:7070';
const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'berth examples', GIT_AUTHOR_EMAIL: 'examples@berth.local', GIT_COMMITTER_NAME: 'berth examples', GIT_COMMITTER_EMAIL: 'examples@berth.local' };

/** Creates .berth/git/examples.git from examples-repo/ the first time. */
async function seedRepository(): Promise<boolean> {
  const bare = path.join(GIT_ROOT, REPO);
  if (await fs.stat(path.join(bare, 'HEAD')).then(() => true, () => false)) return false;
  await fs.mkdir(GIT_ROOT, { recursive: true });
  await initBareRepo(GIT_ROOT, REPO, 'main');
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-examples-'));
  await fs.cp(path.join(ROOT, 'examples-repo'), work, { recursive: true });
  const git = (...args: string[]) => run('git', args, { cwd: work, env: GIT_ENV });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'berth examples');
  await git('push', '-q', bare, 'main');
  await fs.rm(work, { recursive: true, force: true });
  return true;
}

async function main(): Promise<void> {
  const seeded = await seedRepository();
  const log = createLogger({ level: (process.env.BERTH_LOG_LEVEL as 'info') ?? 'info' });
  let operatorUrl = '';
  // The local git server signs its push webhooks like a forge would (an unsigned one only asks for a rate-limited fetch).
  const hookSecret = randomBytes(24).toString('base64url');
  const git = await startGitServer({
    root: GIT_ROOT, port: GIT_PORT,
    onPush: () => {
      if (!operatorUrl) return;
      const body = JSON.stringify({ ref: 'refs/heads/main', at: Date.now() });
      const signature = `sha256=${createHmac('sha256', hookSecret).update(body).digest('hex')}`;
      fetch(`${operatorUrl}/hooks/git`, { method: 'POST', body, headers: { 'x-github-event': 'push', 'x-hub-signature-256': signature } }).catch(() => undefined);
    },
  });
  const repoUrl = `${git.url}/${REPO}`;
  let announced = false;
  // The first passes may finish before startOperator returns (the proxy process starts beside them): the banner
  // waits for the operator's address, then names the replica count the announcing pass saw.
  let early: number | null = null;
  let announce: (replicas: number) => void = (replicas) => { early = replicas; };
  const started = Date.now();
  const op = await startOperator(flagsWith('run', { repo: repoUrl, listen: LISTEN, interval: '30s', 'state-dir': STATE_DIR, 'webhook-secret': hookSecret }), log, {
    // Announce once converged and ready (or after 30 s, whatever the status says then).
    onPass: (r) => {
      const ready = r.status.conditions.find((c) => c.type === 'Ready')?.status === 'True';
      if (announced || (!ready && Date.now() - started < 30_000)) return;
      announced = true;
      process.stdout.write(`\n${renderStatusText(r.status)}\n`);
      announce(r.desired?.services.find((s) => s.key === 'shop/web')?.spec.replicas ?? 3);
    },
  });
  operatorUrl = op.url;
  // Every line below must work as printed, from where the user stands, on the first run and on every later one.
  announce = (replicas) => {
    const next = replicas === 5 ? 3 : 5;
    process.stdout.write([
    '',
    `berth is running on the bundled examples${seeded ? ' (repository created from examples-repo/)' : ''}.`,
    `  manifests repository  ${repoUrl}   (kept in .berth/git/${REPO})`,
    `  berth API             ${op.url}/v1/status   /metrics   /v1/services   /v1/proxies   (token: ${path.join(STATE_DIR, 'cli-token')})`,
    `  dashboard             ${op.url}/   (paste the token that the cat line below prints)`,
    '  shop/web              http://127.0.0.1:18080/   (berth\'s proxy, round-robin over the ready replicas)',
    '',
    `  cat ${path.join(STATE_DIR, 'cli-token')}   # the dashboard's token (admin, this machine only)`,
    '',
    'Push a change and watch it converge (the push wakes berth through its webhook):',
    `  git clone -q ${repoUrl} /tmp/berth-examples 2>/dev/null || git -C /tmp/berth-examples pull -q; cd /tmp/berth-examples`,
    `  sed -i 's/replicas: ${replicas}/replicas: ${next}/' shop/web.yaml`,
    `  git -c user.name=me -c user.email=me@example.com commit -qam 'scale web to ${next}' && git push -q`,
    '  docker ps --filter label=berth.managed=true',
    `  npm --prefix ${ROOT} run berth -- status --state-dir ${STATE_DIR}`,
    `  curl -s -H "Authorization: Bearer $(cat ${path.join(STATE_DIR, 'cli-token')})" ${op.url}/v1/services`,
    '',
    'Ctrl-C stops berth; the containers and the proxy process keep running (berth is stateless: start it again and it picks up where it was).',
    `Edit the manifests in that clone: examples-repo/ only seeds .berth/git/${REPO} on the first run.`,
    '',
    ].join('\n'));
  };
  if (early !== null) announce(early);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => { log.info('stopping', { signal }); resolve(); };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await op.stop();
  await git.close();
}

main().catch((err) => {
  process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
