/**
 * `metergate backup --out FILE` against a running device: asks it for an encrypted backup of its
 * security settings (POST /api/v1/backup, HTTPS only) and writes the file, mode 0600, never over an
 * existing one. The passphrase comes from --passphrase-file, $METERGATE_BACKUP_PASSPHRASE or a prompt.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { checkBackupPassphrase } from '../store/backup-file.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, readSecret, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

const USAGE = `usage: metergate backup --out FILE [--passphrase-file FILE] --url URL [options]

  Writes an encrypted backup of the device's users, verifiers, API-key hashes, permissions, security
  settings and certificates to FILE (mode 0600; an existing FILE is not overwritten). Restore it with
  'metergate restore', on this device or a replacement meter (docs/operations.md, Backups).

  --out FILE              where the backup goes
  --passphrase-file FILE  the passphrase (first line; 12 to 256 characters), else
                          $METERGATE_BACKUP_PASSPHRASE, else a prompt

${CONNECTION_USAGE}`;

export async function backupCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    out: { type: 'string' },
    'passphrase-file': { type: 'string' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  const out = values.out;
  if (!out) throw new CliError('backup needs --out FILE', 2);
  if (existsSync(out)) throw new CliError(`--out: ${out} exists; not overwriting it`, 2);
  const passphrase = await backupPassphrase(values['passphrase-file']);
  try {
    checkBackupPassphrase(passphrase);
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
  await withSession(values, io, async ({ client }) => {
    const response = await client.request<{ backup: string }>('POST', '/api/v1/backup', { passphrase });
    expect(response, 200);
    const file = Buffer.from(response.body.backup, 'base64');
    writeFileSync(out, file, { mode: 0o600, flag: 'wx' });
    io.out(`backup written to ${out} (${file.length} bytes); keep the passphrase apart from it`);
  });
  return 0;
}

/** The backup passphrase: --passphrase-file, else $METERGATE_BACKUP_PASSPHRASE, else a prompt. */
export function backupPassphrase(file: string | undefined): Promise<string> {
  return readSecret('backup passphrase', file, 'METERGATE_BACKUP_PASSPHRASE');
}
