import { describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { createOptions } from './docker.ts';
import { removeSecretDirs, secretTar } from './docker-secrets.ts';

async function entries(tar: NodeJS.ReadableStream): Promise<{ name: string; type: string; mode: number; uid: number; gid: number; body: string }[]> {
  const out: { name: string; type: string; mode: number; uid: number; gid: number; body: string }[] = [];
  const x = extract();
  x.on('entry', (h, stream, next) => {
    let body = '';
    stream.on('data', (d: unknown) => { body += String(d); });
    stream.on('end', () => { out.push({ name: h.name, type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, body }); next(); });
  });
  await new Promise<void>((resolve, reject) => { x.on('finish', () => resolve()); x.on('error', reject); tar.pipe(x); });
  return out;
}

describe('secret files on a Docker engine', () => {
  it('packs the files relative to the bind target, with their modes and owners, and the directories between', async () => {
    const tar = secretTar('/run/secrets', [
      { path: '/run/secrets/token', content: Buffer.from('t0k3n'), mode: 0o400, uid: 0, gid: 0 },
      { path: '/run/secrets/db/password', content: Buffer.from('pw'), mode: 0o440, uid: 1000, gid: 1001 },
    ]);
    expect(await entries(tar)).toEqual([
      { name: 'token', type: 'file', mode: 0o400, uid: 0, gid: 0, body: 't0k3n' },
      { name: 'db/', type: 'directory', mode: 0o755, uid: 0, gid: 0, body: '' },
      { name: 'db/password', type: 'file', mode: 0o440, uid: 1000, gid: 1001, body: 'pw' },
    ]);
  });

  it('binds each directory read-write and puts no file content in the create body', () => {
    const body = createOptions({
      name: 'c', image: 'img', env: {}, labels: {}, exposedPorts: [], restartPolicy: 'no', mounts: [],
      secrets: { binds: [{ source: '/dev/shm/berth/i/c/0', target: '/run/secrets' }], files: [{ path: '/run/secrets/x', content: Buffer.from('s3cr3t-value'), mode: 0o400, uid: 0, gid: 0 }] },
    });
    expect(body.HostConfig?.Binds).toEqual(['/dev/shm/berth/i/c/0:/run/secrets:rw']);
    expect(JSON.stringify(body)).not.toContain('s3cr3t-value');
  });

  it('removes directories only on the local engine, and only below /dev/shm/berth', async () => {
    expect(await removeSecretDirs('tcp://10.0.0.5:2376', ['/dev/shm/berth/i/c'])).toEqual({ removed: [], left: ['/dev/shm/berth/i/c'] });
    await expect(removeSecretDirs('unix:///var/run/docker.sock', ['/etc'])).rejects.toThrow(/refusing/);
    await expect(removeSecretDirs('unix:///var/run/docker.sock', ['/dev/shm/berth/../../etc'])).rejects.toThrow(/refusing/);
  });
});
