/**
 * The plan as GitHub-flavoured markdown, for pull request comments, plain-git review branches
 * (`<instance>/plans/<branch>.md`) and `berth plan --format markdown`. Pure: data in, string out.
 * Images built from the repository show as "build at merge" with their content hash: planning never builds.
 */
import { actionView, renderText } from '../diff/render.ts';
import { summarize } from '../diff/diff.ts';
import { LABELS } from '../model/keys.ts';
import type { ManifestIssue, ManifestWarning } from '../model/errors.ts';
import type { Action, Plan } from '../model/plan.ts';
import { code, codeBlock, escapeText } from './escape.ts';
import { PREVIEW_LIMIT, type FireTime, type JobsPreview } from '../jobs/preview.ts';

export interface PlanMarkdownInput {
  instance: string;
  /** The revision planned (the pull request's head, or a review branch's tip). */
  revision: string;
  /** The revision the plan is compared against (the base branch), when known. */
  base?: { revision: string };
  /** Null when the revision could not be planned (invalid manifests, or `error`). */
  plan: Plan | null;
  /** Validation issues: when present, the revision is rejected and every issue is listed. */
  issues?: ManifestIssue[];
  /** Any other failure to plan (git, build context, engine unreachable). */
  error?: { code: string; message: string };
  /** Accepted but worth a reviewer's eye (e.g. a privileged replica). */
  warnings?: readonly ManifestWarning[];
  /** What the revision's Jobs and CronJobs do at merge (jobs/preview.ts): a section each, their run-job actions not in the tables. */
  jobs?: JobsPreview;
}

const LABEL: Record<Action['type'], string> = {
  'create': 'create', 'replace': 'replace', 'update': 'update', 'start': 'start', 'unpause': 'unpause',
  'remove': 'delete', 'build-image': 'build', 'pull-image': 'pull', 'create-volume': 'create volume', 'remove-volume': 'delete volume',
  'create-network': 'create network', 'remove-network': 'delete network', 'run-job': 'run job', 'stop-job': 'stop job',
};

/** Renders the whole review: heading, summary, then either the issues, the error, or the tables and the full list. */
export function renderPlanMarkdown(input: PlanMarkdownInput): string {
  const out = [heading(input), ''];
  if (input.issues?.length) return [...out, ...issuesSection(input.issues)].join('\n');
  if (input.error) {
    out.push(`⚠️ **plan failed** (${code(input.error.code)}): ${escapeText(input.error.message)}`);
    return out.join('\n');
  }
  if (!input.plan) return [...out, '_No plan available for this revision._'].join('\n');
  for (const w of input.warnings ?? []) out.push(`⚠️ **warning** ${code(`${w.file}:${w.line}`)} ${code(w.field)}: ${escapeText(w.message)}`, '');
  const plan = input.plan;
  const autoscaled = (plan.autoscaled ?? []).map((a) => `↕️ ${code(a.service)} is autoscaled between ${a.min} and ${a.max} replicas, now ${a.replicas}`);
  const jobs = input.jobs ? jobsSections(input.jobs) : [];
  if (plan.actions.length === 0) return [...out, `**no changes**: the engines already match revision ${code(shortRev(input.revision))}`, ...(autoscaled.length ? ['', ...autoscaled] : []), ...(jobs.length ? ['', ...jobs] : [])].join('\n');
  if (autoscaled.length) out.push(...autoscaled, '');
  out.push(`**${reviewSummary(plan)}**`, '');
  const { services, infra } = group(input.jobs ? plan.actions.filter((a) => a.type !== 'run-job') : plan.actions);
  for (const [service, actions] of services) out.push(`#### ${code(service)}`, '', ...serviceTable(actions), '');
  if (infra.length) out.push('#### Volumes and networks', '', ...infraTable(infra), '');
  if (jobs.length) out.push(...jobs, '');
  out.push(
    '<details>', `<summary>All ${plan.actions.length} action(s), in apply order</summary>`, '',
    codeBlock(renderText(plan)), '', '</details>',
  );
  return out.join('\n');
}

/** `3 to create, 1 to replace, 2 to delete, 1 image to build at merge, 1 network to create`; `no changes` when empty. */
export function reviewSummary(plan: Plan): string {
  const s = summarize(plan);
  const count = (type: Action['type']) => plan.actions.filter((a) => a.type === type).length;
  const parts: [number, string][] = [
    [s.create, 'to create'], [s.replace, 'to replace'], [s.update, 'to update'], [s.remove, 'to delete'],
    [count('build-image'), plural(count('build-image'), 'image') + ' to build at merge'],
    [count('create-volume'), plural(count('create-volume'), 'volume') + ' to create'],
    [count('remove-volume'), plural(count('remove-volume'), 'volume') + ' to delete'],
    [count('create-network'), plural(count('create-network'), 'network') + ' to create'],
    [count('remove-network'), plural(count('remove-network'), 'network') + ' to delete'],
    [count('run-job'), plural(count('run-job'), 'job container') + ' to run'],
  ];
  const shown = parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  return shown.length ? shown.join(', ') : 'no changes';
}

