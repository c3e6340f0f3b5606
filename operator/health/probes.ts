/** Probe executors: http, tcp, exec (through the runtime) and script (run by the operator). They never throw. */
import type { ProbeSpec } from '../model/manifest.ts';
import type { ContainerRuntime } from '../runtime/runtime.ts';
import { createProbeAgents, httpCheck, tcpCheck, type ProbeAgents } from './probe-http.ts';
import { exitMessage, scriptCheck } from './probe-script.ts';

export { createProbeAgents, type ProbeAgentOptions, type ProbeAgents } from './probe-http.ts';
export { materialiseScript } from './probe-script.ts';

/** The replica a probe checks. */
export interface ProbeTarget {
  containerId: string;
  name: string;
  /** Where its ports are reached (see ObservedContainer.address); http and tcp probes fail without one. */
  address?: string;
  /** Reads a file of the manifests repository at the applied revision (script probes). */
  readFile(path: string): Promise<Buffer>;
}

export interface ProbeOutcome {
  ok: boolean;
  /** short, human: 'HTTP 200', 'HTTP 500', 'connect ECONNREFUSED 172.17.0.5:8080', 'timeout after 1000 ms', 'exit 1: <first line of output>' */
  message: string;
  /** How long the probe took. */
  ms: number;
}

/** A probe's verdict before timing is added. */
export type CheckResult = Omit<ProbeOutcome, 'ms'>;

export interface ProbeDeps {
  runtime: ContainerRuntime;
  /** where script probes are materialised (one file per content hash, mode 0755) */
  scriptDir: string;
  /** Keep-alive agents for http probes; default: agents shared by every caller of this module instance. */
  agents?: ProbeAgents;
}

/** Agents of callers that pass none: one keep-alive pool per module instance (their idle sockets do not hold the process open). */
const SHARED_AGENTS = createProbeAgents();

/**
 * Runs one probe against one replica within probe.timeoutMs. Never throws: every failure (no address, refused,
 * timeout, engine error, unreadable script) is an outcome with ok=false and a short message.
 */
export async function runProbe(probe: ProbeSpec, target: ProbeTarget, deps: ProbeDeps): Promise<ProbeOutcome> {
  const started = performance.now();
  let result: CheckResult;
  try {
    result = await check(probe, target, deps);
  } catch (err) {
    result = { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  return { ...result, ms: performance.now() - started };
}

async function check(probe: ProbeSpec, target: ProbeTarget, deps: ProbeDeps): Promise<CheckResult> {
  const timeoutMs = Math.max(1, probe.timeoutMs);
  if (probe.http) {
    if (!target.address) return noAddress();
    return httpCheck(probe.http, target.address, timeoutMs, deps.agents ?? SHARED_AGENTS);
  }
  if (probe.tcp) {
    if (!target.address) return noAddress();
    return tcpCheck(target.address, probe.tcp.port, timeoutMs);
  }
  if (probe.exec) return execCheck(probe.exec.command, target, deps.runtime, timeoutMs);
  if (probe.script) return scriptCheck(probe.script, target, deps.scriptDir, timeoutMs);
  return { ok: false, message: 'probe has none of http, tcp, exec, script' };
}

/** Runs the command inside the container through the engine; exit 0 passes. */
async function execCheck(command: string[], target: ProbeTarget, runtime: ContainerRuntime, timeoutMs: number): Promise<CheckResult> {
  const result = await runtime.exec(target.containerId, command, timeoutMs);
  if (result.exitCode === -1) return { ok: false, message: result.output };
  return { ok: result.exitCode === 0, message: exitMessage(result.exitCode, result.output) };
}

function noAddress(): CheckResult {
  return { ok: false, message: 'no address for container' };
}
