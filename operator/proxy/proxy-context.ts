/** The state of one proxy listener that its TCP (proxy-tcp.ts) and HTTP (http-connection.ts) handlers share. */
import type { HashKey } from '../model/manifest.ts';
import type { H1Listener } from './http-connection.ts';
import type { UpstreamPool } from './proxy-pool.ts';
import type { WakeHold } from './wake.ts';

/** What the TCP and HTTP handlers share. */
export interface ProxyContext extends H1Listener {
  pool: UpstreamPool;
  hashKey: HashKey | undefined;
  /** The service may be at zero (`wake`): connections and requests finding no endpoint wait here. */
  hold?: WakeHold;
}
