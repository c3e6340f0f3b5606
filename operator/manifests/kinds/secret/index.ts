/**
 * kind Secret: an encrypted file of the repository (SOPS or age). The loader reads its bytes from the snapshot and
 * checks that they are encrypted (files.ts), never decrypts: the desired state carries the ciphertext and its sha256,
 * and the operator decrypts at apply time, into the replicas that name the Secret in spec.secrets (apply/secrets.ts).
 */
import type { SecretManifest } from '../../../model/manifest.ts';
import type { Obj } from '../../raw.ts';
import type { KindDescriptor } from '../types.ts';
import { rootFile } from '../../../root.ts';

export const SECRET: KindDescriptor<SecretManifest> = {
  kind: 'Secret',
  schema: rootFile('schemas/secret.schema.json'),
  clusterScoped: false,
  objects: [],
  unlabelled: [],
  toSpec: (s) => toSecretSpec((s ?? {}) as Obj),
  // The resolved files (read and checked against the snapshot by files.ts) are the desired Secrets, sorted by key.
  desired: (_manifests, ctx) => {
    const secrets = [...(ctx.secrets?.values() ?? [])].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return secrets.length ? { secrets } : {}; // none: the desired state of a berth without Secrets
  },
};

function toSecretSpec(spec: Obj): SecretManifest['spec'] {
  const format = spec.format as SecretManifest['spec']['format'];
  return { file: spec.file as string, ...(format ? { format } : {}) };
}
