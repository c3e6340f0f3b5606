/** kind Volume: a named Docker volume, retained by default. */
import type { VolumeManifest } from '../../../model/manifest.ts';
import { resourceKey, volumeName } from '../../../model/keys.ts';
import type { DesiredVolume } from '../../../model/state.ts';
import type { Obj } from '../../raw.ts';
import { compareBy } from '../compare.ts';
import type { KindDescriptor } from '../types.ts';
import { checkVolume } from './checks.ts';
import { rootFile } from '../../../root.ts';

export const VOLUME: KindDescriptor<VolumeManifest> = {
  kind: 'Volume',
  schema: rootFile('schemas/volume.schema.json'),
  clusterScoped: false,
  objects: ['volume'],
  unlabelled: ['volume'],
  toSpec: (s) => toVolumeSpec((s ?? {}) as Obj),
  check: (doc, m, _ctx, report) => checkVolume(doc, m, report),
  desired: (manifests, ctx) => ({ volumes: manifests.map((m) => desiredVolume(ctx.instance, m)).sort(compareBy('key')) }),
};

/** Defaults of a schema-valid Volume spec: driver local, no options, retained. */
function toVolumeSpec(spec: Obj): VolumeManifest['spec'] {
  return {
    driver: (spec.driver as string | undefined) ?? 'local',
    driverOpts: { ...((spec.driverOpts as Record<string, string> | undefined) ?? {}) },
    retain: (spec.retain as boolean | undefined) ?? true,
  };
}

function desiredVolume(instance: string, m: VolumeManifest): DesiredVolume {
  const { name, namespace } = m.metadata;
  return { key: resourceKey(namespace, name), namespace, name, dockerName: volumeName(instance, namespace, name), spec: m.spec, source: m.source };
}
