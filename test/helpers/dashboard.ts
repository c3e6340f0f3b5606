/** The metric names contrib/grafana/berth.json queries, and the names an exposition has, to check one against the other. */
import fs from 'node:fs';
import path from 'node:path';

export const DASHBOARD = path.join(import.meta.dirname, '..', '..', 'contrib', 'grafana', 'berth.json');

interface Panel {
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every `berth_*` name in the dashboard's queries (panel targets and template variables), sorted. */
export function dashboardMetricNames(file = DASHBOARD): string[] {
  const d = JSON.parse(fs.readFileSync(file, 'utf8')) as { panels: Panel[]; templating?: { list: { query?: unknown }[] } };
  const exprs: string[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr);
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) exprs.push(JSON.stringify(v.query ?? ''));
  return [...new Set(exprs.flatMap((e) => e.match(/\bberth_[a-z0-9_]+/g) ?? []))].sort();
}

/** The family names (# TYPE) and sample names (`_bucket`, `_sum`, ... included) of an exposition. */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) names.add(type[1]!);
    else if (line && !line.startsWith('#')) names.add(/^[^{ ]+/.exec(line)![0]);
  }
  return names;
}
