import { describe, expect, it } from 'vitest';
import { BerthError, ValidationError } from '../../../model/errors.ts';
import type { ManifestIssue } from '../../../model/errors.ts';
import { memorySnapshot } from '../../../source/memory-source.ts';
import { loadDesired } from '../../load.ts';
import { localOptionProblems } from '../../local-volume-options.ts';
import { isUnder, normalizeAllowedPath } from './checks.ts';

const volume = (name: string, spec: string): string => `apiVersion: berth/v1\nkind: Volume\nmetadata: { name: ${name} }\nspec:\n  ${spec}\n`;

/** Loads `files` with the given --allow-host-path prefixes: the volumes' names when accepted, else the issues. */
async function load(files: Record<string, string>, allowHostPaths?: string[]): Promise<string[] | ManifestIssue[]> {
  try {
    const desired = await loadDesired(memorySnapshot(files, 'r1'), { instance: 'i', path: '', ...(allowHostPaths ? { allowHostPaths } : {}) });
    return desired.volumes.map((v) => v.name);
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
}

const bind = (device: string): string => volume('data', `driverOpts: { type: none, o: bind, device: ${JSON.stringify(device)} }`);

describe('host paths of Volumes (--allow-host-path)', () => {
  it('refuses a bind mount of /etc without the flag, at spec.driverOpts, naming the flag', async () => {
    const issues = (await load({ 'v.yaml': bind('/etc') })) as ManifestIssue[];
    expect(issues.map((i) => [i.code, i.file, i.line, i.col, i.field])).toEqual([['E_SEMANTIC', 'v.yaml', 5, 3, 'spec.driverOpts']]);
    expect(issues[0]?.message).toContain('--allow-host-path');
  });

  it('accepts a host path under an allowed prefix, compared segment-wise', async () => {
    expect(await load({ 'v.yaml': bind('/srv/data/x') }, ['/srv/data'])).toEqual(['data']);
    expect(await load({ 'v.yaml': bind('/srv/data') }, ['/srv/data/'])).toEqual(['data']);
    expect(await load({ 'v.yaml': bind('/srv//data/x/') }, ['/srv/data'])).toEqual(['data']);
    expect(await load({ 'v.yaml': bind('/srv/database') }, ['/srv/data'])).toMatchObject([{ code: 'E_SEMANTIC', field: 'spec.driverOpts' }]);
    expect(await load({ 'v.yaml': bind('/srv') }, ['/srv/data'])).toMatchObject([{ code: 'E_SEMANTIC' }]);
    expect(await load({ 'v.yaml': bind('/etc') }, ['/srv/data', '/etc'])).toEqual(['data']);
  });

  it('refuses ".." segments and relative devices even under an allowed prefix', async () => {
    expect(await load({ 'v.yaml': bind('/srv/data/../../etc') }, ['/srv/data'])).toMatchObject([{ code: 'E_SEMANTIC', field: 'spec.driverOpts' }]);
    expect(await load({ 'v.yaml': bind('srv/data') }, ['/srv/data'])).toMatchObject([{ code: 'E_SEMANTIC', field: 'spec.driverOpts' }]);
  });

  it('treats bind, rbind, host devices and devices of other drivers as host paths; tmpfs, nfs and cifs are not', async () => {
    const files = {
      'a.yaml': volume('rbind', 'driverOpts: { type: ext4, o: "ro,rbind", device: /srv/x }'),
      'b.yaml': volume('none', 'driverOpts: { type: none, o: "ro,rbind", device: /srv/x }'),
      'c.yaml': volume('disk', 'driverOpts: { type: ext4, device: /dev/sdb1 }'),
      'd.yaml': volume('plugin', 'driver: other\n  driverOpts: { device: /srv/x }'),
      'e.yaml': volume('tmp', 'driverOpts: { type: tmpfs, device: tmpfs, o: "size=1m" }'),
      'f.yaml': volume('nfs', 'driverOpts: { type: nfs, o: "addr=10.0.0.1", device: ":/export" }'),
      'g.yaml': volume('cifs', 'driverOpts: { type: cifs, o: "addr=10.0.0.1", device: "//10.0.0.1/share" }'),
    };
    const issues = (await load(files)) as ManifestIssue[];
    expect(issues.map((i) => i.file)).toEqual(['a.yaml', 'b.yaml', 'c.yaml', 'd.yaml']);
    expect(await load(files, ['/srv', '/dev/sdb1'])).toEqual(['cifs', 'disk', 'nfs', 'none', 'plugin', 'rbind', 'tmp']);
  });

  it('refuses an allowed prefix that is relative or has ".." with E_CONFIG', async () => {
    for (const bad of ['srv/data', '/srv/../etc', '']) {
      const err = await load({ 'v.yaml': volume('data', '{}') }, [bad]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BerthError);
      expect((err as BerthError).code).toBe('E_CONFIG');
    }
  });

  it('compares normalised paths segment-wise', () => {
    expect(normalizeAllowedPath('/srv//data/')).toBe('/srv/data');
    expect(isUnder('/srv/data/x', '/srv/data')).toBe(true);
    expect(isUnder('/srv/database', '/srv/data')).toBe(false);
    expect(isUnder('/anything', '/')).toBe(true);
  });
});

describe('options of the local driver', () => {
  it('refuses an option the local driver does not take, at its key', async () => {
    const issues = (await load({ 'v.yaml': volume('data', 'driverOpts: { typ: tmpfs }') })) as ManifestIssue[];
    expect(issues.map((i) => [i.code, i.line, i.col, i.field])).toEqual([['E_SEMANTIC', 5, 17, 'spec.driverOpts.typ']]);
  });

  it('needs type and device together once type, device or o is set (the engine: "missing required option")', async () => {
    for (const opts of ['{ device: tmpfs }', '{ type: tmpfs }', '{ o: "size=1m" }', '{ o: "size=1m", type: tmpfs }']) {
      expect(await load({ 'v.yaml': volume('data', `driverOpts: ${opts}`) })).toMatchObject([{ code: 'E_SEMANTIC', line: 5, col: 3, field: 'spec.driverOpts' }]);
    }
    expect(await load({ 'v.yaml': volume('data', 'driverOpts: { type: tmpfs, device: tmpfs, o: "size=1m" }') })).toEqual(['data']);
  });
});

// The verdicts of dockerd 20.10 mounting each (test/engine-refusals.test.ts compares them on the real engine).
describe('localOptionProblems', () => {
  it.each([
    { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,mode=1777,uid=1000,gid=1000' }, { type: 'tmpfs', device: 'tmpfs', o: 'noexec,nosuid,nodev,size=1m' },
    { type: 'tmpfs', device: 'tmpfs', o: 'size=10%' }, { type: 'tmpfs', device: 'tmpfs', o: '' }, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,' },
    { type: 'tmpfs', device: 'tmpfs', o: 'nr_inodes=1k,huge=never' }, { type: 'tmpfs', device: 'tmpfs', o: 'ro' }, { type: 'tmpfs', device: '../x' },
    { type: 'ramfs', device: 'ramfs' }, { type: 'none', device: '/srv', o: 'bind,foo' }, { type: 'none', device: '/srv', o: 'bind,ro,nosuid' },
    { type: 'nfs', device: ':/export', o: 'addr=10.0.0.1,nfsvers=4' }, { type: 'fuse.sshfs', device: 'host:/x' }, {},
  ])('accepts %j', (opts) => {
    expect(localOptionProblems(opts as Record<string, string>)).toEqual([]);
  });

  it.each([
    [{ type: 'tmpfs', device: 'tmpfs', o: 'size=abc' }, 'o'], [{ type: 'tmpfs', device: 'tmpfs', o: 'foo=1' }, 'o'], [{ type: 'tmpfs', device: 'tmpfs', o: 'null' }, 'o'],
    [{ type: 'tmpfs', device: 'tmpfs', o: 'mode=999' }, 'o'], [{ type: 'tmpfs', device: 'tmpfs', o: 'uid=x' }, 'o'], [{ type: 'tmpfs', device: '' }, 'device'],
    [{ type: 'null', device: 'x' }, 'type'], [{ type: 'none', device: '/srv' }, 'type'], [{ type: 'tmpfs' }, undefined], [{ device: 'x' }, undefined],
    [{ o: 'size=1m' }, undefined], [{ typ: 'tmpfs' }, 'typ'],
  ])('refuses %j at %s', (opts, key) => {
    expect(localOptionProblems(opts as Record<string, string>).map((p) => p.key)).toEqual([key]);
  });
});

describe('the Docker engine socket (--allow-docker-socket)', () => {
  const loadWith = async (files: Record<string, string>, opts: { allowHostPaths?: string[]; allowDockerSocket?: boolean }): Promise<string[] | ManifestIssue[]> => {
    try {
      return (await loadDesired(memorySnapshot(files, 'r1'), { instance: 'i', path: '', ...opts })).volumes.map((v) => v.name);
    } catch (err) {
      if (err instanceof ValidationError) return err.issues;
      throw err;
    }
  };

  it('refuses the socket even under an allowed host path, at spec.driverOpts.device, naming the flag', async () => {
    const issues = (await loadWith({ 'v.yaml': bind('/var/run/docker.sock') }, { allowHostPaths: ['/'] })) as ManifestIssue[];
    expect(issues.map((i) => [i.code, i.file, i.line, i.field])).toEqual([['E_SEMANTIC', 'v.yaml', 5, 'spec.driverOpts.device']]);
    expect(issues[0]?.message).toContain('--allow-docker-socket');
    expect(issues[0]?.message).toContain('/var/run/docker.sock');
  });

  it('refuses /run/docker.sock, any path ending in docker.sock, and a directory that holds a default socket', async () => {
    for (const device of ['/run/docker.sock', '/home/u/.docker/run/docker.sock', '/run/user/1000/docker.sock', '/var/run', '/var/run/', '/run', '/var', '/']) {
      const issues = await loadWith({ 'v.yaml': bind(device) }, { allowHostPaths: ['/'] });
      expect(issues, device).toMatchObject([{ code: 'E_SEMANTIC', field: 'spec.driverOpts.device' }]);
    }
    const inside = (await loadWith({ 'v.yaml': bind('/var/run') }, { allowHostPaths: ['/'] })) as ManifestIssue[];
    expect(inside[0]?.message).toContain('/var/run/docker.sock (inside "/var/run")');
  });

  it('leaves other host paths alone, and allows the socket with the flag (the host path gate still applies)', async () => {
    expect(await loadWith({ 'v.yaml': bind('/var/run/app') }, { allowHostPaths: ['/var/run'] })).toEqual(['data']);
    expect(await loadWith({ 'v.yaml': bind('/var/run/docker.sock') }, { allowHostPaths: ['/var/run'], allowDockerSocket: true })).toEqual(['data']);
    const gated = await loadWith({ 'v.yaml': bind('/var/run/docker.sock') }, { allowDockerSocket: true });
    expect(gated).toMatchObject([{ code: 'E_SEMANTIC', field: 'spec.driverOpts' }]);
  });

  it('reports both gates when neither flag is given', async () => {
    const issues = (await loadWith({ 'v.yaml': bind('/var/run/docker.sock') }, {})) as ManifestIssue[];
    expect(issues.map((i) => i.field)).toEqual(['spec.driverOpts', 'spec.driverOpts.device']);
  });
});
