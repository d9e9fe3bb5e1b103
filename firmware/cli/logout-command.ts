/** `metergate logout [--session-file F]`: ends the session kept by `metergate login` and removes its file. */

import { DeviceClient } from '../client/device-client.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { asCliError } from './device-connection.ts';
import { readSessionFile, removeSessionFile, sessionFilePath } from './session-file.ts';

const USAGE = `usage: metergate logout [--session-file FILE]

Ends the session kept in FILE (else $METERGATE_SESSION) on the device and removes the file.`;

export async function logoutCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { 'session-file': { type: 'string' } });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  const file = sessionFilePath(values['session-file']);
  if (!file) throw new CliError('no session file: give --session-file FILE or set $METERGATE_SESSION', 2);
  const kept = readSessionFile(file, Date.now());
  const client = new DeviceClient(kept.url, { ca: kept.caPem, fingerprint: kept.fingerprint });
  client.resumeSession(kept);
  try {
    const response = await client.request('POST', '/api/v1/auth/logout');
    removeSessionFile(file);
    io.out(
      response.status === 204
        ? `logged out ${kept.user} from ${kept.url}`
        : `the session of ${kept.user} had already ended; ${file} removed`,
    );
  } catch (error) {
    throw asCliError(error);
  }
  return 0;
}
