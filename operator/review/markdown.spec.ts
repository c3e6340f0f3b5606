import { describe, expect, it } from 'vitest';
import { LABELS } from '../model/keys.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { Plan } from '../model/plan.ts';
import type { DesiredService, ObservedContainer } from '../model/state.ts';
import { code, escapeText } from './escape.ts';
import { renderPlanMarkdown, reviewSummary } from './markdown.ts';

function svc(name: string, over: Partial<DesiredService> = {}): DesiredService {
  const spec: DesiredService['spec'] = {
    image: 'img:1', pullPolicy: 'IfNotPresent', env: {}, command: ['sleep', '1'], replicas: 2, ports: [], resources: {},
    restart: { policy: 'always' }, update: { order: 'start-first', parallelism: 1, monitorMs: 0, failureAction: 'rollback', maxFailureRatio: 0 }, health: {}, volumes: [], dependsOn: [], placement: { strategy: 'spread', constraints: [], priority: 0 },
  };
  return {
    key: `ns/${name}`, namespace: 'ns', name, labels: {}, specHash: `${name}hash`, image: { type: 'ref', ref: 'img:1' },
    source: { file: `${name}.yaml`, line: 1, col: 1 }, spec, network: 'berth.unit.ns', env: {}, ...over,
  };
}

function container(service: string, replica: number): ObservedContainer {
  return {
    id: `${service}-${replica}`, name: `berth.unit.ns.${service}.${replica}.oldhash`, labels: { [LABELS.replica]: String(replica) },
    status: 'running', exitCode: 0, imageId: 'sha256:a', command: [], env: {}, restartPolicy: 'always', nanoCpus: 0, memory: 0, createdAt: '2026-01-01T00:00:00Z',
  };
}

const web = svc('web');
const api = svc('api');
const site = svc('site', { image: { type: 'build', ref: 'berth.local/ns/site:abc1234567890def', context: 'images/site', dockerfile: 'Dockerfile', contentHash: 'abc1234567890def0123456789' } });

const PLAN: Plan = {
  revision: 'a'.repeat(40),
  actions: [
    { type: 'create-network', network: { namespace: 'ns', dockerName: 'berth.unit.ns' }, reason: 'network missing', cause: 'change' },
    { type: 'create-volume', volume: { key: 'ns/data', namespace: 'ns', name: 'data', dockerName: 'berth.unit.ns.data', spec: { driver: 'local', driverOpts: {}, retain: true }, source: { file: 'v.yaml', line: 1, col: 1 } }, reason: 'volume ns/data missing', cause: 'change' },
    { type: 'build-image', service: site.key, desired: site, reason: 'image not built yet', cause: 'change' },
    { type: 'create', service: site.key, replica: 1, desired: site, reason: 'replica 1/1 of ns/site to create', cause: 'change' },
    { type: 'create', service: web.key, replica: 1, desired: web, reason: 'replica 1/2 of ns/web to create', cause: 'change' },
    { type: 'create', service: web.key, replica: 2, desired: web, reason: 'replica 2/2 of ns/web to create', cause: 'change' },
    { type: 'replace', service: api.key, replica: 1, desired: api, old: container('api', 1), reason: 'spec changed (env A changed)', cause: 'change' },
    { type: 'remove', service: api.key, container: container('api', 3), reason: 'scale down to 2: replica 3 not needed', cause: 'change' },
    { type: 'remove', service: 'old/gone', container: container('gone', 1), prune: true, reason: 'service old/gone is not in revision', cause: 'change' },
    { type: 'remove-network', name: 'berth.unit.old', reason: 'network unused', cause: 'change' },
  ],
};

const render = (plan: Plan | null, extra: Partial<Parameters<typeof renderPlanMarkdown>[0]> = {}) =>
  renderPlanMarkdown({ instance: 'prod', revision: 'a'.repeat(40), plan, ...extra });

describe('reviewSummary', () => {
  it('counts replica actions, builds, volumes and networks, omitting zeros', () => {
    expect(reviewSummary(PLAN)).toBe('3 to create, 1 to replace, 2 to delete, 1 image to build at merge, 1 volume to create, 1 network to create, 1 network to delete');
  });

  it('counts start and unpause as updates', () => {
    const c = container('web', 1);
    const plan: Plan = { revision: 'r', actions: [
      { type: 'start', service: web.key, container: c, reason: 'exited', cause: 'drift' },
      { type: 'unpause', service: web.key, container: c, reason: 'paused', cause: 'drift' },
    ] };
    expect(reviewSummary(plan)).toBe('2 to update');
  });

  it('says no changes for an empty plan', () => {
    expect(reviewSummary({ revision: 'r', actions: [] })).toBe('no changes');
    expect(render({ revision: 'r', actions: [] })).toContain('**no changes**');
  });
});

