/** A real git remote for tests: a bare repository served by git-http-backend, plus a working clone that commits and pushes. */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { initBareRepo, startGitServer, type GitRequestInfo, type GitServer } from '../../scripts/git-http-server.ts';

const execFileAsync = promisify(execFile);

export interface Remote {
  /** `http://127.0.0.1:PORT/repo.git` */
  url: string;
  bareDir: string;
  workDir: string;
  server: GitServer;
  /** Writes (string) or deletes (null) files in the work tree, commits everything and pushes; returns the new commit id. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  /** Runs the git CLI (async) in the work tree; returns trimmed stdout. */
  git(args: string[]): Promise<string>;
  /** Stops the server and removes the temp dirs. */
  close(): Promise<void>;
}

export interface RemoteOptions {
  branch?: string;
  /** Forwarded to the server: awaited before each request is served. */
  onRequest?: (info: GitRequestInfo) => void | Promise<void>;
  /** Forwarded to the server: require HTTP basic auth. */
  auth?: { username: string; password: string };
}

/** An environment for the git CLI that ignores the machine's global config and sets a fixed identity. */
export function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.test',
    GIT_COMMITTER_NAME: 'Test Author',
    GIT_COMMITTER_EMAIL: 'author@example.test',
  };
}

/** Runs the git CLI asynchronously (never execFileSync: the server runs in this process). */
export async function runGit(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await execFileAsync('git', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** Writes (string) or deletes (null) files below `dir`, creating parent directories. */
export async function writeFiles(dir: string, files: Record<string, string | null>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    if (content === null) {
      await rm(full, { force: true });
      continue;
    }
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

/** Creates a served bare repository whose branch holds `files` in one initial commit. */
export async function makeRemote(files: Record<string, string>, opts: RemoteOptions = {}): Promise<Remote> {
  const branch = opts.branch ?? 'main';
  const root = await mkdtemp(join(tmpdir(), 'berth-git-remote-'));
  const workDir = join(root, 'work');
  const env = gitEnv(root);
  const bareDir = await initBareRepo(join(root, 'srv'), 'repo.git', branch);
  const server = await startGitServer({ root: join(root, 'srv'), onRequest: opts.onRequest, auth: opts.auth });
  const url = `${server.url}/repo.git`;
  const pushUrl = opts.auth ? withAuth(url, opts.auth) : url;
  const git = (args: string[]): Promise<string> => runGit(workDir, args, env);
  const commit = async (changes: Record<string, string | null>, message = 'change'): Promise<string> => {
    await writeFiles(workDir, changes);
    await git(['add', '-A']);
    await git(['commit', '--quiet', '--allow-empty', '-m', message]);
    await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
    return git(['rev-parse', 'HEAD']);
  };
  try {
    await mkdir(workDir);
    await git(['init', '--quiet', `--initial-branch=${branch}`]);
    await git(['remote', 'add', 'origin', pushUrl]);
    await commit(files, 'initial');
  } catch (err) {
    await server.close();
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    url, bareDir, workDir, server, commit, git,
    close: async () => {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** `http://user:pass@host/...` from a plain URL. */
export function withAuth(url: string, auth: { username: string; password: string }): string {
  const u = new URL(url);
  u.username = encodeURIComponent(auth.username);
  u.password = encodeURIComponent(auth.password);
  return u.toString();
}
