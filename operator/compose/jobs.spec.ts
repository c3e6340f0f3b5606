/** compose `depends_on: service_completed_successfully` -> the dependency is a berth Job, the dependent's dependsOn names it. */
import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { formatIssue } from '../model/errors.ts';

const stack = (migrate: string, web = '    depends_on:\n      migrate: { condition: service_completed_successfully }\n', more = '') =>
  `name: shop\nservices:\n  migrate:\n    image: tools:1\n${migrate}  web:\n    image: web:1\n${web}${more}`;
const parse = (content: string) => parseEntries([{ path: 'shop/compose.yaml', content }]);
const issuesOf = (content: string) => parse(content).issues.map(formatIssue);

describe('compose service_completed_successfully', () => {
  it('makes the dependency a Job run once (restart no: backoffLimit 0) and the dependent a Service depending on it', () => {
    const r = parse(stack('    command: ["sh", "-c", "migrate up"]\n    environment: { DB: db }\n    volumes: [data:/data]\n', undefined, 'volumes:\n  data:\n'));
    expect(r.issues).toEqual([]);
    expect(r.warnings ?? []).toEqual([]);
    expect(r.entries.map((e) => `${e.kind} ${e.namespace}/${e.name} ${e.manifest ? 'typed' : 'untyped'}`)).toEqual(['Volume shop/data typed', 'Job shop/migrate typed', 'Service shop/web typed']);
    const [, migrate, web] = r.entries.map((e) => e.doc.value as { spec: Record<string, unknown> });
    expect(migrate).toMatchObject({ apiVersion: 'berth/v1', kind: 'Job', metadata: { name: 'migrate', namespace: 'shop' } });
    expect(migrate!.spec).toEqual({ image: 'tools:1', command: ['sh', '-c', 'migrate up'], env: { DB: 'db' }, volumes: [{ volume: 'data', mountPath: '/data', readOnly: false }], backoffLimit: 0, pullPolicy: 'IfNotPresent' });
    expect(web!.spec.dependsOn).toEqual(['migrate']);
  });

  it('maps restart on-failure to berth retries, and deploy.replicas N to N containers at once that must all exit 0', () => {
    const r = parse(stack('    restart: on-failure\n    deploy: { replicas: 3 }\n'));
    expect(r.issues).toEqual([]);
    const job = r.entries.find((e) => e.kind === 'Job')!;
    expect((job.doc.value as { spec: unknown }).spec).toMatchObject({ completions: 3, parallelism: 3 });
    expect((job.doc.value as { spec: Record<string, unknown> }).spec.backoffLimit).toBeUndefined();
    expect(job.manifest).toMatchObject({ spec: { completions: 3, parallelism: 3, backoffLimit: 6 } });
  });

  it.each([
    ['    restart: always\n', 'shop/compose.yaml:5:14: services.migrate.restart: migrate runs to completion (web depends on it with condition service_completed_successfully, so it is a berth Job): a restart policy that restarts it after it exited 0 (always, unless-stopped, deploy.restart_policy.condition any) never lets it complete; use no (run once) or on-failure (retried with backoff)'],
    ['    deploy: { restart_policy: { condition: any } }\n', /^shop\/compose\.yaml:5:\d+: services\.migrate\.deploy\.restart_policy\.condition: .*never lets it complete/],
    ['    deploy: { replicas: 0 }\n', /^shop\/compose\.yaml:5:\d+: services\.migrate\.deploy\.replicas: .*with 0 replicas it never runs/],
    ['    ports: ["8080:80"]\n', /^shop\/compose\.yaml:5:5: services\.migrate\.ports: .*it gets no traffic and publishes no port: drop ports and expose$/],
    ['    expose: ["80"]\n', /^shop\/compose\.yaml:5:5: services\.migrate\.expose: .*publishes no port/],
    ['    healthcheck: { test: ["CMD", "true"] }\n', /^shop\/compose\.yaml:5:5: services\.migrate\.healthcheck: .*not for a healthcheck: drop healthcheck$/],
    ['    deploy: { update_config: { parallelism: 2 } }\n', /^shop\/compose\.yaml:5:\d+: services\.migrate\.deploy\.update_config: .*nothing is rolled/],
    ['    container_name: migrate\n', /^shop\/compose\.yaml:5:5: services\.migrate\.container_name: .*drop container_name$/],
    ['    depends_on: [web]\n', /^shop\/compose\.yaml:5:5: services\.migrate\.depends_on: .*depends_on on a service run to completion is not supported yet/],
    ['    x-berth: { loadBalancer: { algorithm: round-robin } }\n', /^shop\/compose\.yaml:5:\d+: services\.migrate\.x-berth\.loadBalancer: .*publishes no port/],
  ])('refuses a long-running service field at its compose line: %s', (field, message) => {
    const issues = issuesOf(stack(field));
    expect(issues).toHaveLength(1);
    if (typeof message === 'string') expect(issues[0]).toBe(message);
    else expect(issues[0]).toMatch(message);
  });

  it('a Job also depended on with service_healthy is refused there; with service_started, the dependent waits for its success (a warning)', () => {
    const healthy = issuesOf(stack('', undefined, '  worker:\n    image: w:1\n    depends_on: { migrate: { condition: service_healthy } }\n'));
    expect(healthy).toEqual(['shop/compose.yaml:11:41: services.worker.depends_on.migrate.condition: migrate runs to completion (web depends on it with condition service_completed_successfully, so it is a berth Job): it has no healthcheck to pass; use condition service_completed_successfully']);
    const started = parse(stack('', undefined, '  worker:\n    image: w:1\n    depends_on: [migrate]\n'));
    expect(started.issues).toEqual([]);
    expect((started.warnings ?? []).map((w) => `${w.line}:${w.col} ${w.field}: ${w.message}`)).toEqual(['11:18 services.worker.depends_on[0]: migrate runs to completion (web depends on it with condition service_completed_successfully, so it is a berth Job): worker is started only once it exited 0, as with service_completed_successfully, not as soon as it started']);
    expect((started.entries.find((e) => e.name === 'worker')!.doc.value as { spec: { dependsOn: unknown } }).spec.dependsOn).toEqual(['migrate']);
  });

  it('a dependent skipped by its profiles makes nothing a Job', () => {
    const r = parse(stack('', '    profiles: [later]\n    depends_on:\n      migrate: { condition: service_completed_successfully }\n'));
    expect(r.entries.map((e) => `${e.kind} ${e.name}`)).toEqual(['Service migrate']);
  });

  it('builds: the Job takes the compose build, its image tagged as a Service build is, and the desired state holds it', async () => {
    const files = {
      'shop/compose.yaml': 'services:\n  migrate:\n    build: ./tools\n  web:\n    image: web:1\n    depends_on:\n      migrate: { condition: service_completed_successfully }\n',
      'shop/tools/Dockerfile': 'FROM berth-local/busybox:1\n',
    };
    const desired = await loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '' });
    expect(desired.jobs?.map((j) => [j.key, j.image.type, j.image.ref.replace(/[0-9a-f]{16}$/, 'HASH')])).toEqual([['shop/migrate', 'build', 'berth.local/shop/migrate:HASH']]);
    expect(desired.services.map((s) => [s.key, s.spec.dependsOn])).toEqual([['shop/web', ['migrate']]]);
  });
});
