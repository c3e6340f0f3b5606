/** Plan rendering: the same value printed as text (CLI) or JSON (machines). */
import type { Action, Plan } from '../model/plan.ts';
import type { ImageSource } from '../model/state.ts';
import { summarize } from './diff.ts';
import { previewText, type JobsPreview } from '../jobs/preview.ts';

/** A plain action record without embedded specs, stable for JSON output. */
export interface ActionView {
  type: Action['type'];
  cause: Action['cause'];
  service?: string;
  /** The Job (namespace/name), its completion and attempt. */
  job?: string;
  completion?: number;
  attempt?: number;
  replica?: number;
  container?: string;
  volume?: string;
  network?: string;
  image?: string;
  reason: string;
}

export function actionView(a: Action): ActionView {
  const v: ActionView = { type: a.type, cause: a.cause, reason: a.reason };
  if (a.service) v.service = a.service;
  if (a.job) v.job = a.job;
  switch (a.type) {
    case 'create': v.replica = a.replica; v.image = imageLabel(a.desired.image); break;
    case 'replace': v.replica = a.replica; v.container = a.old.name; v.image = imageLabel(a.desired.image); break;
    case 'pull-image': v.image = imageLabel(a.desired.image); break;
    case 'start': case 'unpause': case 'remove': case 'update': v.container = a.container.name; break;
    case 'build-image': v.image = a.desired.image.ref; break;
    case 'run-job': v.completion = a.completion; v.attempt = a.attempt; v.image = imageLabel(a.desired.image); break;
    case 'stop-job': v.container = a.container.name; break;
    case 'create-volume': v.volume = a.volume.dockerName; break;
    case 'remove-volume': v.volume = a.name; break;
    case 'create-network': v.network = a.network.dockerName; break;
    case 'remove-network': v.network = a.name; break;
  }
  return v;
}

/** The image as written, with the digest its tag resolved to: `shop/api:2.3 (sha256:...)`. */
export function imageLabel(image: ImageSource): string {
  return image.type === 'ref' && image.digest ? `${image.ref} (${image.digest})` : image.ref;
}

/** One line: `3 to create, 1 to replace, 0 to update, 2 to remove`. */
export function summaryLine(plan: Plan): string {
  const s = summarize(plan);
  const parts = [`${s.create} to create`, `${s.replace} to replace`, `${s.update} to update`, `${s.remove} to remove`];
  if (s.other) parts.push(`${s.other} other`);
  return parts.join(', ');
}

const SIGILS: Record<Action['type'], string> = {
  'create': '+', 'replace': '~', 'update': '~', 'start': '>', 'unpause': '>', 'remove': '-',
  'run-job': '+', 'stop-job': '-',
  'build-image': '*', 'pull-image': '*', 'create-volume': '+', 'remove-volume': '-', 'create-network': '+', 'remove-network': '-',
};

/** Human-readable plan, one action per line with its reason; then, given a preview, what the Jobs and CronJobs do at merge. */
export function renderText(plan: Plan, jobs?: JobsPreview): string {
  const head = `Plan for revision ${plan.revision.slice(0, 12)}: ${plan.actions.length ? summaryLine(plan) : 'no changes, the engine matches the revision'}`;
  const lines = plan.actions.map((a) => {
    const v = actionView(a);
    const job = v.job ? `job ${v.job}${v.completion !== undefined ? ` completion ${v.completion} attempt ${v.attempt}` : ''}` : '';
    const target = [v.service, job, v.replica !== undefined ? `#${v.replica}` : '', v.container ? `(${v.container})` : '', v.volume ?? '', v.network ?? '', a.type === 'build-image' ? v.image : '']
      .filter(Boolean).join(' ');
    return `  ${SIGILS[a.type]} ${a.type.padEnd(14)} ${target}\n      ${a.cause === 'drift' ? '[drift] ' : ''}${a.reason}`;
  });
  return [head, ...lines, ...autoscaledLines(plan), ...(jobs ? previewText(jobs) : [])].join('\n');
}

/** `  autoscaled shop/web: 1..10, at 3`: a count the autoscaler keeps, which the plan does not change. */
function autoscaledLines(plan: Plan): string[] {
  return (plan.autoscaled ?? []).map((a) => `  = autoscaled     ${a.service}: ${a.min}..${a.max}, at ${a.replicas}`);
}

/** Machine-readable plan; given a preview, with `jobs` and `cronJobs` (jobs/preview.ts, every one: no cap). */
export function renderJson(plan: Plan, jobs?: JobsPreview): string {
  const preview = jobs ? { jobs: jobs.jobs, cronJobs: jobs.cronJobs, previewAt: jobs.now } : {};
  return JSON.stringify({ revision: plan.revision, summary: summarize(plan), actions: plan.actions.map(actionView), ...(plan.autoscaled ? { autoscaled: plan.autoscaled } : {}), ...preview }, null, 2);
}
