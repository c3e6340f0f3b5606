/**
 * Published ports of a compose stack on the real engine: one service publishes two tcp ports through berth's proxy
 * (busybox httpd on container ports 80 and 81, each serving its own body), and a udp port is the engine's own port
 * binding (busybox udhcpd on 67/udp, which logs the DHCP DISCOVER the test sends from the host to 127.0.0.1).
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, execIn, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { freePort } from './helpers/net.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('ports');
let remote: Remote;
let op: TestOperator;
let web80: number;
let web81: number;
let udp: number;

const compose = (): string => `services:
  web:
    image: berth-local/busybox:1
    command: ["sh", "-c", "mkdir -p /a /b && echo port-80 > /a/index.html && echo port-81 > /b/index.html && httpd -p 81 -h /b && exec httpd -f -p 80 -h /a"]
    ports:
      - "${web80}:80"
      - target: 81
        published: ${web81}
  dhcp:
    image: berth-local/busybox:1
    command: ["sh", "-c", "mkdir -p /tmp /var/lib/misc && exec udhcpd -f 2>/tmp/udhcpd.log"]
    cap_add: [NET_RAW]
    ports:
      - "${udp}:67/udp"
`;

/** A UDP port free on every address right now (bind 0, read it back, close). */
async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '0.0.0.0', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** A DHCP DISCOVER (BOOTP request, magic cookie, option 53 = 1) from a made-up client address. */
function dhcpDiscover(): Buffer {
  const p = Buffer.alloc(244);
  p.writeUInt8(1, 0); // op: request
  p.writeUInt8(1, 1); // htype: ethernet
  p.writeUInt8(6, 2); // hlen
  p.writeUInt32BE(0x12345678, 4); // xid
  Buffer.from('02aabbccddee', 'hex').copy(p, 28); // chaddr
  Buffer.from([99, 130, 83, 99, 53, 1, 1, 255]).copy(p, 236);
  return p;
}

async function send(port: number, datagram: Buffer): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => socket.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  } finally {
    socket.close();
  }
}

async function body(port: number): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  return res?.ok ? res.text() : undefined;
}

beforeAll(async () => {
  [web80, web81, udp] = [await freePort(), await freePort(), await freeUdpPort()];
  remote = await makeRemote({ 'ports-e2e/compose.yaml': compose() });
  op = await startTestOperator(remote.url, instance, { 'proxy-host': '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

describe('published ports of a compose stack', () => {
  it("publishes two tcp ports of one service through berth's proxy, each to its own container port", async () => {
    const timer = setInterval(() => op.trigger('test'), 500);
    try {
      const first = await waitFor(() => body(web80), { timeoutMs: 60_000, intervalMs: 300, what: `web through ${web80}` });
      const second = await waitFor(() => body(web81), { timeoutMs: 30_000, intervalMs: 300, what: `web through ${web81}` });
      expect([first, second]).toEqual(['port-80\n', 'port-81\n']);
    } finally {
      clearInterval(timer);
    }
    const { proxies } = (await (await fetch(`${op.url}/v1/proxies`, { headers: op.auth })).json()) as { proxies: { address: string; owners: string[] }[] };
    expect(proxies.filter((l) => l.owners.includes('ports-e2e/web')).map((l) => l.address).sort()).toEqual([`127.0.0.1:${web80}`, `127.0.0.1:${web81}`].sort());
  }, 120_000);

  it('binds a udp port on the engine: a datagram sent to the host port reaches the replica', async () => {
    const [c] = await waitFor(async () => {
      const list = await runningOf(docker, instance, 'dhcp');
      return list.length ? list : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300, what: 'the dhcp replica running' });
    const inspect = await docker.getContainer(c!.Id).inspect();
    expect(inspect.HostConfig.PortBindings).toEqual({ '67/udp': [{ HostIp: '', HostPort: String(udp) }] });
    const log = (): Promise<string> => execIn(docker, c!.Id, ['cat', '/tmp/udhcpd.log']);
    await waitFor(async () => (await log()).includes('started'), { timeoutMs: 30_000, intervalMs: 200, what: 'udhcpd listening' });
    expect(await log()).not.toContain('sending OFFER');
    // udp has no handshake: send again until the replica has logged one (the binding may take a moment to be set up)
    const answered = await waitFor(async () => {
      await send(udp, dhcpDiscover());
      const text = await log();
      return text.includes('sending OFFER') ? text : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'udhcpd receiving the DISCOVER' });
    expect(answered).toMatch(/udhcpd: sending OFFER to \d+\.\d+\.\d+\.\d+/);
  }, 120_000);
});
