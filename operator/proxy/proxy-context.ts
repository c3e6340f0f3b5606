/** The state of one proxy listener that its TCP (proxy-tcp.ts) and HTTP (proxy.ts, proxy-http.ts) handlers share. */
import type { HashKey } from '../model/manifest.ts';
import type { HttpListenerContext } from './proxy-http.ts';
import type { UpstreamPool } from './proxy-pool.ts';

/** What the TCP and HTTP handlers share. */
export interface ProxyContext extends HttpListenerContext {
  pool: UpstreamPool;
  hashKey: HashKey | undefined;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}
