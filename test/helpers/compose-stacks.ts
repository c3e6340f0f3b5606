/** A repository of compose stacks for the load benchmark and its spec: 50 stacks of 6 services each, with a .env each. */
export function stack(n: number): string {
  const services = Array.from({ length: 6 }, (_, i) => `  svc${i}:
    image: "registry.example.com/app${n}/svc${i}:\${TAG:-1.0}"
    command: ["serve", "--port", "8080", "--name", "svc${i}"]
    environment:
      LOG_LEVEL: \${LOG_LEVEL}
      REGION: eu-west-1
      SERVICE: svc${i}
      - ignored: 0
    expose: ["8080"]
${i === 0 ? '    ports: ["' + (20000 + n) + ':8080"]\n' : ''}    volumes: ["data${i}:/var/lib/svc"]
    healthcheck: { test: ["CMD", "true"], interval: 10s, timeout: 2s, retries: 3 }
    restart: unless-stopped
${i > 0 ? '    depends_on: { svc0: { condition: service_healthy } }\n' : ''}    labels: { team: t${n}, tier: backend }
    deploy:
      replicas: 2
      resources: { limits: { cpus: "0.5", memory: 256m } }
      update_config: { parallelism: 1, order: start-first }
`).join('').replace(/      - ignored: 0\n/g, '');
  const volumes = Array.from({ length: 6 }, (_, i) => `  data${i}:\n`).join('');
  return `name: app${n}\nservices:\n${services}volumes:\n${volumes}`;
}

export function composeRepo(stacks = 50): { path: string; content: string }[] {
  return Array.from({ length: stacks }, (_, n) => [
    { path: `stacks/app${n}/compose.yaml`, content: stack(n) },
    { path: `stacks/app${n}/.env`, content: 'TAG=2.1\nLOG_LEVEL=info\n' },
  ]).flat();
}
