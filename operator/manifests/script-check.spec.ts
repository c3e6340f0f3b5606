import { describe, expect, it } from 'vitest';
import { BerthError, ValidationError } from '../model/errors.ts';
import type { RepoSnapshot, TreeEntry } from '../source/source.ts';
import { loadDesired } from './load.ts';

/** An in-memory snapshot whose files carry a git mode (0o120000 = symbolic link). */
function snapshotOf(files: Record<string, { content: string; mode?: number }>): RepoSnapshot & { listed: string[] } {
  const listed: string[] = [];
  const under = (dir: string): string[] => Object.keys(files).filter((p) => dir === '' || p.startsWith(`${dir}/`)).sort();
  return {
    revision: 'rev1',
    listed,
    async list(dir) {
      listed.push(dir);
      const paths = under(dir);
      if (paths.length === 0) throw new BerthError('E_PATH_MISSING', `path ${dir} does not exist at revision rev1`);
      return paths.map((path): TreeEntry => ({ path, mode: files[path]?.mode ?? 0o100644 }));
    },
    async read(path) {
      const f = files[path];
      if (!f) throw new BerthError('E_PATH_MISSING', `path ${path} does not exist at revision rev1`);
      return Buffer.from(f.content);
    },
    async treeId() {
      return null;
    },
  };
}

const web = (probes: string): { content: string } => ({ content: `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec:\n  image: x\n  health: ${probes}\n` });

async function issuesOf(snapshot: RepoSnapshot, path: string): Promise<string[]> {
  try {
    await loadDesired(snapshot, { instance: 'i', path });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i) => `${i.field}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('probe scripts', () => {
  it('stores the script path relative to the repository in the desired state', async () => {
    const snapshot = snapshotOf({
      'deploy/web.yaml': web('{ liveness: { script: { file: ../checks/web.sh, args: [--quick] } }, readiness: { script: { file: ready.sh } } }'),
      'deploy/ready.sh': { content: 'exit 0' },
      'checks/web.sh': { content: 'exit 0' },
    });
    const desired = await loadDesired(snapshot, { instance: 'i', path: 'deploy' });
    const health = desired.services[0]?.spec.health;
    expect(health?.liveness?.script).toEqual({ file: 'checks/web.sh', args: ['--quick'] });
    expect(health?.readiness?.script).toEqual({ file: 'deploy/ready.sh', args: [] });
  });

  it('finds a script at the repository root and lists each directory once', async () => {
    const snapshot = snapshotOf({ 'web.yaml': web('{ liveness: { script: { file: ./check.sh } }, startup: { script: { file: check.sh } } }'), 'check.sh': { content: '' } });
    expect(await issuesOf(snapshot, '')).toEqual([]);
    expect(snapshot.listed.filter((d) => d === '')).toHaveLength(2); // once for manifests, once for scripts
  });

  it('rejects symbolic links, missing directories and the repository root', async () => {
    const snapshot = snapshotOf({
      'web.yaml': web('{ liveness: { script: { file: link.sh } }, readiness: { script: { file: nowhere/x.sh } }, startup: { script: { file: . } } }'),
      'link.sh': { content: '/etc/passwd', mode: 0o120000 },
    });
    expect(await issuesOf(snapshot, '')).toEqual([
      'spec.health.liveness.script.file: link.sh is a symbolic link; a probe script must be a regular file of the repository',
      'spec.health.readiness.script.file: nowhere/x.sh does not exist at revision rev1',
      'spec.health.startup.script.file: must name a file, not the repository root',
    ]);
  });
});
