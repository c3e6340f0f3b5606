/** kind Node: a Docker engine berth schedules onto (cluster-wide: no namespace). */
import type { NodeManifest } from '../../../model/manifest.ts';
import type { DesiredNode } from '../../../model/state.ts';
import type { Obj } from '../../raw.ts';
import { compareBy } from '../compare.ts';
import type { KindDescriptor } from '../types.ts';
import { checkNodes } from './checks.ts';
import { toNodeSpec } from './defaults.ts';
import { rootFile } from '../../../root.ts';

export const NODE: KindDescriptor<NodeManifest> = {
  kind: 'Node',
  schema: rootFile('schemas/node.schema.json'),
  clusterScoped: true,
  objects: [],
  unlabelled: [],
  toSpec: (s) => toNodeSpec(s as Obj),
  checkAll: (typed, _ctx, report) => checkNodes(typed, report),
  desired: (manifests) => ({ nodes: manifests.map(desiredNode).sort(compareBy('name')) }),
};

function desiredNode(m: NodeManifest): DesiredNode {
  return { name: m.metadata.name, spec: m.spec, source: m.source };
}
