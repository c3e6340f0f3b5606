/** `berth <command>`: dispatches a parsed command line to operator/commands/; the composition of `berth run` is operator.ts. */
import { helpText, type Parsed } from './settings/flags.ts';
import type { Io } from './commands/shared.ts';
import { settingsFor } from './settings/settings.ts';
import { VERSION } from './commands/version.ts';

export type { Io } from './commands/shared.ts';

/** Runs one parsed command; resolves to the process exit code. */
export async function main(p: Parsed, io: Io): Promise<number> {
  if (p.version) {
    io.out(`berth ${VERSION}`);
    return 0;
  }
  if (p.help || p.command === null) {
    io.out(helpText(p.command ?? undefined));
    return 0;
  }
  // Each command's module is loaded when it runs: `berth proxy` (the data plane, started by every operator that finds
  // none) and the read commands load what they use, not the whole operator (GitHub, OpenTelemetry, git, ...).
  switch (p.command) {
    case 'validate': return (await import('./commands/validate.ts')).validate(p.flags, p.positionals, io);
    case 'convert': return (await import('./commands/convert.ts')).convert(p.flags, p.positionals, io);
    case 'secret': return (await import('./commands/secret.ts')).secret(p.flags, p.positionals, io);
    case 'status': return (await import('./commands/status.ts')).status(p.flags, io);
    case 'plan': return (await import('./commands/plan.ts')).plan(p.flags, io);
    case 'diff': return diffCommand(p, io);
    case 'history': return (await import('./commands/history.ts')).history(p.flags, io);
    case 'rollback': return (await import('./commands/rollback.ts')).rollback(p.flags, p.positionals, io);
    case 'version': return (await import('./commands/version.ts')).version(settingsFor('version', p.flags).output, io);
    case 'completion': return (await import('./commands/completion.ts')).completion(p.positionals, io);
    case 'apply': return (await import('./commands/apply.ts')).apply(p.flags, io);
    case 'run': return (await import('./commands/run.ts')).run(p.flags, io);
    case 'token': return (await import('./commands/token.ts')).token(p.flags, p.positionals, io);
    case 'audit': return (await import('./commands/audit.ts')).audit(p.flags, io);
    case 'proxy': return (await import('./commands/proxy.ts')).proxy(p.flags, io);
    case 'run-job': return (await import('./commands/run-job.ts')).runJob(p.flags, p.positionals, io);
    case 'pause-drift': return (await import('./commands/drift-pause.ts')).pauseDrift(p.flags, p.positionals, io);
    case 'resume-drift': return (await import('./commands/drift-pause.ts')).resumeDrift(p.flags, p.positionals, io);
    case 'logs': return (await import('./commands/logs.ts')).logs(p.flags, p.positionals, io);
    case 'events': return (await import('./commands/logs.ts')).events(p.flags, io);
  }
}

/** `berth diff [<ref>]`: `berth plan --revision <ref>` (the ref positional or --revision; the branch head without either). */
async function diffCommand(p: Parsed, io: Io): Promise<number> {
  const [ref, ...more] = p.positionals;
  if (more.length || (ref !== undefined && p.flags.revision !== undefined && p.flags.revision !== ref)) {
    io.err('berth: usage: berth diff [<ref>] [flags] (one ref: the positional or --revision)');
    return 1;
  }
  const { plan } = await import('./commands/plan.ts');
  return plan(ref === undefined ? p.flags : { ...p.flags, revision: ref }, io);
}
