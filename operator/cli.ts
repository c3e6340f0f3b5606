/** `berth` entry point: parse, run, map errors to a one-line message and an exit code. */
import { parseCommandLine } from './settings/flags.ts';
import { main } from './main.ts';
import { ValidationError, asBerthError, formatIssue } from './model/errors.ts';

// `berth status | head` closes the pipe early: that ends the output, it is no error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err; });

async function cli(argv: string[]): Promise<number> {
  const io = { out: (t: string) => process.stdout.write(t + '\n'), err: (t: string) => process.stderr.write(t + '\n') };
  try {
    return await main(parseCommandLine(argv), io);
  } catch (err) {
    if (err instanceof ValidationError) {
      io.err(err.issues.map(formatIssue).join('\n'));
      return 1;
    }
    const e = asBerthError(err);
    io.err(`berth: ${e.message.split('\n')[0]}`);
    return 1;
  }
}

process.exitCode = await cli(process.argv.slice(2));
