/**
 * Builds through BuildKit on the real engine, from a compose file: a two-stage Dockerfile with an ARG and a heredoc
 * RUN, built for the target stage with the compose build args; a changed arg or target builds a new image and rolls
 * the replica; a failing RUN is reported with its step and output, and the running replica is left alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, demuxLogs, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const instance = uniqueInstance('bkit');
let remote: Remote;
let op: TestOperator;

const DOCKERFILE = `FROM berth-local/busybox:1 AS base
ARG GREETING=unset
RUN <<EOF
echo "$GREETING" > /greeting
echo from-heredoc > /heredoc
EOF

FROM base AS final
RUN echo final > /stage

FROM base AS other
RUN echo other > /stage

FROM base AS broken
RUN echo "berth-build-output-marker" && exit 3
`;

const compose = (args: string, target: string) => `services:
  site:
    build:
      context: ./app
      args: ${args}
      target: ${target}
    command: ["sh", "-c", "cat /greeting /heredoc /stage; exec sleep 3600"]
`;

beforeAll(async () => {
  remote = await makeRemote({ 'stack/compose.yaml': compose('{ GREETING: hello }', 'final'), 'stack/app/Dockerfile': DOCKERFILE });
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

async function pass(pred: (p: PassResult) => boolean, what: string): Promise<PassResult> {
  const timer = setInterval(() => op.trigger('test'), 500);
  try {
    return await op.waitPass(pred, what, 120_000);
  } finally {
    clearInterval(timer);
  }
}

/** The output of the one running replica of site once it holds `want`, and that replica's container and image. */
async function siteSays(want: string): Promise<{ id: string; image: string; out: string }> {
  return waitFor(async () => {
    op.trigger('test');
    const [c] = await runningOf(docker, instance, 'site');
    if (!c) return undefined;
    const out = demuxLogs((await docker.getContainer(c.Id).logs({ stdout: true, follow: false })) as unknown as Buffer).stdout;
    return out.includes(want) ? { id: c.Id, image: c.Image, out } : undefined;
  }, { timeoutMs: 120_000, intervalMs: 500, what: `site prints ${want}` });
}

describe('BuildKit builds of compose services', () => {
  it('builds the target stage with the args and a heredoc RUN', async () => {
    await pass((p) => p.status.services['stack/site']?.running === 1 && p.pending?.actions.length === 0, 'site built and running');
    const first = await siteSays('final');
    expect(first.out.split('\n')).toEqual(['hello', 'from-heredoc', 'final', '']);
    expect(first.image).toMatch(/^berth\.local\/stack\/site:[0-9a-f]{16}$/);
    // As with docker build --build-arg, the arg is recorded in the image's history (a secret never belongs in one).
    const history = await docker.getImage(first.image).history();
    expect(JSON.stringify(history)).toContain('GREETING=hello');
  }, 180_000);

  it('a changed arg, then a changed target, builds a new image and replaces the replica', async () => {
    const before = await siteSays('final');
    await remote.commit({ 'stack/compose.yaml': compose('{ GREETING: bye }', 'final') }, 'greeting bye');
    const bye = await siteSays('bye');
    expect(bye.id).not.toBe(before.id);
    expect(bye.image).not.toBe(before.image);
    await remote.commit({ 'stack/compose.yaml': compose('{ GREETING: bye }', 'other') }, 'target other');
    const other = await siteSays('other');
    expect(other.image).not.toBe(bye.image);
  }, 240_000);

  it('a failing RUN names the step and its output; the running replica stays', async () => {
    const running = await siteSays('other');
    const sha = await remote.commit({ 'stack/compose.yaml': compose('{ GREETING: bye }', 'broken') }, 'broken target');
    const failed = await pass((p) => p.revision === sha && JSON.stringify(p.status).includes('exit code: 3'), 'the build failure in the status');
    const text = JSON.stringify(failed.status);
    expect(text).toContain('berth-build-output-marker');
    expect(text).toMatch(/RUN echo/);
    const [still] = await runningOf(docker, instance, 'site');
    expect(still?.Id).toBe(running.id);
  }, 180_000);
});
