/**
 * The docker/awesome-compose samples of test/fixtures/compose/awesome (see SOURCE.md there), each validated as
 * `berth validate test/fixtures/compose/awesome --path <sample>` does: accepted, or refused with exactly this first
 * error. When a feature lands and a result changes, update the row here and rerun `npx tsx scripts/awesome-table.ts`
 * into the README (the last test checks the README holds that table).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { awesomeSamples, awesomeTable, refusedField, validateSample, type SampleResult } from '../../scripts/awesome-table.ts';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { formatIssue } from '../model/errors.ts';

/** Per sample: null (accepted), or its first error as `berth validate` prints it. */
const EXPECTED: Record<string, string | null> = {
  angular: null,
  'apache-php': null,
  'aspnet-mssql': null,
  django: null,
  'elasticsearch-logstash-kibana': "elasticsearch-logstash-kibana/compose.yaml:26:9: spec.files[1].source: elasticsearch-logstash-kibana/logstash/nginx.log is 1.8Mi, more than --max-file-size 1Mi",
  fastapi: null,
  flask: null,
  'flask-redis': null,
  'gitea-postgres': null,
  minecraft: "minecraft/compose.yaml:13:8: services.minecraft.volumes[0]: a bind source under ~ is a path of the home directory of whoever runs compose; use an absolute host path, or a path of the repository relative to the compose file",
  'nextcloud-postgres': null,
  'nextcloud-redis-mariadb': null,
  'nginx-aspnet-mysql': "nginx-aspnet-mysql/compose.yaml:46:11: spec.file: not encrypted: nginx-aspnet-mysql/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'nginx-flask-mongo': null,
  'nginx-flask-mysql': "nginx-flask-mysql/compose.yaml:58:11: spec.file: not encrypted: nginx-flask-mysql/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'nginx-golang': null,
  'nginx-golang-mysql': "nginx-golang-mysql/compose.yaml:51:11: spec.file: not encrypted: nginx-golang-mysql/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'nginx-golang-postgres': "nginx-golang-postgres/compose.yaml:48:11: spec.file: not encrypted: nginx-golang-postgres/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'nginx-nodejs-redis': null,
  'nginx-wsgi-flask': null,
  'pihole-cloudflared-DoH': "pihole-cloudflared-DoH/compose.yaml:16:9: services.cloudflared.networks.dns-net.ipv4_address: networks.dns-net.ipv4_address is not supported yet (berth attaches replicas with DNS aliases only)",
  plex: "plex/compose.yaml:5:5: services.plex.network_mode: compose field services.plex.network_mode is not supported by berth",
  portainer: "portainer/compose.yaml:9:9: spec.driverOpts: mounts the host path \"/var/run/docker.sock\" (o: bind): host paths are refused unless they lie under a prefix given to the operator with --allow-host-path (none is set)",
  'postgresql-pgadmin': null,
  'prometheus-grafana': null,
  'react-express-mongodb': null,
  'react-express-mysql': "react-express-mysql/compose.yaml:68:11: spec.file: not encrypted: react-express-mysql/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'react-java-mysql': "react-java-mysql/compose.yaml:55:11: spec.file: not encrypted: react-java-mysql/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'react-nginx': null,
  'react-rust-postgres': null,
  sparkjava: null,
  'sparkjava-mysql': "sparkjava-mysql/compose.yaml:28:11: spec.file: not encrypted: sparkjava-mysql/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'spring-postgres': "spring-postgres/compose.yaml:28:11: spec.file: not encrypted: spring-postgres/db/password.txt is not an age file; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it",
  'traefik-golang': "traefik-golang/compose.yaml:10:9: spec.driverOpts: mounts the host path \"/var/run/docker.sock\" (o: bind): host paths are refused unless they lie under a prefix given to the operator with --allow-host-path (none is set)",
  vuejs: null,
  'wasmedge-kafka-mysql': "wasmedge-kafka-mysql/compose.yml:22:12: services.etl.image: image together with build is not supported yet (berth tags the images it builds itself: drop image)",
  'wasmedge-mysql-nginx': "wasmedge-mysql-nginx/compose.yml:10:12: services.backend.image: image together with build is not supported yet (berth tags the images it builds itself: drop image)",
  wireguard: "wireguard/compose.yaml:20:9: spec.driverOpts: mounts the host path \"/usr/share/appdata/wireguard/config\" (o: bind): host paths are refused unless they lie under a prefix given to the operator with --allow-host-path (none is set)",
  'wordpress-mysql': null,
};

const results = new Map<string, Promise<SampleResult>>();
const resultOf = (sample: string): Promise<SampleResult> => {
  if (!results.has(sample)) results.set(sample, validateSample(sample));
  return results.get(sample)!;
};

