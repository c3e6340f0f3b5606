/** `berth status`: the status of a running berth, or of the status branch with --repo. */
import type { Flags } from '../settings/flags.ts';
import { BerthError, asBerthError } from '../model/errors.ts';
import { settingsFor, type StatusSettings } from '../settings/settings.ts';
import { openGitSource } from '../source/git-source.ts';
import { readStatusDoc } from '../status/read.ts';
import { renderStatusText } from '../status/render.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Io } from './shared.ts';

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
  io.out(s.json ? JSON.stringify(doc, null, 2) : renderStatusText(doc));
  return doc.conditions.find((c) => c.type === 'Ready')?.status === 'True' ? 0 : 1;
}

async function readStatus(s: StatusSettings): Promise<StatusDoc> {
  if (s.repo) {
    const source = await openGitSource({ repo: s.repo, branch: 'main', cacheDir: s.stateDir }).catch((e) => { throw asBerthError(e, 'E_GIT'); });
    const doc = await readStatusDoc(source, s.instance);
    if (!doc) throw new BerthError('E_GIT', `no status for instance "${s.instance}" on branch berth/status of ${source.description}`);
    return doc;
  }
  const url = `${s.server.replace(/\/$/, '')}/v1/status`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((e: Error) => {
    const code = (e.cause as { code?: string } | undefined)?.code;
    const why = code === 'ECONNREFUSED' ? 'nothing listens there' : code ?? e.message;
    throw new BerthError('E_CONFIG', `cannot reach berth at ${s.server} (${why}): is \`berth run\` (or npm start) running? --server names another address`);
  });
  const body = await boundedText(res, STATUS_LIMIT);
  if (!res.ok) throw new BerthError('E_CONFIG', `berth at ${s.server} answered ${res.status}: ${body.slice(0, 200)}`);
  return JSON.parse(body) as StatusDoc;
}

/** A status document is a few KiB per service: anything past this is not berth answering. */
const STATUS_LIMIT = 32 * 1024 * 1024;

/** The response body as text, refusing one larger than `limit` bytes (read stops there). */
async function boundedText(res: Response, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > limit) {
      await res.body?.cancel().catch(() => undefined);
      throw new BerthError('E_CONFIG', `the answer of ${res.url} is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
