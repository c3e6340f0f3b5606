import { describe, expect, it } from 'vitest';
import { loadDesired } from '../../load.ts';
import type { LoadOptions } from '../../load.ts';
import { BerthError, ValidationError, formatIssue } from '../../../model/errors.ts';
import type { DesiredState } from '../../../model/state.ts';
import type { RepoSnapshot, TreeEntry } from '../../../source/source.ts';

/** A snapshot with git modes (executables, symbolic links) that counts its reads. */
function snapshot(files: Record<string, string | { content: string; mode: number }>): RepoSnapshot & { reads: string[] } {
  const entries = Object.entries(files).map(([path, f]) => (typeof f === 'string' ? { path, content: f, mode: 0o100644 } : { path, ...f })).sort((a, b) => (a.path < b.path ? -1 : 1));
  const reads: string[] = [];
  return {
    revision: 'r1',
    reads,
    list: async (dir) => {
      const prefix = dir === '' || dir === '.' ? '' : `${dir}/`;
      const out: TreeEntry[] = entries.filter((e) => e.path.startsWith(prefix)).map((e) => ({ path: e.path, mode: e.mode }));
      if (prefix && out.length === 0) throw new BerthError('E_PATH_MISSING', `${dir} missing`);
      return out;
    },
    read: async (path) => {
      reads.push(path);
      const e = entries.find((x) => x.path === path);
      if (!e) throw new BerthError('E_PATH_MISSING', `${path} missing`);
      return Buffer.from(e.content);
    },
    treeId: async () => null,
  };
}

const service = (name: string, spec: string) => `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: shop }
spec:
  image: web:1
${spec}
`;

async function load(snap: RepoSnapshot, opts: Partial<LoadOptions> = {}): Promise<DesiredState> {
  return loadDesired(snap, { instance: 't', path: 'deploy', ...opts });
}

