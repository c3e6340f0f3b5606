/**
 * Seeded generation of manifest trees for the fuzz test: valid Services, Volumes and Routes, mutated with hostile
 * values (NUL, CR/LF, huge strings, bad image references, odd paths and durations, unknown fields, wrong types, deep
 * nesting, many entries) and sometimes broken as text. The same seed gives the same trees.
 */
import { stringify } from 'yaml';

/** A small deterministic PRNG (mulberry32). */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** True with probability p. */
  chance(p: number): boolean;
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)] as (typeof items)[number], chance: (p) => next() < p };
}

type Obj = Record<string, unknown>;

/** One generated repository: files by path, and what was done to them (for the failure message). */
export interface FuzzTree {
  files: Record<string, string>;
  mutations: string[];
}

const HEX = 'a1b2c3d4e5f6'.repeat(6).slice(0, 64);
const VALID_IMAGES = ['berth-local/busybox:1', 'shop/web:1.4', 'localhost:5000/a/b_c:1.0-rc.1', `web@sha256:${HEX}`, 'my_reg.io/x', 'a--b.c__d/e'];
const BAD_IMAGES = ['Not A Valid:Ref', 'UPPER/case', 'a:-1', 'a..b', `a@sha256:${HEX.slice(2)}`, '', ':', '@', 'a//b', 'x'.repeat(300), 'a b', 'é/x'];
const ODD_PATHS = ['/', '', 'rel', '/a/../b', '/..', '/./x', '/data/', '//data', '/proc/x', '/sys/y', '/dev', '/etc/hosts', '/sbin', '/a\nb', '/a\0b',
  `/${'s'.repeat(255)}`, `/${'s'.repeat(256)}`, `/${'a/'.repeat(130)}a`, '/mnt/a b', '/mnt/é', '/mnt/a:b', '/mnt/a,b'];
const ODD_DURATIONS: unknown[] = ['720h', '1h', '1h1ms', '0s', '-1s', '1.5s', '2 s', '1m1h', '596h31m23s648ms', 2 ** 31, 1e15, 3601, '', 'soon', '1h1m1s1ms', null, true];
const WRONG_TYPES: unknown[] = [42, -1, 1.5, true, null, [], {}, 'str', [1, [2]], 1e308, { a: { b: 1 } }];
const ENV_NAMES = ['A', 'LOG_LEVEL', 'é', 'A B', 'x.y', '1X', 'lower', 'a-b'];

/** Strings that break things that trust their input. */
export function hostileString(r: Rng): string {
  const sizes = [255, 256, 4096, 4097, 8193, 131_070, 131_072, 1 << 20];
  return r.pick([
    () => '', () => '\0', () => 'a\0b', () => '\r\n', () => 'a\r\nX-Evil: 1', () => '\t', () => 'é', () => '\u{1F600}', () => '\u202e',
    () => '\u0001\u001b[31m', () => '../../etc/passwd', () => '${HOME}', () => '*', () => '- x', () => 'null', () => '~', () => '0x1F',
    () => '#c', () => ': c', () => '\\', () => '%s%n', () => 'x'.repeat(r.pick(sizes)), () => 'é'.repeat(r.pick(sizes) / 2),
  ])();
}

/** A DNS label, sometimes of the longest length. */
function label(r: Rng): string {
  if (r.chance(0.15)) return `n${'x'.repeat(61)}${r.int(10)}`;
  return `${r.pick(['web', 'api', 'db', 'cache', 'a', 'w-1', 'x9'])}${r.int(1000)}`;
}

/** A mount path the engine takes on any image (under /mnt, odd but valid). */
function validMountPath(r: Rng): string {
  return r.pick(['/mnt/data', '/mnt/a b', '/mnt/é/ü', '/mnt/a:b', `/mnt/${'s'.repeat(255)}`, `/mnt/${'d/'.repeat(60)}x`, `/mnt/v${r.int(100)}`]);
}

