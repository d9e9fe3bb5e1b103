/**
 * `metergate register --url U --name N`: the SCADA side of the client registry. Makes an X25519 key
 * pair, asks the device for an API key, shows the fingerprint to compare with the one the
 * administrator sees, waits for the decision, and stores the key (opened from its sealed box) in a file
 * only its owner can read. The key is never printed.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { requestApiKey } from '../client/registry-client.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { asCliError, CONNECTION_FLAGS, deviceClient } from './device-connection.ts';

const USAGE = `usage: metergate register --url URL --name NAME [--key-file FILE] [--timeout SECONDS]
                         [--fingerprint SHA256 | --ca FILE]

Asks the device for an API key while an administrator has opened client registration (website:
Registry; display: Security > Open registration). Shows a fingerprint: the administrator allows the
request after checking that the device lists the same one. The key is stored in FILE (default
NAME.key, mode 0600), never printed.

  --url URL              the device (https needs --fingerprint or --ca)
  --name NAME            this application's name: the API key's label on the device
  --key-file FILE        where to store the key (must not exist yet)
  --timeout SECONDS      give up after this long (default 600)`;

export async function registerCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    url: CONNECTION_FLAGS.url,
    fingerprint: CONNECTION_FLAGS.fingerprint,
    ca: CONNECTION_FLAGS.ca,
    name: { type: 'string' },
    'key-file': { type: 'string' },
    timeout: { type: 'string' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  if (!values.name)
    throw new CliError('--name is required: the name the device will list this application by', 2);
  const timeout = values.timeout === undefined ? 600 : Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < 1)
    throw new CliError('--timeout must be a whole number of seconds', 2);
  const keyFile = values['key-file'] ?? `${values.name}.key`;
  if (existsSync(keyFile)) throw new CliError(`${keyFile} exists; not overwriting it (use --key-file)`, 2);
  const client = deviceClient(values);
  const started = Date.now();
  let polls = 0;
  try {
    const { key, slot, fingerprint } = await requestApiKey(client, values.name, {
      timeoutMs: timeout * 1000,
      onPending: ({ fingerprint }) => {
        io.err(`request sent as '${values.name}'. Key fingerprint: ${fingerprint}`);
        io.err('an administrator must allow it on the device, after checking that it lists this fingerprint');
      },
      onPoll: () => {
        polls++;
        if (polls % 5 === 0)
          io.err(`still waiting for a decision (${Math.round((Date.now() - started) / 1000)} s)…`);
      },
    });
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600, flag: 'wx' });
    io.out(
      `allowed: API key for '${values.name}' (slot ${slot}, fingerprint ${fingerprint}) stored in ${keyFile}`,
    );
  } catch (error) {
    throw asCliError(error);
  }
  return 0;
}
