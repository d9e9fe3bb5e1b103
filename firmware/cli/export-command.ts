/**
 * `metergate export --commissioning [--out FILE]`: the running configuration of a device as a
 * commissioning file without secrets (commissioning-export.ts), on stdout or in a new FILE. Reads
 * users, security settings and configuration through the REST API (security.read, config.read).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { commissioningFileOf, type RunningConfiguration } from './commissioning-export.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

const USAGE = `usage: metergate export --commissioning [--out FILE] --url URL [options]

  Writes the device's running configuration as a commissioning file (YAML) for 'metergate
  provision': users with their roles or permissions, API keys with their presets, the rights of
  localgui and anonymous, whitelist, host names, plain HTTP, Modbus enables, password and lockout
  policy. No password, verifier or key: provision generates new ones. What a commissioning file
  cannot hold is listed in its header comment.

  --commissioning   the format (the only one so far)
  --out FILE        write to FILE (new file) instead of stdout

${CONNECTION_USAGE}`;

export async function exportCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    commissioning: { type: 'boolean' },
    out: { type: 'string' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  if (!values.commissioning) throw new CliError('export needs --commissioning (the format to write)', 2);
  const out = values.out;
  if (out && existsSync(out)) throw new CliError(`--out: ${out} exists; not overwriting it`, 2);
  await withSession(values, io, async ({ client }) => {
    const read = async <T>(path: string): Promise<T> => {
      const response = await client.request<T>('GET', path);
      expect(response, 200);
      return response.body;
    };
    const running: RunningConfiguration = {
      slots: (await read<{ slots: RunningConfiguration['slots'] }>('/api/v1/users')).slots,
      security: await read('/api/v1/security'),
      config: await read('/api/v1/config'),
      info: await read('/api/v1/info'),
    };
    const text = commissioningFileOf(running, new Date());
    if (out) {
      writeFileSync(out, text, { flag: 'wx' });
      io.err(`commissioning file written to ${out}`);
    } else {
      io.out(text.trimEnd());
    }
  });
  return 0;
}