function service(r: Rng, ns: string, volumes: string[], scripts: Set<string>): Obj {
  const ports = r.chance(0.6) ? [{ port: 8080 }] : [];
  const spec: Obj = {
    image: r.pick(VALID_IMAGES),
    // sh -c takes the rest as $0, $1...: the container keeps running whatever the extra arguments are.
    command: ['sh', '-c', 'sleep 60', ...Array.from({ length: r.int(3) }, () => r.pick(['x', 'é', 'a b', '-', 'x'.repeat(r.pick([10, 100_000]))]))],
    env: Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(ENV_NAMES), r.pick(['1', 'value', 'ünï', 'a\nb', 'x'.repeat(r.pick([10, 50_000]))])])),
    replicas: r.int(3),
    ports,
  };
  const mine = volumes.filter(() => r.chance(0.5)).slice(0, 2);
  if (mine.length > 0) spec.volumes = mine.map((volume, i) => ({ volume, mountPath: `${validMountPath(r)}${i}` }));
  if (ports.length > 0 && r.chance(0.4)) {
    spec.health = { readiness: { tcp: { port: 8080 }, interval: r.pick(['1s', '500ms', '1h']), timeout: '1s' }, liveness: { exec: { command: ['true'] }, interval: '10s' } };
    if (r.chance(0.3)) {
      scripts.add('checks/ok.sh');
      spec.health = { ...(spec.health as Obj), startup: { script: { file: 'checks/ok.sh', args: ['é'] } } };
    }
  }
  if (r.chance(0.3)) spec.update = { order: r.pick(['start-first', 'stop-first']), parallelism: 1 + r.int(3), monitor: r.pick(['0s', '1s', '1h']) };
  const labels = r.chance(0.3) ? { team: 'store', 'app.kubernetes.io/name': r.pick(['é', 'x'.repeat(4096), 'v']) } : undefined;
  return { apiVersion: 'berth/v1', kind: 'Service', metadata: { name: label(r), namespace: ns, ...(labels ? { labels } : {}) }, spec };
}

function volume(r: Rng, ns: string, name: string, allowedDir: string): Obj {
  const spec = r.pick<Obj>([
    {}, { retain: false }, { driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } },
    { driverOpts: { type: 'none', o: 'bind', device: r.pick([allowedDir, `${allowedDir}/a`, `${allowedDir}/b/`]) } },
  ]);
  return { apiVersion: 'berth/v1', kind: 'Volume', metadata: { name, namespace: ns }, spec };
}

function route(r: Rng, ns: string, backend: string): Obj {
  return { apiVersion: 'berth/v1', kind: 'Route', metadata: { name: label(r), namespace: ns }, spec: { publish: { port: 20_000 + r.int(20_000) }, rules: [{ pathPrefix: r.pick(['/', '/api']), backends: [{ service: backend }] }] } };
}

/** Every path to a value of `doc` (objects and arrays too), the first `limit` in depth-first order. */
function pathsOf(doc: unknown, limit = 2000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (out.length >= limit) return;
    if (path.length > 0) out.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(doc, []);
  return out;
}

function setAt(doc: Obj, path: (string | number)[], value: unknown): void {
  let cur: unknown = doc;
  for (const seg of path.slice(0, -1)) cur = (cur as Record<string | number, unknown>)[seg];
  if (cur !== null && typeof cur === 'object') (cur as Record<string | number, unknown>)[path.at(-1) as string | number] = value;
}

/** The first three command arguments stay (`sh -c 'sleep 60'`): applied samples keep running. */
const keepsCommand = (p: (string | number)[]): boolean => !(p[1] === 'command' && typeof p[2] === 'number' && p[2] < 3);

/** One hostile change to one document; returns what it did. */
function mutate(r: Rng, doc: Obj, allowedDir: string): string {
  if (doc.spec === null || typeof doc.spec !== 'object' || Array.isArray(doc.spec)) doc.spec = {};
  const spec = doc.spec as Obj;
  const paths = pathsOf(doc).filter(keepsCommand);
  const at = r.pick(paths.length > 0 ? paths : [['spec']]);
  const kind = r.pick(['string', 'string', 'image', 'path', 'duration', 'unknown', 'type', 'deep', 'many', 'remove', 'hostPath', 'replicas', 'key']);
  switch (kind) {
    case 'string': setAt(doc, at, hostileString(r)); break;
    case 'image': spec.image = r.pick([...BAD_IMAGES, ...VALID_IMAGES]); break;
    case 'path': spec.volumes = [{ volume: 'data', mountPath: r.pick(ODD_PATHS) }]; break;
    case 'duration': setAt(doc, ['spec', 'health'], { readiness: { tcp: { port: 8080 }, [r.pick(['interval', 'timeout', 'initialDelay'])]: r.pick(ODD_DURATIONS) } }); spec.update = { monitor: r.pick(ODD_DURATIONS) }; break;
    case 'unknown': setAt(doc, [...at.slice(0, -1), r.pick(['extra', 'Spec', 'replica', 'é', 'x'.repeat(300)])], r.pick(WRONG_TYPES)); break;
    case 'type': setAt(doc, at, r.pick(WRONG_TYPES)); break;
    case 'deep': setAt(doc, at, `__DEEP_${r.pick([50, 500, 3000])}__`); break;
    case 'many': manyEntries(r, doc); break;
    case 'remove': { const parent = at.slice(0, -1); const holder = parent.reduce<unknown>((c, s) => (c as Obj)[s as string], doc); if (holder && typeof holder === 'object' && !Array.isArray(holder)) delete (holder as Obj)[at.at(-1) as string]; break; }
    case 'hostPath': doc.kind = 'Volume'; doc.spec = { driverOpts: { type: 'none', o: r.pick(['bind', 'rbind', 'ro,bind']), device: r.pick(['/etc', `${allowedDir}/x`, `${allowedDir}base`, `${allowedDir}/../etc`, 'rel', '/']) } }; break;
    case 'replicas': spec.replicas = r.pick([900, 901, 5000, 1e15, 2 ** 53, -1]); break;
    default: setAt(doc, ['spec', r.pick(['env', 'metadata'])], { [r.pick(['', '=', 'A=B', 'A\0', 'berth.x', 'k'.repeat(300)])]: 'v' });
  }
  return `${kind} at ${at.join('.').slice(0, 80)}`;
}

