/**
 * The CLI's kubectl / argocd / flux conventions, run as a user runs them against a real git server and engine:
 * `berth version`, `berth completion`, `-o json|yaml`, `berth history` from the status branch, `berth diff`, and
 * `berth rollback` as a commit (or a branch and pull request with --pr) whose manifests equal the old revision's.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance } from './helpers/docker.ts';
import { service } from './helpers/operator.ts';
import { berth } from './helpers/cli.ts';
import { startGitHubFixtures } from './doubles/github-fixtures.ts';
import { COMMANDS, FLAGS } from '../operator/settings/flags.ts';
import type { HistoryEntry } from '../operator/status/history.ts';

const run = promisify(execFile);
const docker = testDocker();
const instance = uniqueInstance('cli-conv');
let remote: Remote;
let stateDir: string;
/** The manifests live under deploy/; notes.txt beside them is not theirs (rollback leaves it alone). */
const common = () => ['--repo', remote.url, '--instance', instance, '--state-dir', stateDir, '--path', 'deploy'];
const rollbackArgs = () => ['--repo', remote.url, '--state-dir', stateDir, '--path', 'deploy'];
const revs: { one: string; two: string; bad: string; three: string } = { one: '', two: '', bad: '', three: '' };

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-cli-conv-'));
  remote = await makeRemote({ 'deploy/app.yaml': service('app', { replicas: 1 }), 'notes.txt': 'one\n' });
  revs.one = await remote.git(['rev-parse', 'HEAD']);
});

afterAll(async () => {
  await remote?.close();
  await cleanupInstance(docker, instance);
  await fs.rm(stateDir, { recursive: true, force: true });
});

/** The tree id of `dir` at `rev` in the served repository. */
async function treeOf(rev: string, dir = 'deploy'): Promise<string> {
  return run('git', ['--git-dir', remote.bareDir, 'rev-parse', `${rev}:${dir}`]).then((r) => r.stdout.trim());
}

async function bareGit(args: string[]): Promise<string> {
  return run('git', ['--git-dir', remote.bareDir, ...args]).then((r) => r.stdout.trim());
}

