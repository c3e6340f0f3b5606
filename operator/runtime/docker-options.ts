/** Docker endpoint strings -> dockerode connection options, and a printable name of the endpoint a client talks to. */
import type Dockerode from 'dockerode';
import { BerthError } from '../model/errors.ts';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/**
 * Connection options for an endpoint: `unix:///path/docker.sock`, a bare socket path, `tcp://host:port` (plain HTTP),
 * `http://host:port` or `https://host:port` (TLS files are added by the caller). Undefined -> `env.DOCKER_HOST`,
 * else the default socket. Throws BerthError E_CONFIG for anything else.
 * Options carry `host` or `socketPath` explicitly set to undefined, so dockerode's own DOCKER_HOST defaults never override them.
 */
export function dockerOptionsFromEndpoint(endpoint?: string, env: NodeJS.ProcessEnv = process.env): Dockerode.DockerOptions {
  const value = (endpoint ?? env['DOCKER_HOST'] ?? '').trim();
  if (value === '') return { socketPath: DEFAULT_SOCKET, host: undefined };
  if (value.startsWith('/')) return { socketPath: value, host: undefined };
  if (value.startsWith('unix://')) return { socketPath: value.slice('unix://'.length) || DEFAULT_SOCKET, host: undefined };
  return networkOptions(value);
}

function networkOptions(value: string): Dockerode.DockerOptions {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badEndpoint(value);
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!['tcp', 'http', 'https'].includes(scheme) || url.hostname === '') throw badEndpoint(value);
  const protocol = scheme === 'https' ? 'https' : 'http';
  const port = url.port === '' ? (protocol === 'https' ? 2376 : 2375) : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { protocol, host, port, socketPath: undefined };
}

function badEndpoint(value: string): BerthError {
  return new BerthError('E_CONFIG', `docker endpoint "${value}" is not unix:///path, /path, tcp://host:port, http://host:port or https://host:port`);
}

interface ModemLike {
  socketPath?: unknown;
  host?: string;
  port?: number | string;
  protocol?: string;
}

/** A printable name of the endpoint a dockerode client talks to, e.g. `unix:///var/run/docker.sock` or `https://10.0.0.2:2376`. */
export function describeEndpoint(docker: Dockerode): string {
  const modem = (docker as unknown as { modem?: ModemLike }).modem ?? {};
  if (modem.host) return `${modem.protocol ?? 'http'}://${modem.host}${modem.port ? `:${modem.port}` : ''}`;
  if (typeof modem.socketPath === 'string') return `unix://${modem.socketPath}`;
  return `unix://${DEFAULT_SOCKET}`;
}
