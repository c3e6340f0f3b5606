import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { formatIssue } from '../model/errors.ts';

const fixture = (p: string) => ({ path: p, content: readFileSync(new URL(`../../test/fixtures/compose/${p}`, import.meta.url), 'utf8') });
const issuesOf = (content: string, path = 'stack/compose.yaml', dotEnv?: string) =>
  parseEntries([{ path, content }, ...(dotEnv === undefined ? [] : [{ path: path.replace(/[^/]*$/, '.env'), content: dotEnv }])]).issues.map(formatIssue);

describe('a compose file as manifests', () => {
  it('converts a stack into Services and Volumes of its directory namespace, every manifest typed', () => {
    const r = parseEntries([fixture('shop/compose.yaml'), fixture('shop/.env')]);
    expect(r.issues).toEqual([]);
    expect(r.warnings).toEqual([{ file: 'shop/compose.yaml', line: 66, col: 15, field: 'services.debug.profiles', message: 'service debug is skipped: it has profiles (debug) and none is active, as with docker compose up' }]);
    expect(r.entries.map((e) => `${e.kind} ${e.namespace}/${e.name} ${e.manifest ? 'typed' : 'untyped'}`)).toEqual(['Volume shop/data typed', 'Service shop/web typed', 'Service shop/cache typed']);
    const [, web, cache] = r.entries.map((e) => e.doc.value);
    expect(web).toMatchObject({
      metadata: { name: 'web', namespace: 'shop', labels: { team: 'storefront' } },
      spec: {
        image: 'registry.example.com/shop/web:1.4',
        command: ['httpd', '-f', '-p', '8080', '-h', '/var/www/my site'],
        env: { LOG_LEVEL: 'info', REGION: 'eu', FROM_DOTENV: 'from .env' },
        ports: [{ port: 8080, protocol: 'tcp' }, { port: 9090, protocol: 'tcp' }],
        loadBalancer: { targetPort: 8080, publish: { port: 18080 }, algorithm: 'least-connections' },
        volumes: [{ volume: 'data', mountPath: '/var/lib/web', readOnly: true }],
        tmpfs: [{ path: '/run', size: 64 * 1024 ** 2, mode: '1777' }],
        dependsOn: [{ service: 'cache', condition: 'healthy' }],
        health: { readiness: { exec: { command: ['sh', '-c', 'wget -q -O /dev/null http://localhost:8080/ || exit 1'] }, interval: '5s', timeout: '2s', initialDelay: '1m30s', failureThreshold: 5 } },
        replicas: 3,
        resources: { cpu: 0.5, memory: 256 * 1024 ** 2 },
        update: { parallelism: 1, order: 'start-first', failureAction: 'rollback', monitor: '10s' },
        placement: { constraints: ['node.labels.zone == a', 'node.name != old-box'] },
        user: '1000:1000', workingDir: '/app', readOnly: true,
        securityContext: { capAdd: ['NET_BIND_SERVICE'], capDrop: ['MKNOD'], allowPrivilegeEscalation: false },
        securityOpt: ['apparmor=unconfined'],
        ulimits: { nofile: { soft: 1024, hard: 4096 }, nproc: 512 },
        sysctls: { 'net.core.somaxconn': '1024' },
        extraHosts: ['db.internal:10.0.0.5'],
        stopGracePeriod: '30s', stopSignal: 'SIGQUIT',
        restart: { policy: 'always' },
      },
    });
    expect(cache).toMatchObject({ spec: { entrypoint: ['redis-server'], command: ['--save', '', '--appendonly', 'no'], tmpfs: [{ path: '/tmp' }], restart: { policy: 'on-failure' }, health: { readiness: { exec: { command: ['sh', '-c', 'redis-cli ping'] }, interval: '30s', timeout: '30s', failureThreshold: 3 } } } });
  });

  it("reports berth's own schema and semantic errors at the compose field's position", () => {
    const base = readFileSync(new URL('../../test/fixtures/compose/shop/compose.yaml', import.meta.url), 'utf8');
    const bad = base.replace('cap_add: [CAP_NET_BIND_SERVICE]', 'cap_add: [BPF]').replace('"18080:8080"', '"70000:8080"').replace('stop_signal: SIGQUIT', 'stop_signal: "sig quit"');
    expect(issuesOf(bad, 'shop/compose.yaml', 'WEB_REPLICAS=-1\n')).toEqual([
      'shop/compose.yaml:17:9: spec.loadBalancer.publish.port: must be <= 65535',
      'shop/compose.yaml:35:17: spec.replicas: must be >= 0',
      expect.stringMatching(/^shop\/compose\.yaml:44:15: spec\.securityContext\.capAdd\[0\]: must be a Linux capability/),
      expect.stringMatching(/^shop\/compose\.yaml:52:18: spec\.stopSignal: must match pattern/),
    ]);
  });

  it('merges x-berth (berth syntax) into the spec and locates its fields there', () => {
    const content = 'services:\n  web:\n    image: web\n    expose: ["8080"]\n    healthcheck: { test: ["CMD", "true"] }\n    x-berth:\n      health:\n        liveness: { http: { path: /, port: 9999 } }\n      placement: { strategy: binpack }\n';
    const r = parseEntries([{ path: 'stack/compose.yaml', content }]);
    expect(r.entries[0]?.doc.value).toMatchObject({ spec: { health: { readiness: { exec: { command: ['true'] } }, liveness: { http: { path: '/', port: 9999 } } }, placement: { strategy: 'binpack' } } });
    expect(r.issues.map(formatIssue)).toEqual([expect.stringMatching(/^stack\/compose\.yaml:8:44: spec\.health\.liveness\.http\.port: /)]);
  });

  it('refuses, at the field, what berth cannot honour', () => {
    expect(parseEntries([fixture('bad/compose.yaml')]).issues.map(formatIssue)).toEqual([
      'bad/compose.yaml:6:17: spec.replicas: must be >= 0',
      'bad/compose.yaml:10:9: services.web.volumes[0]: a bind source under ~ is a path of the home directory of whoever runs compose; use an absolute host path, or a path of the repository relative to the compose file',
    ]);
  });

  it.each([
    ['build:\n      context: .\n      ssh: [default]', /compose field services\.web\.build\.ssh is not supported by berth/],
    ['build:\n      context: .\n      cache_from: [web:cache]', /compose field services\.web\.build\.cache_from is not supported by berth/],
    ['ports: ["53:53/udp", "54:53/udp"]', /binding container port 53\/udp to a second host port is not supported yet/],
    ['ports: [{ target: 80, published: 8080, mode: bridge }]', /mode must be host or ingress/],
    ['ports: ["8000-8010:8000-8010"]', /port ranges are not supported yet/],
    ['volumes: ["~/srv:/srv"]', /a bind source under ~ is a path of the home directory/],
    ['volumes: [{ type: bind, source: ., target: /x, consistency: cached }]', /compose field services\.web\.volumes\[0\]\.consistency is not supported by berth/],
    ['volumes: ["/srv:/srv:shared"]', /bind mode "shared" is not supported yet/],
    ['volumes: [{ type: volume, target: /anon, read_only: true }]', /a read-only anonymous volume is not supported yet/],
    ['volumes: ["nope:/x"]', /volume "nope" is not declared in the top-level volumes/],
    ['restart: on-failure:3', /maximum retry count is not supported yet/],
    ['deploy: { resources: { reservations: { memory: 1g } } }', /reservations are not supported yet/],
    ['deploy: { update_config: { delay: 10s } }', /update_config\.delay is not supported yet/],
    ['deploy: { placement: { constraints: ["node.role == manager"] } }', /this constraint is not supported yet/],
    ['deploy: { mode: global }', /deploy\.mode global is not supported yet/],
    ['networks: [backend]', /compose\.yaml:7:16: services\.web\.networks\[0\]: network "backend" is not declared in the top-level networks \(only default is implicit\)/],
    ['container_name: web\n    scale: 2', /compose\.yaml:7:21: spec\.containerName: a container name is one container: a Service with containerName runs at most 1 replica \(replicas is 2\)/],
    ['container_name: berth.x', /names starting with "berth\." are berth's own container names/],
    ['secrets: [token]', /secret "token" is not declared in the top-level secrets/],
    ['configs: [conf]', /config "conf" is not declared in the top-level configs/],
    ['env_file: .env.web', /env_file stack\/\.env\.web is not in the repository at this revision/],
    ['env_file: [{ path: ./web.env, format: raw }]', /env_file format raw is not supported yet/],
    ['init: false', /berth always runs an init process/],
    ['network_mode: host', /compose field services\.web\.network_mode is not supported by berth/],
    ['logging: { driver: syslog }', /compose field services\.web\.logging is not supported by berth/],
    ['pull_policy: build', /pull_policy build is not supported yet/],
    ['healthcheck: { test: ["CMD", "true"], start_interval: 1s }', /start_interval is not supported yet/],
    ['x-berth: { replicas: 2 }', /unknown x-berth field/],
  ])('%s', (field, message) => {
    const issues = issuesOf(`name: s\nservices:\n  db:\n    image: db\n  web:\n    image: web\n    ${field}\nvolumes:\n  data:\n`);
    expect(issues.join('\n')).toMatch(message);
    expect(issues.every((i) => /^stack\/compose\.yaml:(\d+):\d+: /.test(i))).toBe(true);
  });

  it('refuses top-level configs, external secrets, external networks and external volumes', () => {
    const issues = issuesOf('services:\n  web: { image: web }\nnetworks:\n  back: { external: true }\nvolumes:\n  ext: { external: true }\nsecrets:\n  s: { external: true }\nconfigs:\n  c: { external: true }\n');
    expect(issues).toEqual([
      'stack/compose.yaml:4:11: networks.back.external: external networks are not supported yet',
      'stack/compose.yaml:6:10: volumes.ext.external: external volumes are not supported yet',
      'stack/compose.yaml:8:8: secrets.s.external: external secrets are not supported yet (use file: an encrypted file of the repository)',
      'stack/compose.yaml:10:8: configs.c.external: external configs are not supported yet (use file: a file of the repository, or content:)',
    ]);
  });

  it('checks the compose document against the Compose Specification first', () => {
    expect(issuesOf('services:\n  web:\n    image: web\n    imagee: typo\n    ports: { a: 1 }\n')).toEqual([
      'stack/compose.yaml:4:5: services.web.imagee: unknown compose field services.web.imagee (not in the Compose Specification)',
      'stack/compose.yaml:5:12: services.web.ports: must be array',
    ]);
  });

  it('names the project from name:, else the directory; a root file needs name:', () => {
    expect(issuesOf('services:\n  web: { image: web }\n', 'compose.yaml')).toEqual([
      'compose.yaml:1:1: compose.yaml: set name: (the project name, the berth namespace of its services): the compose file is at the repository root',
    ]);
    const named = parseEntries([{ path: 'compose.yaml', content: 'name: shop\nservices:\n  web: { image: web }\n' }]);
    expect(named.entries.map((e) => `${e.namespace}/${e.name}`)).toEqual(['shop/web']);
    expect(issuesOf('name: Shop_1\nservices:\n  web: { image: web }\n')).toEqual([expect.stringMatching(/^stack\/compose\.yaml:1:7: metadata\.namespace: must be a DNS label/)]);
  });

  it('refuses a service name that is not a berth name, at its key', () => {
    expect(issuesOf('services:\n  my_web: { image: web }\n')).toEqual([expect.stringMatching(/^stack\/compose\.yaml:2:3: services\.my_web: service name "my_web" cannot be a berth Service name/)]);
  });

  it('interpolates from the .env beside the file; :? is an error at the value naming the variable', () => {
    expect(issuesOf('services:\n  web:\n    image: "web:${TAG:?set TAG}"\n', 'stack/compose.yaml', 'OTHER=1\n')).toEqual([
      'stack/compose.yaml:3:12: services.web.image: required variable TAG is not set: set TAG',
    ]);
    const r = parseEntries([{ path: 'stack/compose.yaml', content: 'services:\n  web:\n    image: "web:${TAG}"\n    environment: [A, B=$$x, C]\n' }, { path: 'stack/.env', content: 'TAG=2\nA=from-env\n' }]);
    expect(r.issues).toEqual([]);
    expect(r.entries[0]?.doc.value).toMatchObject({ spec: { image: 'web:2', env: { A: 'from-env', B: '$x' } } });
    expect(parseEntries([{ path: 'stack/compose.yaml', content: 'services:\n  web:\n    image: "web:${TAG}"\n' }]).warnings).toEqual([
      { file: 'stack/compose.yaml', line: 3, col: 12, field: 'services.web.image', message: 'variable TAG is not set: it is an empty string (as compose does)' },
    ]);
  });

  it('turns volume names into berth names and refuses a clash', () => {
    const r = parseEntries([{ path: 'stack/compose.yaml', content: 'services:\n  db: { image: pg, volumes: ["db_data:/var/lib/pg"] }\nvolumes:\n  db_data:\n' }]);
    expect(r.issues).toEqual([]);
    expect(r.entries.map((e) => `${e.kind} ${e.name}`)).toEqual(['Volume db-data', 'Service db']);
    expect(issuesOf('services:\n  db: { image: pg }\nvolumes:\n  db_data:\n  db-data:\n')).toEqual(['stack/compose.yaml:5:3: volumes.db-data: volumes db_data and db-data are both the berth Volume db-data: rename one']);
  });

  it('reads the .env beside a compose file with the manifests, in process and in the worker thread', async () => {
    const files = {
      'stack/compose.yaml': 'services:\n  web: { image: "web:${TAG}", environment: [TAG] }\n',
      'stack/.env': 'TAG=7\n',
      '.env': 'TAG=not-this-one\n',
      'other.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: api }\nspec: { image: api:1 }\n',
    };
    for (const isolation of ['auto', 'worker'] as const) {
      const desired = await loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '', isolation });
      const web = desired.services.find((s) => s.name === 'web');
      expect(web?.namespace).toBe('stack');
      expect(web?.spec.env).toEqual({ TAG: '7' });
      expect(desired.services.map((s) => s.key).sort()).toEqual(['default/api', 'stack/web']);
    }
  });
});

