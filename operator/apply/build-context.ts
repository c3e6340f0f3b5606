/** The files of a build context, read from a repository snapshot for an image build. */
import type { DesiredService } from '../model/state.ts';
import type { BuildFile } from '../runtime/runtime.ts';
import type { RepoSnapshot } from '../source/source.ts';

/** The files of a service's build context at the snapshot's revision, relative to the context. */
export async function readBuildContext(snapshot: RepoSnapshot, svc: DesiredService): Promise<BuildFile[]> {
  if (svc.image.type !== 'build') return [];
  const ctx = svc.image.context.replace(/^\.?\/?/, '').replace(/\/$/, '');
  const entries = await snapshot.list(ctx);
  const prefix = ctx === '' || ctx === '.' ? '' : `${ctx}/`;
  return Promise.all(entries.map(async (e) => ({ path: e.path.slice(prefix.length), mode: e.mode, content: await snapshot.read(e.path) })));
}
