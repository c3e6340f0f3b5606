/** A node's engine connection with dockerode: endpoint + TLS client files (read from the operator host, never from git). */
import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { BerthError } from '../model/errors.ts';
import type { NodeSpec } from '../model/manifest.ts';
import { createDockerRuntime } from './docker.ts';
import { dockerOptionsFromEndpoint } from './docker-options.ts';
import { readEngineCheck } from './engine-check.ts';
import type { NodeConnection } from './node-pool.ts';

/** The dockerode options of a node: TLS turns tcp:// into https with the client certificate. Throws E_CONFIG for an unreadable file. */
export function nodeDockerOptions(name: string, spec: NodeSpec): Docker.DockerOptions {
  const opts = dockerOptionsFromEndpoint(spec.endpoint);
  if (!spec.tls) return opts;
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new BerthError('E_CONFIG', `node ${name}: cannot read TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { ...opts, protocol: 'https', ca: read('CA', spec.tls.ca), cert: read('certificate', spec.tls.cert), key: read('key', spec.tls.key) };
}

/** A node's connection over its dockerode client (constructed in main.ts): its ContainerRuntime, its engine's size and what it lacks. */
export function dockerNodeConnection(docker: Docker): NodeConnection {
  return {
    runtime: createDockerRuntime(docker),
    check: () => readEngineCheck(docker),
    info: async () => {
      const info = (await docker.info()) as { NCPU?: number; MemTotal?: number };
      return { cpu: info.NCPU ?? 1, memory: info.MemTotal ?? 0 };
    },
  };
}
