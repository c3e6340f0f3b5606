/** `berth <command>`: dispatches a parsed command line to operator/commands/; the composition of `berth run` is operator.ts. */
import { helpText, type Parsed } from './settings/flags.ts';
import { apply } from './commands/apply.ts';
import { plan } from './commands/plan.ts';
import { run } from './commands/run.ts';
import type { Io } from './commands/shared.ts';
import { status } from './commands/status.ts';
import { validate } from './commands/validate.ts';
import { convert } from './commands/convert.ts';
import { secret } from './commands/secret.ts';
import { token } from './commands/token.ts';
import { audit } from './commands/audit.ts';
import { proxy } from './commands/proxy.ts';
import { runJob } from './commands/run-job.ts';
import { pauseDrift, resumeDrift } from './commands/drift-pause.ts';
import { events, logs } from './commands/logs.ts';
import { VERSION, version } from './commands/version.ts';
import { completion } from './commands/completion.ts';
import { history } from './commands/history.ts';
import { rollback } from './commands/rollback.ts';
import { settingsFor } from './settings/settings.ts';

export type { Io } from './commands/shared.ts';
export { EXIT_UNREACHABLE } from './commands/status.ts';
export { startOperator, type Operator, type OperatorHooks } from './commands/operator.ts';

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
  switch (p.command) {
    case 'validate': return validate(p.flags, p.positionals, io);
    case 'convert': return convert(p.flags, p.positionals, io);
    case 'secret': return secret(p.flags, p.positionals, io);
    case 'status': return status(p.flags, io);
    case 'plan': return plan(p.flags, io);
    case 'diff': return diffCommand(p, io);
    case 'history': return history(p.flags, io);
    case 'rollback': return rollback(p.flags, p.positionals, io);
    case 'version': return version(settingsFor('version', p.flags).output, io);
    case 'completion': return completion(p.positionals, io);
    case 'apply': return apply(p.flags, io);
    case 'run': return run(p.flags, io);
    case 'token': return token(p.flags, p.positionals, io);
    case 'audit': return audit(p.flags, io);
    case 'proxy': return proxy(p.flags, io);
    case 'run-job': return runJob(p.flags, p.positionals, io);
    case 'pause-drift': return pauseDrift(p.flags, p.positionals, io);
    case 'resume-drift': return resumeDrift(p.flags, p.positionals, io);
    case 'logs': return logs(p.flags, p.positionals, io);
    case 'events': return events(p.flags, io);
  }
}

/** `berth diff [<ref>]`: `berth plan --revision <ref>` (the ref positional or --revision; the branch head without either). */
function diffCommand(p: Parsed, io: Io): Promise<number> {
  const [ref, ...more] = p.positionals;
  if (more.length || (ref !== undefined && p.flags.revision !== undefined && p.flags.revision !== ref)) {
    io.err('berth: usage: berth diff [<ref>] [flags] (one ref: the positional or --revision)');
    return Promise.resolve(1);
  }
  return plan(ref === undefined ? p.flags : { ...p.flags, revision: ref }, io);
}
