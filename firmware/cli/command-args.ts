/** Flag parsing shared by the CLI commands: strict, with the bad flag named in a CliError. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CliError } from './cli-error.ts';

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: T,
) {
  try {
    return parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      // Commands with actions and names (`users add NAME`) read them; the others refuse any.
      allowPositionals: true,
    });
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
}
