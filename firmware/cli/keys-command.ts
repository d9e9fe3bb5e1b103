/**
 * `metergate keys add|rm NAME` against a running device: creates an API key with a preset (shown this
 * once, or written to a file readable by its owner only) or revokes one at once.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect, slotNamed } from './users-command.ts';

const USAGE = `usage: metergate keys add|rm NAME --url URL [options]

  keys add NAME --preset read-only|all-except-security|all [--key-file FILE]
                    creates an API key; it is printed this once, or written to FILE (mode 0600)
  keys rm NAME      revokes the key at once

${CONNECTION_USAGE}`;

export async function keysCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    preset: { type: 'string' },
    'key-file': { type: 'string' },
  });
  const [action, name, ...extra] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  if (action !== 'add' && action !== 'rm') throw new CliError(`unknown action '${action}': add or rm`, 2);
  if (!name) throw new CliError(`keys ${action} needs a NAME`, 2);
  if (action === 'add' && !values.preset)
    throw new CliError('keys add needs --preset (read-only, all-except-security or all)', 2);
  const keyFile = values['key-file'];
  if (keyFile && existsSync(keyFile))
    throw new CliError(`--key-file: ${keyFile} exists; not overwriting it`, 2);
  await withSession(values, io, async (session) => {
    const { client } = session;
    if (action === 'add') {
      const response = await client.request<{ slot: number; key: string }>('POST', '/api/v1/users', {
        type: 'api-key',
        name,
        preset: values.preset,
      });
      expect(response, 201);
      if (keyFile) {
        writeFileSync(keyFile, `${response.body.key}\n`, { mode: 0o600, flag: 'wx' });
        io.out(`API key ${name} (slot ${response.body.slot}) written to ${keyFile}`);
      } else {
        io.out(`API key ${name} (slot ${response.body.slot}); it is shown this once:`);
        io.out(response.body.key);
      }
    } else {
      const slot = await slotNamed(client, name, 'api-key');
      expect(await client.request('DELETE', `/api/v1/users/${slot}`), 200);
      io.out(`API key ${name} (slot ${slot}) revoked`);
    }
  });
  return 0;
}
