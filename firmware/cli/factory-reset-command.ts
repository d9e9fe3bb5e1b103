/**
 * `metergate factory-reset --data-dir D --yes`: the CLI's physical-presence factory reset. Only root
 * on the device may run it (not the firmware user owning the data dir: whoever takes over the firmware
 * process must not be able to reset the device to admin / CBM_1234), and never while a device process
 * uses the data dir. Erases users, keys, certificates and the log; the next boot makes a new root key
 * and the factory table (admin / CBM_1234, which must then be changed).
 */
import { existsSync } from 'node:fs';
import { DataDirBusyError, dataDirPaths } from '../boot/data-dir.ts';
import { factoryResetDataDir } from '../boot/factory-reset-data-dir.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';

const USAGE = `usage: metergate factory-reset --data-dir DIR --yes [--counter-file PATH]

Erases every user, API key, certificate and the security event log, and destroys the root key.
The next boot starts as a new device: admin / CBM_1234, which must be changed at first login.
Physical presence: run it as root on the device, with the device process stopped.
--counter-file: the anti-rollback counter of a device run with --counter-file (reset too).`;

export interface FactoryResetProcess {
  /** The effective user id (POSIX); undefined where there is none. Default: `process.geteuid`. */
  readonly euid: () => number | undefined;
}

const THIS_PROCESS: FactoryResetProcess = { euid: () => process.geteuid?.() };

export async function factoryResetCommand(
  argv: readonly string[],
  io: CommandIo,
  running: FactoryResetProcess = THIS_PROCESS,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    'data-dir': { type: 'string' },
    yes: { type: 'boolean' },
    'counter-file': { type: 'string' },
  });
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (!values.yes) throw new CliError('this erases every user, key and the log; add --yes to confirm', 2);
  const paths = dataDirPaths(values['data-dir'] ?? './var');
  if (!existsSync(paths.dir)) throw new CliError(`no data directory at ${paths.dir}`);
  const euid = running.euid();
  if (euid !== 0) {
    throw new CliError(
      `factory reset needs physical presence: run it as root on the device (you are uid ${euid ?? 'unknown'})`,
    );
  }
  try {
    factoryResetDataDir(paths, values['counter-file'] ?? paths.counterFile);
  } catch (error) {
    if (!(error instanceof DataDirBusyError)) throw error;
    throw new CliError(`${error.message}; stop the device first`);
  }
  io.out(
    `factory reset of ${paths.dir} done: users, API keys, certificates and the event log erased, root key destroyed.\n` +
      'The next boot creates a new root key and the factory table (admin / CBM_1234, to be changed at first login).',
  );
  return 0;
}
