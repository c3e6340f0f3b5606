import { describe, expect, it } from 'vitest';
import type { ManifestIssue } from '../model/errors.ts';
import { parseManifests } from './parse.ts';

/** Issues as [code, line, col, field] for compact assertions. */
function where(issues: ManifestIssue[]): [string, number, number, string][] {
  return issues.map((i) => [i.code, i.line, i.col, i.field]);
}

const SERVICE = ['apiVersion: berth/v1', 'kind: Service', 'metadata: { name: web }'];

describe('parseManifests: positions', () => {
  it('points at the value of a bad field, in block and flow style', () => {
    const content = [...SERVICE, 'spec:', '  image: x', '  replicas: "3"', '  ports: [{ port: 80 }, { port: "81" }]'].join('\n');
    const { issues } = parseManifests([{ path: 'svc/web.yaml', content }]);
    expect(where(issues)).toEqual([
      ['E_SCHEMA', 6, 13, 'spec.replicas'],
      ['E_SCHEMA', 7, 33, 'spec.ports[1].port'],
    ]);
    expect(issues.every((i) => i.file === 'svc/web.yaml')).toBe(true);
  });

  it('counts lines across documents of one file', () => {
    const doc = (n: string): string => [...SERVICE.slice(0, 2), `metadata: { name: ${n} }`, 'spec: { image: x, replicas: -1 }'].join('\n');
    const content = `# header\n${doc('a')}\n---\n\n${doc('b')}\n...\n---\n${doc('c')}\n`;
    const { issues } = parseManifests([{ path: 'm.yaml', content }]);
    expect(where(issues)).toEqual([
      ['E_SCHEMA', 5, 29, 'spec.replicas'],
      ['E_SCHEMA', 11, 29, 'spec.replicas'],
      ['E_SCHEMA', 17, 29, 'spec.replicas'],
    ]);
  });

  it('locates unknown fields at their key and missing fields at their parent', () => {
    const content = ['apiVersion: berth/v1', 'kind: Service', 'metadata:', '  namespace: shop', 'spec:', '  image: x', '  imagePullPolicy: Always'].join('\n');
    const { issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(where(issues)).toEqual([
      ['E_SCHEMA', 4, 3, 'metadata.name'],
      ['E_SCHEMA', 7, 3, 'spec.imagePullPolicy'],
    ]);
    expect(issues[0]?.message).toBe('is required');
    expect(issues[1]?.message).toMatch(/^unknown field \(allowed: image, pullPolicy, imagePolicy, build, /);
  });

  it('locates an empty value at its key', () => {
    const content = [...SERVICE, 'spec:', '  image:'].join('\n');
    const { issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(where(issues)).toContainEqual(['E_SCHEMA', 5, 3, 'spec.image']);
  });

  it('reports YAML errors and duplicate keys with the parser position', () => {
    const bad = parseManifests([{ path: 'a.yaml', content: 'a: [1, 2\nb: 3\n' }]);
    expect(bad.issues.map((i) => i.code)).toContain('E_YAML');
    const dup = parseManifests([{ path: 'b.yaml', content: [...SERVICE, 'spec: { image: x }', 'kind: Volume'].join('\n') }]);
    expect(where(dup.issues)).toEqual([['E_YAML', 5, 1, '']]);
    expect(dup.issues[0]?.message).toContain('"kind"');
  });

  it('quotes field path segments that are not identifiers', () => {
    const content = ['apiVersion: berth/v1', 'kind: Service', 'metadata:', '  name: web', '  labels: { app.kubernetes.io/name: 1 }', 'spec: { image: x }'].join('\n');
    const { issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(where(issues)).toEqual([['E_SCHEMA', 5, 37, 'metadata.labels["app.kubernetes.io/name"]']]);
  });

  it('sorts issues by file, then position, whatever the input order', () => {
    const bad = (name: string): string => ['apiVersion: berth/v1', 'kind: Service', `metadata: { name: ${name} }`, 'spec: { image: x, replicas: x }'].join('\n');
    const { issues } = parseManifests([
      { path: 'b.yaml', content: bad('b') },
      { path: 'a.yaml', content: `kind: Thing\n---\n${bad('a')}` },
    ]);
    expect(issues.map((i) => `${i.file}:${i.line}`)).toEqual(['a.yaml:1', 'a.yaml:6', 'b.yaml:4']);
  });
});

describe('parseManifests: values', () => {
  it('applies defaults to a minimal Service and Volume', () => {
    const content = [...SERVICE, 'spec: { image: x }', '---', 'apiVersion: berth/v1', 'kind: Volume', 'metadata: { name: data }'].join('\n');
    const { manifests, issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(issues).toEqual([]);
    expect(manifests.map((m) => [m.kind, m.metadata, m.spec])).toEqual([
      [
        'Service',
        { name: 'web', namespace: 'default', labels: {} },
        {
          image: 'x',
          pullPolicy: 'Always',
          env: {},
          replicas: 1,
          ports: [],
          resources: {},
          restart: { policy: 'always' },
          update: { order: 'start-first', parallelism: 1, monitorMs: 5000, failureAction: 'rollback', maxFailureRatio: 0 },
          health: {},
          volumes: [],
          dependsOn: [],
          placement: { strategy: 'spread', constraints: [], priority: 0 },
        },
      ],
      ['Volume', { name: 'data', namespace: 'default', labels: {} }, { driver: 'local', driverOpts: {}, retain: true }],
    ]);
    expect(manifests[1]?.source).toEqual({ file: 'a.yaml', line: 6, col: 1 });
  });

  it('stores env values as strings, numbers as written', () => {
    const content = [...SERVICE, 'spec:', '  image: x', '  env: { A: 1.0, B: true, C: 0x1F, D: "07", E: 12 }'].join('\n');
    const [m] = parseManifests([{ path: 'a.yaml', content }]).manifests;
    expect(m?.kind === 'Service' && m.spec.env).toEqual({ A: '1.0', B: 'true', C: '0x1F', D: '07', E: '12' });
  });

  it('normalises resources and port defaults', () => {
    const content = [...SERVICE, 'spec:', '  image: x', '  resources: { cpu: 1500m, memory: 1Gi }', '  ports: [{ port: 53, protocol: udp }, { name: http, port: 80 }]'].join('\n');
    const [m] = parseManifests([{ path: 'a.yaml', content }]).manifests;
    if (m?.kind !== 'Service') throw new Error('expected a Service');
    expect(m.spec.resources).toEqual({ cpu: 1.5, memory: 1024 ** 3 });
    expect(m.spec.ports).toEqual([
      { port: 53, protocol: 'udp' },
      { name: 'http', port: 80, protocol: 'tcp' },
    ]);
  });

  it('does not report a missing volume or dependency whose own document is invalid', () => {
    const content = [
      ...SERVICE,
      'spec: { image: x, dependsOn: [db], volumes: [{ volume: data, mountPath: /d }] }',
      '---',
      'apiVersion: berth/v1',
      'kind: Volume',
      'metadata: { name: data }',
      'spec: { retain: maybe }',
      '---',
      'apiVersion: berth/v1',
      'kind: Service',
      'metadata: { name: db }',
      'spec: { image: 1 }',
    ].join('\n');
    const { issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(where(issues)).toEqual([
      ['E_SCHEMA', 9, 17, 'spec.retain'],
      ['E_SCHEMA', 14, 16, 'spec.image'],
    ]);
  });

  it('rejects reserved labels, bad env names and tiny memory as semantic issues', () => {
    const content = ['apiVersion: berth/v1', 'kind: Service', 'metadata: { name: web, labels: { berth.service: x } }', 'spec: { image: x, env: { "A=B": 1 }, resources: { memory: 1k, cpu: 0m } }'].join('\n');
    const { issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(issues.map((i) => [i.code, i.field])).toEqual([
      ['E_SEMANTIC', 'metadata.labels["berth.service"]'],
      ['E_SEMANTIC', 'spec.env["A=B"]'],
      ['E_SEMANTIC', 'spec.resources.memory'],
      ['E_SEMANTIC', 'spec.resources.cpu'],
    ]);
  });

  it('treats non-mapping documents as unknown kinds', () => {
    const { issues } = parseManifests([{ path: 'a.yaml', content: '- a\n- b\n---\njust text\n' }]);
    expect(where(issues)).toEqual([
      ['E_UNKNOWN_KIND', 1, 1, ''],
      ['E_UNKNOWN_KIND', 4, 1, ''],
    ]);
  });
});

describe('parseManifests: root errors only', () => {
  it('reports the YAML error of one file and no knock-on "missing" errors from files that refer into it', () => {
    const web = 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec:\n  image: img:1\n  command: [sleep, "3600"\n  replicas: 2\n';
    const api = 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: api }\nspec:\n  image: img:1\n  dependsOn: [web]\n';
    const { issues } = parseManifests([{ path: 'web.yaml', content: web }, { path: 'api.yaml', content: api }]);
    expect(issues.map((i) => [i.file, i.code])).toEqual([['web.yaml', 'E_YAML']]);
    const alone = parseManifests([{ path: 'api.yaml', content: api }]).issues;
    expect(alone.map((i) => `${i.file}:${i.line}:${i.col}: ${i.field}: ${i.message}`)).toEqual(['api.yaml:6:15: spec.dependsOn[0]: no Service or Job "web" in namespace "default"']);
  });
});

describe('parseManifests: encrypted data under the path', () => {
  it('skips a SOPS-encrypted YAML file (a Secret\'s data), and still reads the manifests beside it', () => {
    const sops = ['password: ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]', 'sops:', '  mac: ENC[AES256_GCM,data:x=,iv:y=,tag:z=,type:str]', '  lastmodified: "2026-12-01T00:00:00Z"', '  version: 3.9.0'].join('\n');
    const { manifests, issues } = parseManifests([{ path: 'secrets/db.yaml', content: sops }, { path: 'web.yaml', content: [...SERVICE, 'spec: { image: x }'].join('\n') }]);
    expect(issues).toEqual([]);
    expect(manifests.map((m) => m.kind)).toEqual(['Service']);
  });
});

describe('parseManifests: files a Service copies are data', () => {
  const web = [...SERVICE, 'spec:', '  image: x', '  files:', '    - { source: conf, target: /etc/app }', '    - { source: prometheus.yml, target: /etc/prometheus.yml }'].join('\n');
  it('a YAML file under a spec.files source, or the source itself, is not read as a manifest; any other still is', () => {
    const { manifests, issues } = parseManifests([
      { path: 'web.yaml', content: web },
      { path: 'conf/datasource.yml', content: 'apiVersion: 1\ndatasources: [{ name: p }]\n' },
      { path: 'conf/sub/x.yaml', content: 'a: [' },
      { path: 'prometheus.yml', content: 'scrape_configs: []\n' },
      { path: 'confx/other.yaml', content: 'scrape_configs: []\n' },
    ]);
    expect(manifests.map((m) => m.kind)).toEqual(['Service']);
    expect(issues.map((i) => i.file)).toEqual(['confx/other.yaml']);
  });
});
