/**
 * What an engine behind the Docker API is and whether it has what berth needs, asked when a node connects: the
 * engine (Docker or Podman, from /version), the API version, the init binary, and on Podman its network backend.
 * `missing` keeps the node NotReady with the exact capability; `limits` are differences berth works with (shown in
 * the node's status).
 */
import type Dockerode from 'dockerode';

/** The API version berth speaks (one-shot stats need 1.41: Docker 20.10, Podman 4). */
export const MIN_API_VERSION = '1.41';
/** Podman's first release whose Docker API berth drives (networks with DNS aliases, rename, archive writes). */
export const MIN_PODMAN_VERSION = '4.0';

export interface EngineCheck {
  kind: 'docker' | 'podman';
  /** e.g. `Docker 20.10.24`, `Podman 4.3.1`. */
  engine: string;
  /** What berth needs and the engine lacks: the node stays NotReady while any is missing. */
  missing: string[];
  /** How the engine differs in ways berth works with. */
  limits: string[];
}

/** The answers the check reads: /version, /info and, on Podman, /libpod/info. */
export interface EngineAnswers {
  version: { Version?: string; ApiVersion?: string; Components?: { Name?: string; Version?: string }[] };
  info: { InitBinary?: string };
  libpod?: { host?: { networkBackend?: string } };
}

export function isPodman(version: EngineAnswers['version']): boolean {
  return (version.Components ?? []).some((c) => c.Name === 'Podman Engine');
}

/** Pure: the check of the engine's answers. */
export function checkEngine(a: EngineAnswers): EngineCheck {
  const podman = isPodman(a.version);
  const version = a.version.Version ?? 'unknown';
  const api = a.version.ApiVersion ?? '0';
  const missing: string[] = [];
  const limits: string[] = [];
  if (compareVersions(api, MIN_API_VERSION) < 0) missing.push(`Docker API ${MIN_API_VERSION} or newer (the engine speaks ${api})`);
  if (podman) {
    if (compareVersions(version, MIN_PODMAN_VERSION) < 0) missing.push(`Podman ${MIN_PODMAN_VERSION} or newer (this is ${version})`);
    const backend = a.libpod?.host?.networkBackend;
    if (backend && backend !== 'netavark') limits.push(`network backend ${backend}: replicas find each other by name only with the dnsname plugin (netavark with aardvark-dns has it built in)`);
    limits.push('no in-place update: limits or a restart policy changed by hand are reported, not corrected in place');
    limits.push('image builds run on Buildah (no BuildKit): a rebuild of unchanged files gives a new image ID');
  } else if (!a.info.InitBinary) {
    missing.push('an init binary (docker-init) for init: true: the engine reports none');
  }
  return { kind: podman ? 'podman' : 'docker', engine: `${podman ? 'Podman' : 'Docker'} ${version}`, missing, limits };
}

/** Reads and checks the engine behind `docker`. Rejects when the engine does not answer. */
export async function readEngineCheck(docker: Dockerode): Promise<EngineCheck> {
  const [version, info] = await Promise.all([
    docker.version() as Promise<EngineAnswers['version']>,
    docker.info() as Promise<EngineAnswers['info']>,
  ]);
  const libpod = isPodman(version) ? await libpodInfo(docker).catch(() => undefined) : undefined;
  return checkEngine({ version, info, ...(libpod ? { libpod } : {}) });
}

/** Podman's own /libpod/info (its network backend is not in the Docker-compatible /info). */
function libpodInfo(docker: Dockerode): Promise<EngineAnswers['libpod']> {
  return new Promise((resolve, reject) => {
    docker.modem.dial({ path: '/v4.0.0/libpod/info', method: 'GET', statusCodes: { 200: true } }, (err: unknown, data: unknown) => {
      if (err) reject(err);
      else resolve(data as EngineAnswers['libpod']);
    });
  });
}

/** Numeric comparison of dotted versions (`1.41` > `1.9`; a suffix such as `-rc1` is ignored). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.-]/).map((p) => Number.parseInt(p, 10)).map((n) => (Number.isFinite(n) ? n : 0));
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
