/** `berth status`: the status of a running berth, or of the status branch with --repo. */
import type { Flags } from '../settings/flags.ts';
import { BerthError, asBerthError } from '../model/errors.ts';
import { settingsFor, type StatusSettings } from '../settings/settings.ts';
import { openGitSource } from '../source/git-source.ts';
import { readStatusDoc } from '../status/read.ts';
import { renderStatusText } from '../status/render.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Io } from './shared.ts';
import { apiJson } from './api-client.ts';
import { printValue } from './output.ts';

/** `berth status`: the server or the status branch could not be reached (distinct from 1, not ready). */
export const EXIT_UNREACHABLE = 3;

/** Exit 0 when Ready, 1 when not, EXIT_UNREACHABLE when there is no status to read. */
export async function status(flags: Flags, io: Io): Promise<number> {
  const s = settingsFor('status', flags);
  let doc: StatusDoc;
  try {
    doc = await readStatus(s);
  } catch (err) {
    io.err(`berth: ${asBerthError(err, 'E_CONFIG').message.split('\n')[0]}`);
    return EXIT_UNREACHABLE;
  }
  printValue(io, s.output, doc, () => renderStatusText(doc));
  return doc.conditions.find((c) => c.type === 'Ready')?.status === 'True' ? 0 : 1;
}

async function readStatus(s: StatusSettings): Promise<StatusDoc> {
  if (s.repo) {
    const source = await openGitSource({ repo: s.repo, branch: 'main', cacheDir: s.stateDir }).catch((e) => { throw asBerthError(e, 'E_GIT'); });
    const doc = await readStatusDoc(source, s.instance);
    if (!doc) throw new BerthError('E_GIT', `no status for instance "${s.instance}" on branch berth/status of ${source.description}`);
    return doc;
  }
  return apiJson<StatusDoc>(s.client, 'GET', 'v1/status');
}
