/**
 * A Service's container settings on the real engine: entrypoint, user, working dir, read-only root with a tmpfs,
 * ulimits, sysctls, extra hosts, stop signal and grace, security options; the replica runs with each of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, execIn, testDocker, TEST_ENGINE, uniqueInstance } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('settings');
let remote: Remote;
let op: TestOperator;

const manifest = `apiVersion: berth/v1
kind: Service
metadata: { name: app, namespace: cs }
spec:
  image: berth-local/busybox:1
  entrypoint: [sh, -c]
  command: ["echo up > /scratch/state; exec sleep 3600"]
  user: "1000:1000"
  workingDir: /bin
  readOnly: true
  tmpfs: [{ path: /scratch, size: 8Mi, mode: "1777" }]
  ulimits: { nofile: { soft: 512, hard: 1024 }, nproc: 256 }
  sysctls: { net.ipv4.ip_unprivileged_port_start: "80" }
  extraHosts: ["db.internal:10.1.2.3"]
  stopSignal: USR1
  stopGracePeriod: 3s
  securityOpt: ["apparmor=unconfined"]
`;

beforeAll(async () => {
  remote = await makeRemote({ 'app.yaml': manifest });
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

describe('container settings', () => {
  it('creates the replica with every setting, and it runs with them', async () => {
    await op.waitPass((p) => p.converged, 'converged', 60_000);
    const [c] = await runningOf(docker, instance, 'app');
    const info = await docker.getContainer(c!.Id).inspect();
    expect(info.Config).toMatchObject({ Entrypoint: ['sh', '-c'], User: '1000:1000', WorkingDir: '/bin', StopSignal: TEST_ENGINE === 'docker' ? 'SIGUSR1' : '10', StopTimeout: 3 }); // Podman reports the number
    if (TEST_ENGINE === 'docker') {
      expect(info.HostConfig).toMatchObject({
        ReadonlyRootfs: true,
        Tmpfs: { '/scratch': 'size=8388608,mode=1777' },
        Ulimits: [{ Name: 'nofile', Soft: 512, Hard: 1024 }, { Name: 'nproc', Soft: 256, Hard: 256 }],
        Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' },
      });
    } else {
      // Podman reports the same settings in its own words (mount options added, RLIMIT_ names, no Sysctls)
      expect(info.HostConfig).toMatchObject({
        ReadonlyRootfs: true,
        Ulimits: [{ Name: 'RLIMIT_NOFILE', Soft: 512, Hard: 1024 }, { Name: 'RLIMIT_NPROC', Soft: 256, Hard: 256 }],
      });
      expect(info.HostConfig.Tmpfs?.['/scratch']).toMatch(/^size=8388608,mode=1777,/);
    }
    // Docker resolves host-gateway itself; on Podman berth writes the gateway of the replica's network
    const hostGateway = TEST_ENGINE === 'docker' ? 'host.docker.internal:host-gateway' : expect.stringMatching(/^host\.docker\.internal:\d+\.\d+\.\d+\.1$/);
    expect(info.HostConfig.ExtraHosts).toEqual(expect.arrayContaining(['db.internal:10.1.2.3', hostGateway]));
    expect(info.HostConfig.SecurityOpt).toEqual([TEST_ENGINE === 'docker' ? 'no-new-privileges:true' : 'no-new-privileges', 'apparmor=unconfined']);
    const run = (cmd: string[]) => execIn(docker, c!.Id, cmd);
    expect(await run(['id', '-u'])).toContain('1000');
    expect(await run(['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).toContain('80');
    expect(await run(['cat', '/scratch/state'])).toContain('up'); // the tmpfs is writable by the user
    expect(await run(['sh', '-c', 'touch /rootfs-write 2>&1 || echo refused'])).toContain('refused'); // the root is read-only
    // the replica's own process (PID 1, the init): an exec'd process got the engine's default soft limit once in a
    // full run, so the limits are read where the container's configuration certainly applies
    expect(await run(['grep', 'open files', '/proc/1/limits'])).toMatch(/Max open files\s+512\s+1024\s/);
  });
});