describe('docker/awesome-compose samples under berth validate', () => {
  it('covers every compose file of the repository (39, at the commit of SOURCE.md)', () => {
    expect(awesomeSamples()).toEqual(Object.keys(EXPECTED).sort());
    expect(awesomeSamples()).toHaveLength(39);
  });

  it.each(Object.entries(EXPECTED))('%s', async (sample, first) => {
    const r = await resultOf(sample);
    if (first === null) expect(r.issues.map(formatIssue)).toEqual([]);
    else expect(r.issues.map(formatIssue)[0]).toBe(first);
  }, 30_000);

  it('an accepted sample is a stack: its services and named volumes in the namespace of its directory', async () => {
    const files = ['compose.yaml'].map((f) => ({ path: `wordpress-mysql/${f}`, content: readFileSync(new URL(`../../test/fixtures/compose/awesome/wordpress-mysql/${f}`, import.meta.url), 'utf8') }));
    const desired = await loadDesired(memorySnapshot(Object.fromEntries(files.map((f) => [f.path, f.content])), 'r1'), { instance: 't', path: '' });
    expect(desired.services.map((s) => s.key).sort()).toEqual(['wordpress-mysql/db', 'wordpress-mysql/wordpress']);
    expect(desired.volumes.map((v) => `${v.namespace}/${v.name}`)).toEqual(['wordpress-mysql/db-data']);
  });

  it('sparkjava-mysql, refused only for its plaintext secret, is accepted with that file encrypted (the copy in awesome-encrypted/)', async () => {
    const dir = new URL('../../test/fixtures/compose/awesome/sparkjava-mysql/', import.meta.url);
    const files: Record<string, string> = {};
    for (const f of ['compose.yaml', 'backend/Dockerfile', 'backend/src/main/java/App.java']) files[`sparkjava-mysql/${f}`] = readFileSync(new URL(f, dir), 'utf8');
    files['sparkjava-mysql/db/password.txt'] = readFileSync(new URL('../../test/fixtures/compose/awesome-encrypted/sparkjava-mysql/db/password.txt', import.meta.url), 'utf8');
    const desired = await loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '' });
    expect(desired.services.map((s) => s.key).sort()).toEqual(['sparkjava-mysql/backend', 'sparkjava-mysql/db']);
    expect(desired.services.find((s) => s.name === 'db')?.spec.secrets).toMatchObject([{ secret: 'db-password' }]);
  });

  it('names a refused field by its compose position, also when a berth check on a converted value reports it', () => {
    const text = readFileSync(new URL('../../test/fixtures/compose/awesome/sparkjava-mysql/compose.yaml', import.meta.url), 'utf8');
    expect(refusedField(text, 28, 11)).toBe('secrets.db-password.file');
    expect(refusedField(text, 5, 9)).toBe('ports');
    expect(refusedField(text, 2, 3)).toBe('services.backend');
  });

  it("the README's table is the one scripts/awesome-table.ts prints", async () => {
    const all = await Promise.all(awesomeSamples().map(resultOf));
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('\n');
    const table = awesomeTable(all).split('\n');
    // the README's copy: the introducing sentence, a blank line, then the rows up to the first line that is not one
    const at = readme.indexOf(table[2]!);
    expect(at, 'the README has the table header').toBeGreaterThan(1);
    const end = readme.findIndex((l, i) => i > at && !l.startsWith('|'));
    expect(readme.slice(at - 2, end < 0 ? undefined : end)).toEqual(table);
  }, 60_000);
});

describe("compose's pull_policy default", () => {
  const specOf = (service: string) => {
    const r = parseEntries([{ path: 'stack/compose.yaml', content: `services:\n  web:\n${service}` }]);
    expect(r.issues).toEqual([]);
    return r.entries[0]?.doc.value as { spec: Record<string, unknown> };
  };

  it('is missing (IfNotPresent), also for :latest or no tag, where berth defaults to Always', () => {
    expect(specOf('    image: wordpress:latest\n').spec.pullPolicy).toBe('IfNotPresent');
    expect(specOf('    image: wordpress\n').spec.pullPolicy).toBe('IfNotPresent');
    expect(specOf('    image: wordpress:latest\n    pull_policy: always\n').spec.pullPolicy).toBe('Always');
    expect(specOf('    image: wordpress:6\n    pull_policy: never\n').spec.pullPolicy).toBe('Never');
  });

  it('is not set on a service that is built', () => {
    const r = parseEntries([{ path: 'stack/compose.yaml', content: 'services:\n  web:\n    build: .\n' }, { path: 'stack/Dockerfile', content: 'FROM scratch\n' }]);
    expect((r.entries[0]?.doc.value as { spec: Record<string, unknown> }).spec.pullPolicy).toBeUndefined();
  });

  it('reaches the desired state', async () => {
    const desired = await loadDesired(memorySnapshot({ 'stack/compose.yaml': 'services:\n  web:\n    image: wordpress:latest\n' }, 'r1'), { instance: 't', path: '' });
    expect(desired.services[0]?.spec.pullPolicy).toBe('IfNotPresent');
  });
});