describe('berth version and completion', () => {
  it('version is --version, and -o json / yaml add the Node.js version and platform', async () => {
    const text = await berth(['version']);
    expect(text.code).toBe(0);
    expect(text.stdout.trim()).toBe((await berth(['--version'])).stdout.trim());
    expect(text.stdout.trim()).toMatch(/^berth \d+\.\d+\.\d+$/);
    const json = JSON.parse((await berth(['version', '-o', 'json'])).stdout);
    expect(json).toEqual({ version: text.stdout.trim().slice('berth '.length), node: process.version, platform: `${process.platform}/${process.arch}` });
    expect(parse((await berth(['version', '--output', 'yaml'])).stdout)).toEqual(json);
    const bad = await berth(['version', '-o', 'xml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('-o: "xml" must be one of text, json, yaml');
  });

  it('completion bash is valid bash that registers berth and completes commands, flags and their values', async () => {
    const r = await berth(['completion', 'bash']);
    expect(r.code).toBe(0);
    const file = path.join(stateDir, 'berth.bash');
    await fs.writeFile(file, r.stdout);
    await run('bash', ['-n', file]);
    const complete = (words: string[]) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _berth; echo "\${COMPREPLY[*]}"`;
    const { stdout } = await run('bash', ['-c', [`source ${file}`, 'complete -p berth', complete(['berth', 'hi']), complete(['berth', 'history', '--li']), complete(['berth', 'status', '-o', '']), complete(['berth', 'completion', '']), complete(['berth', 'rollback', '--p'])].join('\n')]);
    expect(stdout.split('\n')).toEqual(['complete -o default -F _berth berth', 'history', '--limit', 'text json yaml', 'bash zsh fish', '--path --pr', '']);
  });

  it('completion zsh and fish are generated from the command and flag tables', async () => {
    const zsh = await berth(['completion', 'zsh']);
    const fish = await berth(['completion', 'fish']);
    expect([zsh.code, fish.code]).toEqual([0, 0]);
    expect(zsh.stdout.startsWith('#compdef berth\n')).toBe(true);
    for (const command of COMMANDS) {
      expect(zsh.stdout).toContain(`        (${command}) _arguments`);
      expect(fish.stdout).toContain(`complete -c berth -n __fish_use_subcommand -a ${command} -d `);
      for (const [flag, spec] of Object.entries(FLAGS[command])) {
        expect(zsh.stdout).toMatch(new RegExp(`--${flag}(\\[|'?\\}?'\\[)`));
        expect(fish.stdout).toContain(`complete -c berth -n '__fish_seen_subcommand_from ${command}'${spec.short ? ` -s ${spec.short}` : ''} -l ${flag}`);
      }
    }
    expect(fish.stdout).toContain("complete -c berth -n '__fish_seen_subcommand_from plan' -s o -l output -x -a 'text json yaml markdown'");
    expect((await berth(['completion', 'tcsh'])).code).toBe(1);
  });
});

describe('history, -o, diff and rollback on a real repository', () => {
  it('status --repo and history print text, JSON and YAML of the applied revisions, with result and duration', async () => {
    const first = await berth(['apply', ...common()]);
    expect(first.code, first.stderr).toBe(0);
    revs.two = await remote.commit({ 'deploy/app.yaml': service('app', { replicas: 2 }), 'notes.txt': 'two\n' }, 'two replicas');
    expect((await berth(['apply', ...common()])).code).toBe(0);
    revs.bad = await remote.commit({ 'deploy/app.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: app, namespace: test }\nspec:\n  replicas: "x"\n' }, 'broken');
    expect((await berth(['apply', ...common()])).code).toBe(1);

    const read = ['--repo', remote.url, '--instance', instance, '--state-dir', stateDir];
    const json = await berth(['status', ...read, '-o', 'json']);
    expect(JSON.parse(json.stdout).revision).toEqual({ applied: revs.two, latest: revs.bad });
    expect(parse((await berth(['status', ...read, '-o', 'yaml'])).stdout)).toEqual(JSON.parse(json.stdout));
    expect(JSON.parse((await berth(['status', ...read, '--json'])).stdout)).toEqual(JSON.parse(json.stdout));

    const h = await berth(['history', ...read, '-o', 'json']);
    expect(h.code, h.stderr).toBe(0);
    const { revisions } = JSON.parse(h.stdout) as { revisions: HistoryEntry[] };
    expect(revisions.map((e) => [e.revision, e.applied, e.current])).toEqual([[revs.bad, false, false], [revs.two, true, true], [revs.one, true, false]]);
    expect(revisions[0]).toMatchObject({ result: 'ValidationFailed', ready: false, durationMs: null, commit: { subject: 'broken', author: 'Test Author' } });
    expect(revisions[0]!.message).toContain('spec.replicas');
    for (const e of revisions.slice(1)) {
      expect(e).toMatchObject({ result: 'Converged', ready: true });
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
      expect(e.durationMs).toBeLessThan(120_000);
      expect(Date.parse(e.readyAt!)).toBeGreaterThanOrEqual(Date.parse(e.commit!.committedAt));
    }
    expect(revisions[1]!.commit).toMatchObject({ subject: 'two replicas', author: 'Test Author' });
    expect(revisions[2]!.commit!.subject).toBe('initial');
    expect(parse((await berth(['history', ...read, '-o', 'yaml'])).stdout)).toEqual(JSON.parse(h.stdout));
    const limited = JSON.parse((await berth(['history', ...read, '-o', 'json', '--limit', '1'])).stdout) as { revisions: HistoryEntry[] };
    expect(limited.revisions.map((e) => e.revision)).toEqual([revs.bad]);

    const text = (await berth(['history', ...read])).stdout.split('\n');
    expect(text[0]).toMatch(/^REVISION\s+COMMITTED\s+DURATION\s+RESULT\s+AUTHOR\s+SUBJECT$/);
    expect(text[1]).toMatch(new RegExp(`^${revs.bad.slice(0, 7)} .* - +rejected: ValidationFailed +Test Author +broken$`));
    expect(text[2]).toMatch(new RegExp(`^${revs.two.slice(0, 7)}\\* .* \\d+(ms|s) +Converged +Test Author +two replicas$`));

    // --server: the repository is the one the running berth reports in /v1/status (here a stand-in answering only that).
    const fake = http.createServer((req, res) => {
      res.writeHead(req.url === '/v1/status' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ source: { repo: remote.url, branch: 'main', path: 'deploy' } }));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    try {
      const viaServer = await berth(['history', '--server', `http://127.0.0.1:${(fake.address() as AddressInfo).port}`, '--instance', instance, '--state-dir', stateDir, '--token', 't', '-o', 'json']);
      expect(viaServer.code, viaServer.stderr).toBe(0);
      expect(JSON.parse(viaServer.stdout)).toEqual(JSON.parse(h.stdout));
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }

    const none = await berth(['history', '--repo', remote.url, '--instance', 'nobody-here', '--state-dir', stateDir]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('no status of instance "nobody-here"');
  });

  it('logs, events and audit take -o json and yaml, like their --output / --json (refused values name the flag)', async () => {
    // A stand-in for a running berth's read API: the CLI's printing is what is tested here (the API has its own tests).
    const line = { time: '2026-01-01T00:00:00.000Z', service: 'test/app', replica: '1', stream: 'stdout', text: 'hello: world' };
    const event = { time: '2026-01-01T00:00:01.000Z', type: 'applied', namespace: 'test', service: 'app', message: 'created test/app #1' };
    const entry = { time: '2026-01-01T00:00:02.000Z', actor: 'admin', source: 'cli', result: 'ok', action: 'sync' };
    const fake = http.createServer((req, res) => {
      const body = req.url!.startsWith('/v1/logs') ? { lines: [line, line] } : req.url!.startsWith('/v1/events') ? { events: [event] } : req.url!.startsWith('/v1/audit') ? { entries: [entry] } : {};
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const server = ['--server', `http://127.0.0.1:${(fake.address() as AddressInfo).port}`, '--token', 't'];
    try {
      const logs = await berth(['logs', 'test/app', ...server, '-o', 'yaml']);
      expect(logs.code, logs.stderr).toBe(0);
      expect(parseAllDocuments(logs.stdout).map((d) => d.toJS())).toEqual([line, line]);
      expect((await berth(['logs', 'test/app', ...server, '--output', 'json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([line, line]);
      expect(parseAllDocuments((await berth(['events', ...server, '-o', 'yaml'])).stdout).map((d) => d.toJS())).toEqual([event]);
      expect(JSON.parse((await berth(['audit', ...server, '-o', 'json'])).stdout)).toEqual(entry);
      expect(JSON.parse((await berth(['audit', ...server, '--json'])).stdout)).toEqual(entry);
      expect(parseAllDocuments((await berth(['audit', ...server, '-o', 'yaml'])).stdout).map((d) => d.toJS())).toEqual([entry]);
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }
    const bad = await berth(['events', '-o', 'xml', '--server', 'http://127.0.0.1:1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('-o: "xml"');
  });

  it('diff <ref> is plan --revision <ref>, with -o json and yaml', async () => {
    const plan = await berth(['plan', ...common(), '--revision', revs.one, '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const diff = await berth(['diff', revs.one.slice(0, 7), ...common(), '-o', 'json']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(JSON.parse(diff.stdout)).toEqual(JSON.parse(plan.stdout));
    expect(JSON.parse(plan.stdout).actions.some((a: { type: string }) => a.type === 'remove')).toBe(true);
    expect(parseAllDocuments((await berth(['diff', '--revision', revs.one, ...common(), '-o', 'yaml'])).stdout)[0]!.toJS()).toEqual(JSON.parse(plan.stdout));
    const text = await berth(['diff', revs.one, ...common()]);
    expect(text.stdout).toContain('to remove');
    const twice = await berth(['diff', revs.one, '--revision', revs.two, ...common()]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('one ref');
  });

  it('rollback commits the old manifests on the branch (tree equal to the revision\'s), refuses unknown revisions, and does nothing at the head', async () => {
    revs.three = await remote.commit({ 'deploy/app.yaml': service('app', { replicas: 3 }), 'notes.txt': 'three\n' }, 'three replicas');
    const unknown = await berth(['rollback', 'deadbeef', ...rollbackArgs()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(`berth: revision 'deadbeef' not found in ${remote.url}`);
    const head = await berth(['rollback', revs.three.slice(0, 9), ...rollbackArgs()]);
    expect(head.code).toBe(0);
    expect(head.stdout).toContain(`nothing to do: ${revs.three.slice(0, 7)} is the head of main`);

    const r = await berth(['rollback', revs.one.slice(0, 7), ...rollbackArgs()]);
    expect(r.code, r.stderr).toBe(0);
    const tip = await bareGit(['rev-parse', 'main']);
    expect(await bareGit(['rev-parse', `${tip}^`])).toBe(revs.three);
    expect(await treeOf(tip)).toBe(await treeOf(revs.one));
    expect(await bareGit(['show', `${tip}:notes.txt`])).toBe('three'); // outside --path: untouched
    expect(await bareGit(['log', '-1', '--format=%s', tip])).toBe(`Revert manifests to ${revs.one.slice(0, 7)}: initial`);
    expect(r.stdout).toContain(`main: ${tip.slice(0, 7)} Revert manifests to ${revs.one.slice(0, 7)}: initial`);

    const again = await berth(['rollback', revs.one, ...rollbackArgs()]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already equal those of ${revs.one.slice(0, 7)}`);
    expect(await bareGit(['rev-parse', 'main'])).toBe(tip);
    const plan = JSON.parse((await berth(['plan', ...common(), '--json'])).stdout);
    expect(plan.summary.remove).toBeGreaterThan(0); // berth applies the revert like any commit: back to one replica
  });

  it('rollback --pr pushes berth/rollback-<rev> and opens the pull request through the GitHub API', async () => {
    const before = await bareGit(['rev-parse', 'main']);
    const plain = await berth(['rollback', revs.two, ...rollbackArgs(), '--pr']);
    expect(plain.code, plain.stderr).toBe(0);
    const branch = `berth/rollback-${revs.two.slice(0, 7)}`;
    expect(plain.stdout).toContain(`open a pull request from ${branch} into main`);
    const pushed = await bareGit(['rev-parse', branch]);
    expect(await bareGit(['rev-parse', `${pushed}^`])).toBe(before);
    expect(await treeOf(pushed)).toBe(await treeOf(revs.two));
    expect(await bareGit(['rev-parse', 'main'])).toBe(before);

    const token = 'ghp_rollbacktesttoken0000000000';
    const api = '/repos/berth-fixture-org/manifests';
    const json = { 'content-type': 'application/json; charset=utf-8' };
    const gh = await startGitHubFixtures([
      { request: { method: 'GET', path: `${api}/pulls?state=open&head=berth-fixture-org:${branch}&base=main&per_page=100` }, response: { status: 200, headers: json, body: [] } },
      { request: { method: 'POST', path: `${api}/pulls` }, response: { status: 201, headers: json, body: { number: 42, html_url: 'https://github.test/pull/42' } } },
    ], { token });
    try {
      const pr = await berth(['rollback', revs.two, ...rollbackArgs(), '--pr', '--github-repo', 'berth-fixture-org/manifests', '--github-api-url', gh.url], { GITHUB_TOKEN: token });
      expect(pr.code, pr.stderr).toBe(0);
      expect(pr.stdout).toContain(`${branch}: already holds the manifests of ${revs.two.slice(0, 7)}`);
      expect(pr.stdout).toContain(`pull request #42 opened in berth-fixture-org/manifests: ${branch} -> main`);
      gh.done();
      expect(gh.requests[1]!.authorized).toBe(true);
      expect(gh.requests[1]!.body).toMatchObject({ head: branch, base: 'main', title: `Revert manifests to ${revs.two.slice(0, 7)}: two replicas` });
      expect(`${pr.stdout}${pr.stderr}`).not.toContain(token);
    } finally {
      await gh.close();
    }
    const noToken = await berth(['rollback', revs.two, ...rollbackArgs(), '--pr', '--github-repo', 'o/n', '--github-token-env', 'BERTH_TEST_NO_SUCH_TOKEN']);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('needs a token');
  });
});