async function issues(snap: RepoSnapshot, opts: Partial<LoadOptions> = {}): Promise<string[]> {
  try {
    await load(snap, opts);
    return [];
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
}

describe('spec.files of a berth Service', () => {
  it('copies a directory with git modes and links, a file with a mode of its own and inline content; each path is read once', async () => {
    const snap = snapshot({
      'deploy/web.yaml': service('web', [
        '  files:',
        '    - { source: ../site, target: /srv/site }',
        '    - { source: ../site/run.sh, target: /usr/local/bin/run, mode: "0700", uid: 10 }',
        '    - { content: "a=1", target: /etc/app.ini }',
      ].join('\n')),
      'deploy/api.yaml': service('api', '  files: [{ source: ../site/index.html, target: /index.html }]'),
      'site/index.html': 'hi',
      'site/run.sh': { content: '#!/bin/sh', mode: 0o100755 },
      'site/current': { content: 'index.html', mode: 0o120000 },
    });
    const desired = await load(snap);
    const web = desired.services.find((s) => s.name === 'web')!;
    expect(web.files!.map((f) => [f.source, f.target])).toEqual([['site', '/srv/site'], ['site/run.sh', '/usr/local/bin/run'], ['', '/etc/app.ini']]);
    expect(web.files!.flatMap((f) => f.entries).map((e) => ({ ...e, mode: e.mode.toString(8), content: e.content && Buffer.from(e.content, 'base64').toString() }))).toEqual([
      { path: '/srv/site/current', mode: '777', link: 'index.html' },
      { path: '/srv/site/index.html', mode: '644', content: 'hi' },
      { path: '/srv/site/run.sh', mode: '755', content: '#!/bin/sh' },
      { path: '/usr/local/bin/run', mode: '700', uid: 10, content: '#!/bin/sh' },
      { path: '/etc/app.ini', mode: '644', content: 'a=1' },
    ]);
    expect(desired.services.find((s) => s.name === 'api')!.files![0]!.entries.map((e) => e.path)).toEqual(['/index.html']);
    // two services and two entries name site/index.html and site/run.sh: each read once in this revision
    expect(snap.reads.filter((p) => p.startsWith('site/')).sort()).toEqual(['site/current', 'site/index.html', 'site/run.sh']);
  });

  it('passes the files through the validation worker as they are', async () => {
    const snap = snapshot({ 'deploy/web.yaml': service('web', '  files: [{ source: ../site, target: /srv }]'), 'site/a.txt': 'A' });
    const desired = await load(snap, { isolation: 'worker' });
    expect(desired.services[0]!.files![0]!.entries.map((e) => [e.path, Buffer.from(e.content!, 'base64').toString()])).toEqual([['/srv/a.txt', 'A']]);
  });

  it('reports a missing source, one leaving the repository and a too large file at spec.files[i].source', async () => {
    const snap = snapshot({
      'deploy/web.yaml': service('web', '  files:\n    - { source: nope.conf, target: /a }\n    - { source: ../../etc/passwd, target: /b }\n    - { source: big.bin, target: /c }'),
      'deploy/big.bin': 'x'.repeat(3000),
    });
    expect(await issues(snap, { maxFileSize: 2048 })).toEqual([
      'deploy/web.yaml:7:17: spec.files[0].source: deploy/nope.conf does not exist at revision r1',
      'deploy/web.yaml:8:17: spec.files[1].source: ../../etc/passwd leaves the repository (resolves to ../etc/passwd)',
      'deploy/web.yaml:9:17: spec.files[2].source: deploy/big.bin is 2.9Ki, more than --max-file-size 2Ki',
    ]);
  });

  it('checks targets: normalised, unique, not under a mount of the replica, a writable root filesystem, one of source and content', async () => {
    const snap = snapshot({
      'deploy/vol.yaml': 'apiVersion: berth/v1\nkind: Volume\nmetadata: { name: data, namespace: shop }\nspec: {}\n',
      'deploy/web.yaml': service('web', [
        '  volumes: [{ volume: data, mountPath: /data }]',
        '  anonymousVolumes: [/cache, /data]',
        '  tmpfs: [{ path: /run }]',
        '  files:',
        '    - { source: a, target: /etc/../a }',
        '    - { source: a, target: /x }',
        '    - { source: a, target: /x }',
        '    - { source: a, target: /data/a }',
        '    - { source: a, target: /cache/a }',
        '    - { source: a, target: /run/a }',
        '    - { target: /y }',
        '    - { source: a, target: / }',
      ].join('\n')),
      'deploy/ro.yaml': service('ro', '  readOnly: true\n  files: [{ source: a, target: /a }]'),
      'deploy/a': 'A',
    });
    expect(await issues(snap)).toEqual([
      'deploy/ro.yaml:7:3: spec.files: needs a writable root filesystem: the files are copied into it before the replica starts, and the engine refuses that with readOnly: true (mount a Volume for them instead, or drop readOnly)',
      'deploy/web.yaml:7:30: spec.anonymousVolumes[1]: /data is also the mountPath of spec.volumes[0]',
      'deploy/web.yaml:10:28: spec.files[0].target: must be an absolute, normalised path (no ".", ".." or empty segments, no trailing "/")',
      'deploy/web.yaml:12:28: spec.files[2].target: duplicate target /x (also spec.files[1])',
      'deploy/web.yaml:13:28: spec.files[3].target: /data/a is under a mountPath of spec.volumes[0]: the copy would go into the volume',
      'deploy/web.yaml:14:28: spec.files[4].target: /cache/a is under spec.anonymousVolumes[0]: the copy would go into the volume',
      'deploy/web.yaml:15:28: spec.files[5].target: /run/a is under the tmpfs spec.tmpfs[0], which hides it when the replica starts',
      'deploy/web.yaml:16:7: spec.files[6]: needs exactly one of source (a file or directory of the repository) and content',
      'deploy/web.yaml:17:28: spec.files[7].target: / is not a place for files of the repository (/, /dev, /proc and /sys belong to the engine)',
    ]);
  });
});
