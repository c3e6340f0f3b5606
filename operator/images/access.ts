/**
 * How the operator reaches image registries, from its settings: one credential source (config.json), one registry
 * client (tags -> digests, tag lists), the resolver of the passes, and the engine credentials of a pull. Every
 * credential the source hands out is also given to `onSecret` (the operator's redactor) the first time it is seen:
 * none should ever reach a log line, and if one did it would be scrubbed.
 */
import type { ImageSettings } from '../settings/settings.ts';
import type { EngineAuth } from '../runtime/runtime.ts';
import type { Logger } from '../util/log.ts';
import { dockerConfigCredentials, engineAuthConfig, type CredentialSource, type RegistryCredential } from './credentials.ts';
import { parseImageName } from './reference.ts';
import { RegistryClient } from './registry-client.ts';
import { ImageResolver } from './resolver.ts';

export interface ImageAccess {
  credentials: CredentialSource;
  client: RegistryClient;
  resolver: ImageResolver;
  /** X-Registry-Auth for the registry of `ref`; undefined without credentials (or for an image ID). */
  pullAuth(ref: string): Promise<EngineAuth | undefined>;
}

export function imageAccess(s: ImageSettings, log: Logger, onSecret: (secret: string) => void, now?: () => number): ImageAccess {
  const file = dockerConfigCredentials(s.registryConfig);
  const seen = (c: RegistryCredential | undefined): RegistryCredential | undefined => {
    for (const v of [c?.password, c?.identityToken, c?.registryToken]) if (v) onSecret(v);
    if (c?.username && c.password) onSecret(`${c.username}:${c.password}`);
    return c;
  };
  const credentials: CredentialSource = { get: async (domain) => seen(await file.get(domain)) };
  const client = new RegistryClient({ credentials, certsDir: s.certsDir, insecure: s.insecure });
  const resolver = new ImageResolver({ client, log, ...(now ? { now } : {}) });
  return {
    credentials, client, resolver,
    async pullAuth(ref) {
      let domain: string;
      try {
        domain = parseImageName(ref).domain;
      } catch {
        return undefined; // an image ID: nothing to pull
      }
      const cred = await credentials.get(domain);
      return cred ? engineAuthConfig(cred, domain) : undefined;
    },
  };
}