/** `#### Jobs at merge` and `#### CronJobs`, at most `limit` entries each, every name and text escaped. */
export function jobsSections(p: JobsPreview, limit = PREVIEW_LIMIT): string[] {
  const out: string[] = [];
  const more = (n: number) => (n > limit ? [`- ... and ${n - limit} more`] : []);
  if (p.jobs.length) {
    out.push('#### Jobs at merge', '');
    for (const j of p.jobs.slice(0, limit)) {
      const lead = j.state === 'run' || j.state === 'rerun' ? `**${escapeText(j.summary)}**` : escapeText(j.summary);
      out.push(`- ${code(j.key)}: ${lead}`);
      for (const s of j.holds) out.push(`  - service ${code(s)} rolls out after job ${code(j.key)} succeeds`);
    }
    out.push(...more(p.jobs.length));
  }
  if (p.cronJobs.length) {
    if (out.length) out.push('');
    out.push('#### CronJobs', '', `Next times after ${code(p.now)}, on each CronJob's clock (UTC in brackets):`, '');
    for (const c of p.cronJobs.slice(0, limit)) {
      const human = c.human ? ` (${escapeText(c.human)})` : '';
      out.push(`- ${code(c.key)}: ${code(c.schedule)}${human} in ${code(c.timeZone)}, concurrencyPolicy ${escapeText(c.concurrencyPolicy)}${c.suspend ? ', **suspended**: no run starts' : ''}${c.added ? ' · new' : ''}`);
      if (c.error) out.push(`  - ❌ invalid schedule: ${escapeText(c.error)}`);
      else out.push(`  - next: ${fires(c.next)}`);
      if (c.changed) {
        const was = c.changed.error ? `unreadable (${escapeText(c.changed.error)})` : fires(c.changed.next);
        out.push(`  - **schedule changed**: was ${code(c.changed.schedule)} in ${code(c.changed.timeZone)}, next ${was}`);
      }
      if (c.starting.length) out.push(`  - starts at merge: run ${c.starting.map((r) => code(r)).join(', ')}`);
    }
    out.push(...more(p.cronJobs.length));
  }
  return out;
}

function fires(next: FireTime[]): string {
  return next.length ? next.map((f) => (f.at === f.utc ? code(f.utc) : `${code(f.at)} (${code(f.utc)})`)).join(', ') : '—';
}

function heading(input: PlanMarkdownInput): string {
  const base = input.base ? ` against ${code(shortRev(input.base.revision))}` : '';
  return `### berth plan · instance ${code(input.instance)} · revision ${code(shortRev(input.revision))}${base}`;
}

function issuesSection(issues: ManifestIssue[]): string[] {
  return [
    `❌ **${issues.length} error(s)**: the revision is rejected and nothing would be applied.`, '',
    ...issues.map((i) => `- ${code(`${i.file}:${i.line}:${i.col}`)}${i.field ? ` ${code(i.field)}` : ''}: ${escapeText(i.message)} (${code(i.code)})`),
  ];
}

/** Service actions grouped by service (sorted), plan order within each; the rest (volumes, networks) apart. */
function group(actions: Action[]): { services: [string, Action[]][]; infra: Action[] } {
  const byService = new Map<string, Action[]>();
  const infra: Action[] = [];
  for (const a of actions) {
    if (a.service === undefined) infra.push(a);
    else byService.set(a.service, [...(byService.get(a.service) ?? []), a]);
  }
  return { services: [...byService].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), infra };
}

function serviceTable(actions: Action[]): string[] {
  return [
    '| action | replica | reason | cause |', '| --- | --- | --- | --- |',
    ...actions.map((a) => row([LABEL[a.type], replicaCell(a), reasonCell(a), a.cause])),
  ];
}

function infraTable(actions: Action[]): string[] {
  return [
    '| action | name | reason | cause |', '| --- | --- | --- | --- |',
    ...actions.map((a) => {
      const v = actionView(a);
      const name = v.volume ?? v.network ?? v.container ?? (v.job ? `${v.job} #${v.completion}.${v.attempt}` : undefined);
      return row([LABEL[a.type], name ? code(name, true) : '—', escapeText(a.reason), a.cause]);
    }),
  ];
}

function replicaCell(a: Action): string {
  const v = actionView(a);
  if (v.replica !== undefined) return String(v.replica);
  if ('container' in a) {
    const n = a.container.labels[LABELS.replica];
    return n && /^\d+$/.test(n) ? n : code(a.container.name, true);
  }
  return '—';
}

function reasonCell(a: Action): string {
  if (a.type !== 'build-image' || a.desired.image.type !== 'build') return escapeText(a.reason);
  const { context, contentHash } = a.desired.image;
  const hash = contentHash.length > 12 ? `${contentHash.slice(0, 12)}…` : contentHash;
  return `build at merge · context ${code(context, true)} · content ${code(hash, true)}`;
}

/** Cells are already escaped or code spans; labels and causes are berth's own words. */
function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

function shortRev(rev: string): string {
  return /^[0-9a-f]{40,64}$/i.test(rev) ? rev.slice(0, 7) : rev;
}
