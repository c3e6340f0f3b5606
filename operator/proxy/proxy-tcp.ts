/** TCP mode of the embedded proxy: one upstream per client connection, bytes piped both ways, half-close kept. */
import net from 'node:net';
import type { Endpoint } from './lb/types.ts';
import type { ProxyContext } from './proxy-context.ts';
import { extractKey, type HostPort } from './proxy-key.ts';
import type { WakeHold } from './wake.ts';

/**
 * Serves one accepted client connection: picks an upstream (skipping those that fail to connect), then pipes both
 * ways until both sides have ended. With no reachable upstream the client is closed. A connection with no byte in
 * either direction for `ctx.idleTimeoutMs` is closed, both sides. A service waking from zero (`ctx.hold`, no endpoint)
 * holds the connection until one is ready (holdConnection). Never throws; a client the listener's gate already
 * refused (destroyed) is ignored.
 */
export function handleTcpConnection(client: net.Socket, ctx: ProxyContext, sockets: Set<net.Socket>): void {
  if (client.destroyed) return;
  let upstream: net.Socket | undefined;
  // every byte read from or written to the client re-arms the timer, so it measures inactivity both ways
  client.setTimeout(ctx.idleTimeoutMs, () => {
    ctx.log('proxy: idle connection closed', { idleMs: ctx.idleTimeoutMs });
    client.destroy();
    upstream?.destroy();
  });
  ctx.counters.total++;
  ctx.counters.active++;
  sockets.add(client);
  const access = ctx.access;
  const start = access ? performance.now() : 0;
  let endpoint: string | undefined;
  if (access) {
    access.connections++;
    access.inFlight++;
  }
  client.on('error', (err) => ctx.log('proxy: client connection error', { error: err.message }));
  client.once('close', () => {
    sockets.delete(client);
    ctx.counters.active--;
    if (!access) return;
    access.inFlight--;
    access.record(-1, 'upstream', performance.now() - start, client.bytesRead, client.bytesWritten, endpoint);
  });
  const key = extractKey(ctx.hashKey, { clientIp: client.remoteAddress });
  const forward = (): void => void dial(ctx, key, client).then((up) => {
    if (!up) {
      client.destroy();
      return;
    }
    if (client.destroyed) {
      up.socket.destroy();
      return;
    }
    upstream = up.socket;
    endpoint = up.ep.address;
    sockets.add(up.socket);
    splice(client, up.socket, up.ep, ctx);
    up.socket.once('close', () => sockets.delete(up.socket));
  });
  const hold = ctx.hold;
  if (hold && ctx.pool.size === 0) holdConnection(client, hold, forward, ctx);
  else forward();
}

/**
 * A connection to a service waking from zero (wake.ts): accepted and kept paused (nothing read but what the socket's
 * own buffer takes) until an endpoint is ready, then dialed as any other. Over the queue or held past its timeout it is
 * closed; a client that resets meanwhile leaves the queue. (A client's FIN is not seen while paused: TCP mode keeps
 * half-closed connections, so such a one waits for its timeout.)
 */
function holdConnection(client: net.Socket, hold: WakeHold, forward: () => void, ctx: ProxyContext): void {
  client.pause();
  const unhold = hold.hold({
    forward: () => {
      client.off('close', unhold!);
      forward();
    },
    expire: () => {
      ctx.log('proxy: no endpoint became ready for a held connection', { service: hold.service, timeoutMs: hold.timeoutMs });
      client.destroy();
    },
  });
  if (!unhold) {
    ctx.log('proxy: wake queue full; connection closed', { service: hold.service });
    client.destroy();
    return;
  }
  client.once('close', unhold);
}

/** Tries endpoints in the balancer's order, each at most once, until one accepts; undefined when none does. */
async function dial(ctx: ProxyContext, key: string | undefined, client: net.Socket): Promise<{ ep: Endpoint; socket: net.Socket } | undefined> {
  const tried = new Set<string>();
  for (;;) {
    if (client.destroyed) return undefined;
    const ep = ctx.pool.pick(key, tried);
    if (!ep) {
      ctx.log('proxy: no upstream accepted the connection', { tried: tried.size });
      return undefined;
    }
    tried.add(ep.id);
    try {
      return { ep, socket: await connect(ctx.pool.target(ep), ctx.connectTimeoutMs) };
    } catch (err) {
      ctx.counters.failedConnects++;
      ctx.log('proxy: upstream connect failed', { endpoint: ep.id, address: ep.address, error: (err as Error).message });
    }
  }
}

/** Opens a TCP connection (half-open allowed); rejects on error or after `timeoutMs`. */
export function connect(target: HostPort, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/**
 * Pipes client <-> upstream. An end from one side is passed on as an end (half-close); an error or reset on one
 * side destroys the other. The upstream counts as open (least-connections, draining) until its socket closes.
 */
function splice(client: net.Socket, upstream: net.Socket, ep: Endpoint, ctx: ProxyContext): void {
  ctx.pool.acquire(ep);
  upstream.setNoDelay(true);
  client.setNoDelay(true);
  upstream.on('error', (err) => ctx.log('proxy: upstream connection error', { endpoint: ep.id, error: err.message }));
  upstream.once('close', (hadError) => {
    ctx.pool.release(ep);
    if (hadError || !client.writableEnded) client.destroy();
  });
  client.once('close', (hadError) => {
    if (hadError || !upstream.writableEnded) upstream.destroy();
  });
  client.pipe(upstream);
  upstream.pipe(client);
}