describe('docker/awesome-compose samples', () => {
  // every sample, accepted or refused with its first error: awesome.spec.ts
  it.each(['gitea-postgres', 'wordpress-mysql'])('%s converts as it is', (sample) => {
    const r = parseEntries([fixture(`awesome/${sample}/compose.yaml`)]);
    expect(r.issues).toEqual([]);
    expect(r.entries.every((e) => e.manifest && e.namespace === sample)).toBe(true);
  });

  it('nextcloud-redis-mariadb converts with its networks: nc on both, redis and db on one each', () => {
    const r = parseEntries([fixture('awesome/nextcloud-redis-mariadb/compose.yaml')]);
    expect(r.issues).toEqual([]);
    const networksOf = (name: string): unknown => r.entries.find((e) => e.manifest?.metadata.name === name && e.manifest.kind === 'Service')?.manifest?.spec;
    expect(r.entries.filter((e) => e.manifest?.kind === 'Network').map((e) => e.manifest?.metadata.name)).toEqual(['dbnet', 'redisnet']);
    expect(networksOf('nc')).toMatchObject({ networks: [{ name: 'redisnet', aliases: [] }, { name: 'dbnet', aliases: [] }] });
    expect(networksOf('db')).toMatchObject({ networks: [{ name: 'dbnet', aliases: [] }] });
  });
});
