/**
 * The proxy process's copy of what the operator knows: a local Registry holding the endpoints it was sent, and the
 * ProxyManager following it. A configuration is applied (endpoints first, so a new listener starts with its
 * endpoints; then the listeners) and written to the state dir, so a proxy process that starts again (crash, reboot)
 * serves the last configuration at once, before any operator talks to it.
 */
import fs from 'node:fs/promises';
import type { ProxyManager } from '../proxy/proxies.ts';
import type { Registry, RegistryEndpoint } from '../registry/registry.ts';
import type { Logger } from '../util/log.ts';
import { writeAtomic } from './files.ts';
import { checkConfig, type DataplaneConfig, type MirrorEndpoint } from './protocol.ts';

export class DataplaneMirror {
  private configuredAt: Date | null = null;
  private current: DataplaneConfig | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly registry: Registry, private readonly proxies: ProxyManager, private readonly file: string, private readonly log: Logger) {}

  /** ISO time of the configuration in force; null before the first. */
  since(): string | null {
    return this.configuredAt?.toISOString() ?? null;
  }

  /** Serves the persisted configuration, if there is a readable one. False when there is none. */
  async load(): Promise<boolean> {
    const config = await readConfigFile(this.file, this.log);
    if (!config) return false;
    await this.apply(config, false);
    this.log.info('proxy: serving the persisted configuration', { file: this.file, listeners: this.proxies.list().length });
    return true;
  }

  /** Applies `config` (serialized with the previous one) and, with `persist`, writes it for the next start. */
  apply(config: DataplaneConfig, persist = true): Promise<void> {
    const run = async (): Promise<void> => {
      this.setEndpoints(config.endpoints);
      await this.proxies.sync(config);
      this.current = config;
      this.configuredAt = new Date();
      if (persist) await writeAtomic(this.file, JSON.stringify(config));
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /**
   * Tries the listeners that could not open again (a port still held by a process that is stopping, such as the
   * proxy process this one replaces): the data plane does not wait for the operator's next push to take its ports.
   */
  retryFailed(): Promise<void> {
    if (!this.current || !this.proxies.list().some((l) => l.error)) return this.queue;
    const config = this.current;
    this.queue = this.queue.then(() => this.proxies.sync(config), () => this.proxies.sync(config));
    return this.queue;
  }

  private setEndpoints(endpoints: Record<string, MirrorEndpoint[]>): void {
    for (const { name } of this.registry.services()) if (!(name in endpoints)) this.registry.removeService(name);
    for (const [service, list] of Object.entries(endpoints)) this.registry.setReplicas(service, list.map((e) => toRegistry(service, e)));
  }
}

function toRegistry(service: string, e: MirrorEndpoint): RegistryEndpoint {
  // the registry sets every endpoint as a replica: an external one keeps node `external` (what ports[].publish listeners leave out)
  return { id: e.id, service, node: e.external ? 'external' : 'mirror', address: e.address, port: e.port, weight: e.weight, ready: e.ready, source: 'replica', metadata: {} };
}

/** The persisted configuration in `file`, or null (logged) when there is none or it cannot be used. */
export async function readConfigFile(file: string, log: Logger): Promise<DataplaneConfig | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.error('proxy: cannot read the persisted configuration', { file, error: String(err) });
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    log.error('proxy: the persisted configuration is not JSON; waiting for the operator', { file });
    return null;
  }
  const checked = checkConfig(parsed);
  if (!checked.ok) {
    log.error('proxy: the persisted configuration is invalid; waiting for the operator', { file, error: checked.error });
    return null;
  }
  return checked.config;
}
