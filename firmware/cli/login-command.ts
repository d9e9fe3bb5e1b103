/**
 * `metergate login --url U [--user N] [--session-file F]`: checks the credentials against a running
 * device with the login protocol (the key is derived here, the password never sent) and shows who
 * that is there. With a session file (or $METERGATE_SESSION) it keeps the session there for the
 * commands that follow; else it logs out again.
 */
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import {
  asCliError,
  CONNECTION_FLAGS,
  CONNECTION_USAGE,
  deviceClient,
  keptSession,
  logIn,
} from './device-connection.ts';
import { sessionFilePath, writeSessionFile } from './session-file.ts';

const USAGE = `usage: metergate login --url URL [--fingerprint SHA256 | --ca FILE] [--user NAME] [--session-file FILE]

Logs in to a running device (challenge-response: the password never leaves this machine) and shows
the user's permissions. With --session-file FILE (or $METERGATE_SESSION) the session is kept in FILE
(mode 0600) and the commands that follow use it: log in once per shell,

  export METERGATE_SESSION=~/.metergate-session
  metergate login --url https://192.0.2.10 --fingerprint AB:CD:…
  metergate users list
  metergate logout

Without a session file it logs out again at once.

${CONNECTION_USAGE}`;

export async function loginCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, CONNECTION_FLAGS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  if (values['api-key-file']) throw new CliError('login is for users: an API key needs no login', 2);
  const sessionFile = sessionFilePath(values['session-file']);
  const client = deviceClient(values);
  const { me, username } = await logIn(client, values, io);
  try {
    const info = await client.request<{ model: string; serialNumber: string }>('GET', '/api/v1/info');
    io.out(`logged in to ${info.body.model} ${info.body.serialNumber} as ${me.name} (slot ${me.slot})`);
    io.out(`permissions: ${me.permissions.join(', ') || 'none'}`);
    if (me.mustChangePassword) {
      io.out(`this is the factory password: set a new one first with 'metergate users passwd ${me.name}'`);
    }
    if (sessionFile) {
      const kept = keptSession(client, values, username, Date.now());
      writeSessionFile(sessionFile, kept);
      io.out(
        `session kept in ${sessionFile} (ends after 15 min idle, at ${kept.expiresAt} at the latest, or with 'metergate logout')`,
      );
    } else {
      await client.logout();
    }
  } catch (error) {
    throw asCliError(error);
  }
  return 0;
}
