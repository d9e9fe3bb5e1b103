/**
 * `metergate login --url U [--user N]`: checks the credentials against a running device with the login
 * protocol (the key is derived here, the password never sent) and shows who that is there.
 */
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { asCliError, CONNECTION_FLAGS, CONNECTION_USAGE, deviceClient, logIn } from './device-connection.ts';

const USAGE = `usage: metergate login --url URL [--fingerprint SHA256 | --ca FILE] [--user NAME]

Logs in to a running device (challenge-response: the password never leaves this machine), shows the
user's permissions, and logs out again.

${CONNECTION_USAGE}`;

export async function loginCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, CONNECTION_FLAGS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  const client = deviceClient(values);
  const { me } = await logIn(client, values, io);
  try {
    const info = await client.request<{ model: string; serialNumber: string }>('GET', '/api/v1/info');
    io.out(`logged in to ${info.body.model} ${info.body.serialNumber} as ${me.name} (slot ${me.slot})`);
    io.out(`permissions: ${me.permissions.join(', ') || 'none'}`);
    if (me.mustChangePassword) {
      io.out(`this is the factory password: set a new one first with 'metergate users passwd ${me.name}'`);
    }
    await client.logout();
  } catch (error) {
    throw asCliError(error);
  }
  return 0;
}
