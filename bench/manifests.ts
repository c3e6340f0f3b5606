/** Benchmark: loadDesired over 200 generated Service files (plus 20 Volumes and 10 build contexts) in a temp directory. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDesired } from '../operator/manifests/index.ts';
import { fsSnapshot } from '../operator/source/fs-snapshot.ts';

const SERVICES = 200;
const NAMESPACES = 10;
const BUILDS = 10;
const WARMUP = 10;
const RUNS = 20;

function serviceYaml(i: number): string {
  const ns = `ns-${i % NAMESPACES}`;
  const image = i < BUILDS ? `build: { context: ../images/app-${i} }` : `image: shop/svc-${i}:1.${i}`;
  const dep = i >= NAMESPACES ? `\n  dependsOn: [svc-${i - NAMESPACES}]` : '';
  return `apiVersion: berth/v1
kind: Service
metadata:
  name: svc-${i}
  namespace: ${ns}
  labels: { team: team-${i % 7}, tier: backend }
spec:
  ${image}
  command: [httpd, -f, -p, "8080"]
  env: { LOG_LEVEL: info, INDEX: ${i}, FEATURE_X: true }
  replicas: ${(i % 5) + 1}
  ports:
    - { name: http, port: 8080 }
    - { name: metrics, port: 9090 }
  resources: { cpu: 250m, memory: 64Mi }
  restart: { policy: always }
  update: { order: start-first, parallelism: 2 }
  volumes: [{ volume: data, mountPath: /data }]${dep}
`;
}

async function generate(root: string): Promise<void> {
  await mkdir(join(root, 'deploy/services'), { recursive: true });
  for (let i = 0; i < SERVICES; i++) await writeFile(join(root, `deploy/services/svc-${i}.yaml`), serviceYaml(i));
  const volumes = Array.from({ length: NAMESPACES }, (_, n) => `apiVersion: berth/v1\nkind: Volume\nmetadata: { name: data, namespace: ns-${n} }\n`);
  await writeFile(join(root, 'deploy/volumes.yaml'), volumes.join('---\n'));
  for (let i = 0; i < BUILDS; i++) {
    await mkdir(join(root, `images/app-${i}`), { recursive: true });
    await writeFile(join(root, `images/app-${i}/Dockerfile`), `FROM busybox\nCOPY app.sh /app.sh\n`);
    await writeFile(join(root, `images/app-${i}/app.sh`), `#!/bin/sh\necho ${i}\n`);
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-manifests-'));
  try {
    await generate(root);
    const snapshot = fsSnapshot(root);
    const load = () => loadDesired(snapshot, { instance: 'bench', path: 'deploy' });
    for (let i = 0; i < WARMUP; i++) await load();
    const start = performance.now();
    let services = 0;
    for (let i = 0; i < RUNS; i++) services = (await load()).services.length;
    const ms = (performance.now() - start) / RUNS;
    console.log(`manifests: loadDesired of ${services} services (${BUILDS} builds) + ${NAMESPACES} volumes from a directory: ${ms.toFixed(1)} ms per load (mean of ${RUNS} runs after ${WARMUP} warm-up)`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
