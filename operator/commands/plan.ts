/** `berth plan`: prints what applying a revision would change (text, JSON or the pull request's markdown). */
import type { Flags } from '../settings/flags.ts';
import { renderJson, renderText } from '../diff/render.ts';
import { loadDesired } from '../manifests/index.ts';
import { ValidationError, formatIssue, formatWarning, type ManifestIssue } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import { planRevision } from '../reconciler/plan-revision.ts';
import { escapeText } from '../review/escape.ts';
import { renderPlanMarkdown } from '../review/markdown.ts';
import { jobsPreviewOf } from '../review/reviewer.ts';
import { clusterView } from '../runtime/cluster.ts';
import { settingsFor, type ManifestSettings } from '../settings/settings.ts';
import type { GitSource } from '../source/source.ts';
import { readStatusDoc } from '../status/read.ts';
import { DEFAULT_NODE_GRACE_MS, connectEngine, connectSource, loadOptions, registryAccess, type Io } from './shared.ts';
import { silentLogger } from '../util/log.ts';
import { formatValue } from './output.ts';

export async function plan(flags: Flags, io: Io): Promise<number> {
  const s = settingsFor('plan', flags);
  const images = registryAccess(s, silentLogger);
  const [source, { runtime, pool }] = await Promise.all([connectSource(s), connectEngine(s, DEFAULT_NODE_GRACE_MS, undefined, undefined, images)]);
  const revision = s.revision ? await source.resolveRevision(s.revision) : await source.head(); // abbreviated ids too (berth history prints them)
  const { format, instance } = s;
  const loaded = await loadOrIssues(source, revision, s.manifests, instance);
  if (!('desired' in loaded)) {
    if (format === 'markdown') io.out(renderPlanMarkdown({ instance, revision, plan: null, issues: loaded.issues }));
    else io.err(`revision ${revision.slice(0, 12)} is invalid:\n${loaded.issues.map(formatIssue).join('\n')}`);
    return 1;
  }
  const { desired } = loaded;
  if (desired.warnings?.length && format !== 'json' && format !== 'yaml') io.err(desired.warnings.map(formatWarning).join('\n'));
  const cluster = async (d: DesiredState) => {
    for (const f of pool.sync(d.nodes)) io.err(`node ${f.name}: ${f.error}`);
    await pool.pingAll();
    return clusterView(pool, runtime);
  };
  const status = await readStatusDoc(source, instance).catch(() => null);
  const load = (snap: Parameters<typeof loadDesired>[0]) => loadDesired(snap, loadOptions(s.manifests, instance));
  const { plan: result, unschedulable } = await planRevision({ source, runtime, instance, load, cluster, images: images.resolver }, desired, status);
  pool.stop();
  const jobs = await jobsPreviewOf({ source, load }, desired, result, status);
  const waiting = [...unschedulable].map(([svc, why]) => `${svc}: ${why}`);
  if (format === 'json' || format === 'yaml') io.out(formatValue(format, { ...(JSON.parse(renderJson(result, jobs)) as object), unschedulable: Object.fromEntries(unschedulable) }, () => ''));
  else if (format === 'markdown') io.out(renderPlanMarkdown({ instance, revision, plan: result, warnings: desired.warnings, ...(jobs ? { jobs } : {}) }) + (waiting.length ? `\n\n**Unschedulable**\n\n${waiting.map((w) => `- ${escapeText(w)}`).join('\n')}` : ''));
  else io.out(renderText(result, jobs) + (waiting.length ? `\nunschedulable:\n${waiting.map((w) => `  ${w}`).join('\n')}` : ''));
  if (s.detailedExitcode) return result.actions.length || waiting.length ? 2 : 0;
  return 0;
}

/** The desired state of a revision, or its validation issues. */
async function loadOrIssues(source: GitSource, revision: string, m: ManifestSettings, instance: string): Promise<{ desired: DesiredState } | { issues: ManifestIssue[] }> {
  try {
    return { desired: await loadDesired(await source.snapshot(revision), loadOptions(m, instance)) };
  } catch (err) {
    if (err instanceof ValidationError) return { issues: err.issues };
    throw err;
  }
}