function manyEntries(r: Rng, doc: Obj): void {
  const spec = doc.spec as Obj;
  const n = r.pick([300, 1000, 3000]);
  const which = r.pick(['env', 'labels', 'volumes', 'ports']);
  if (which === 'env') spec.env = Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'x'.repeat(r.pick([1, 300]))]));
  else if (which === 'labels') doc.metadata = { ...(doc.metadata as Obj), labels: Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v'.repeat(200)])) };
  else if (which === 'volumes') spec.volumes = Array.from({ length: n }, (_, i) => ({ volume: 'data', mountPath: `/m/${i}` }));
  else spec.ports = Array.from({ length: n }, (_, i) => ({ port: 1 + i }));
}

/** Breaks a file as text: truncation, a stray character sequence, a repeated line. */
function breakText(r: Rng, text: string): string {
  const at = r.int(text.length + 1);
  return r.pick([
    () => text.slice(0, at),
    () => `${text.slice(0, at)}${r.pick(['\t', ': ', '- ', '{', '&a ', '*a', '!!binary ', '\0', '\r', '"', "'", '%YAML 9\n'])}${text.slice(at)}`,
    () => { const lines = text.split('\n'); const i = r.int(lines.length); lines.splice(i, 0, lines[i] ?? ''); return lines.join('\n'); },
  ])();
}

/** A tree of 1-4 files with valid documents, about half of them mutated. `allowedDir` is the --allow-host-path of the run. */
export function generateTree(r: Rng, allowedDir: string): FuzzTree {
  const namespaces = Array.from({ length: 1 + r.int(2) }, () => label(r));
  const mutations: string[] = [];
  const scripts = new Set<string>();
  const docs: Obj[] = [];
  for (const ns of namespaces) {
    const volumes = Array.from({ length: r.int(3) }, (_, i) => `data${i}`);
    docs.push(...volumes.map((v) => volume(r, ns, v, allowedDir)));
    const services = Array.from({ length: 1 + r.int(3) }, () => service(r, ns, volumes, scripts));
    docs.push(...services);
    const withPort = services.find((s) => ((s.spec as Obj).ports as unknown[]).length > 0);
    if (withPort && r.chance(0.3)) docs.push(route(r, ns, (withPort.metadata as Obj).name as string));
  }
  if (r.chance(0.03)) docs.push(...Array.from({ length: 150 }, (_, i) => ({ apiVersion: 'berth/v1', kind: 'Service', metadata: { name: `bulk${i}` }, spec: { image: 'web' } })));
  if (r.chance(0.55)) for (let i = 0; i < 1 + r.int(3); i++) { const d = r.pick(docs); mutations.push(mutate(r, d, allowedDir)); }
  const fileCount = 1 + r.int(4);
  const files: Record<string, string> = {};
  docs.forEach((d, i) => {
    const path = `m${i % fileCount}.yaml`;
    const text = stringify(d, { lineWidth: 0 }).replace(/__DEEP_(\d+)__/g, (_, n: string) => `${'['.repeat(Number(n))}${']'.repeat(Number(n))}`);
    files[path] = files[path] === undefined ? text : `${files[path]}---\n${text}`;
  });
  for (const path of Object.keys(files)) if (r.chance(0.07)) { files[path] = breakText(r, files[path] as string); mutations.push(`text of ${path}`); }
  for (const s of scripts) files[s] = '#!/bin/sh\nexit 0\n';
  return { files, mutations };
}