describe('renderPlanMarkdown', () => {
  it('shows each manifest warning at file:line with its field before the plan', () => {
    const md = render(PLAN, { warnings: [{ file: 'web.yaml', line: 6, col: 3, field: 'spec.securityContext.privileged', message: 'Service shop/web runs privileged' }] });
    expect(md).toContain('⚠️ **warning** `web.yaml:6` `spec.securityContext.privileged`: Service shop/web runs privileged');
    expect(md.indexOf('warning')).toBeLessThan(md.indexOf(reviewSummary(PLAN)));
  });

  it('names the instance and the short revision (and the base) in the heading, then the summary', () => {
    const md = render(PLAN, { base: { revision: 'b'.repeat(40) } });
    const [head, , summary] = md.split('\n');
    expect(head).toBe('### berth plan · instance `prod` · revision `aaaaaaa` against `bbbbbbb`');
    expect(summary).toBe(`**${reviewSummary(PLAN)}**`);
  });

  it('renders one table per service, sorted by service, then volumes and networks', () => {
    const md = render(PLAN);
    const headings = md.split('\n').filter((l) => l.startsWith('#### '));
    expect(headings).toEqual(['#### `ns/api`', '#### `ns/site`', '#### `ns/web`', '#### `old/gone`', '#### Volumes and networks']);
    expect(md).toContain('| replace | 1 | spec changed (env A changed) | change |');
    expect(md).toContain('| delete | 3 | scale down to 2: replica 3 not needed | change |');
    expect(md).toContain('| create network | `berth.unit.ns` | network missing | change |');
    expect(md).toContain('| delete network | `berth.unit.old` | network unused | change |');
  });

  it('shows an image to build as "build at merge" with its context and content hash', () => {
    expect(render(PLAN)).toContain('| build | — | build at merge · context `images/site` · content `abc123456789…` | change |');
  });

  it('collapses the full action list into a closed <details> block', () => {
    const md = render(PLAN);
    const open = md.indexOf('<details>');
    expect(md).toContain(`<summary>All ${PLAN.actions.length} action(s), in apply order</summary>`);
    expect(md.indexOf('</details>')).toBeGreaterThan(open);
    const inside = md.slice(open);
    for (const a of PLAN.actions) expect(inside).toContain(a.reason);
    expect(md.trimEnd().endsWith('</details>')).toBe(true);
  });

  it('lists every validation issue with file:line:col, field and message, and no plan', () => {
    const issues: ManifestIssue[] = Array.from({ length: 25 }, (_, i) => ({
      code: 'E_SCHEMA', file: `services/s${i}.yaml`, line: i + 1, col: 3, field: 'spec.replicas', message: `must be >= 0 (#${i})`,
    }));
    issues.push({ code: 'E_YAML', file: 'bad.yaml', line: 7, col: 1, field: '', message: 'unexpected <end>' });
    const md = render(null, { issues });
    expect(md).toContain('❌ **26 error(s)**');
    for (let n = 0; n < 25; n++) {
      expect(md).toContain(`- \`services/s${n}.yaml:${n + 1}:3\` \`spec.replicas\`: must be &gt;= 0 (#${n}) (\`E_SCHEMA\`)`);
    }
    expect(md).toContain('- `bad.yaml:7:1`: unexpected &lt;end&gt; (`E_YAML`)');
    expect(md).not.toContain('| action |');
  });

  it('shows a failure to plan with its code', () => {
    expect(render(null, { error: { code: 'E_GIT', message: 'ref <x> missing' } })).toContain('⚠️ **plan failed** (`E_GIT`): ref &lt;x&gt; missing');
  });

  it('escapes user text so a reason cannot break the table or inject HTML', () => {
    const evil = svc('evil|x');
    const plan: Plan = { revision: 'r', actions: [
      { type: 'create', service: 'ns/evil|x', replica: 1, desired: evil, reason: 'a | b <script>alert(1)</script> `x` [l](http://e) @team *b*\nnext', cause: 'change' },
    ] };
    const md = render(plan);
    const row = md.split('\n').find((l) => l.startsWith('| create |'));
    expect(row).toBe('| create | 1 | a \\| b &lt;script&gt;alert(1)&lt;/script&gt; \\`x\\` \\[l\\](http://e) @&#8203;team \\*b\\* next | change |');
    // Five unescaped pipes, as in the header row: the cell count is intact.
    expect(row!.replace(/\\\|/g, '').split('|').length).toBe(6);
    // Raw text appears only inside the fenced block of the full list, where it is literal.
    const outsideFence = md.replace(/^(`{3,})text\n[\s\S]*?\n\1$/m, '');
    expect(outsideFence).not.toMatch(/<script/i);
    expect(outsideFence).toContain('<details>');
    expect(md).toContain('#### `ns/evil|x`');
  });
});

describe('escaping helpers', () => {
  it('fences code spans around backticks and escapes pipes in table cells', () => {
    expect(code('a`b')).toBe('``a`b``');
    expect(code('`x')).toBe('`` `x ``');
    expect(code('a|b', true)).toBe('`a\\|b`');
    expect(code('x\ny')).toBe('`x y`');
  });

  it('keeps a backslash before a pipe from un-escaping it', () => {
    expect(escapeText('\\|')).toBe('\\\\\\|');
  });
});
