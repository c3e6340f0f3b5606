/**
 * The two extra Docker engines scripts/engines.sh runs beside the main one (started by test/global-setup.ts), so tests
 * can drive several "hosts": berth-e1 on a unix socket, berth-e2 on TCP with TLS client certificates. Each has its own
 * bridge subnet and its own pool for user-defined networks. loadImage copies an image from the main engine for setup
 * only: berth itself must distribute images on its own. Stop or restart an engine only through scripts/engines.sh
 * (a dockerd 20.10 restarted otherwise with its address pool deletes the main engine's docker0).
 */
import { readFileSync } from 'node:fs';
import Dockerode from 'dockerode';
import { testDocker } from './docker.ts';

/** Where scripts/engines.sh keeps e2's CA, server and client certificates (generated once, reused). */
export const ENGINES_TLS_DIR = '/var/lib/berth-engines/tls';

/** Paths of client TLS files, as a Node manifest's spec.tls takes them. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** One extra engine: its name, its Docker endpoint (as a Node's spec.endpoint), a client, and its address ranges. */
export interface ExtraEngine {
  name: string;
  endpoint: string;
  docker: Dockerode;
  /** Subnet of the engine's default bridge (br-berth-eN). */
  bridgeSubnet: string;
  /** --default-address-pool base: user-defined networks of this engine get /24s from it. */
  addressPool: string;
}

export interface ExtraEngines {
  e1: ExtraEngine;
  e2: ExtraEngine & { tls: TlsFiles };
}

/** Client certificate files for berth-e2. */
export function engineTls(): TlsFiles {
  return { ca: `${ENGINES_TLS_DIR}/ca.pem`, cert: `${ENGINES_TLS_DIR}/cert.pem`, key: `${ENGINES_TLS_DIR}/key.pem` };
}

/** Clients of both extra engines (they must be running: global setup starts them). */
export function extraEngines(): ExtraEngines {
  const socketPath = '/run/berth-engines/e1/docker.sock';
  const tls = engineTls();
  const host = '127.0.0.1';
  const port = 23760;
  return {
    e1: {
      name: 'berth-e1',
      endpoint: `unix://${socketPath}`,
      docker: new Dockerode({ socketPath }),
      bridgeSubnet: '10.99.1.0/24',
      addressPool: '10.101.0.0/16',
    },
    e2: {
      name: 'berth-e2',
      endpoint: `tcp://${host}:${port}`,
      tls,
      docker: new Dockerode({ protocol: 'https', host, port, ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) }),
      bridgeSubnet: '10.99.2.0/24',
      addressPool: '10.102.0.0/16',
    },
  };
}

/**
 * Streams `docker save ref` from `source` (the main engine by default) into `target`, unless `target` already holds
 * the same image ID. Test setup only.
 */
export async function loadImage(target: Dockerode, ref: string, source: Dockerode = testDocker()): Promise<void> {
  const wanted = (await source.getImage(ref).inspect()).Id;
  const present = await target.getImage(ref).inspect().then((i) => i.Id, () => undefined);
  if (present === wanted) return;
  const tar = await source.getImage(ref).get();
  const response = await target.loadImage(tar);
  await new Promise<void>((resolve, reject) => {
    target.modem.followProgress(response, (err: Error | null) => (err ? reject(new Error(`loading ${ref}: ${err.message ?? String(err)}`)) : resolve()));
  });
}
