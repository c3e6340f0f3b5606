/** Loopback networking helpers for tests and benches. */
import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (listen on 0, read it back, close). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Relay {
  /** The loopback port (kept across close/open, so a node's endpoint stays the same). */
  port(): number;
  open(): Promise<void>;
  /** Stops listening and destroys every relayed connection: the far side looks dead. */
  close(): Promise<void>;
}

/** A loopback TCP relay to a unix socket (an engine reached through it "dies" when the relay closes). */
export function createRelay(socketPath: string): Relay {
  let server: net.Server | null = null;
  let port = 0;
  const sockets = new Set<net.Socket>();
  return {
    port: () => port,
    async open() {
      server = net.createServer((client) => {
        const upstream = net.connect(socketPath);
        sockets.add(client).add(upstream);
        const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
      port = (server.address() as net.AddressInfo).port;
    },
    async close() {
      const s = server;
      server = null;
      for (const c of sockets) c.destroy();
      await new Promise((resolve) => (s ? s.close(resolve) : resolve(undefined)));
    },
  };
}
