/**
 * `metergate restore --file FILE` against a running device: sends an encrypted backup and its
 * passphrase (POST /api/v1/restore, HTTPS only). The device checks all of it before it changes
 * anything, commits it under its own counter and ends every session, this one too. The file is
 * opened here first as well, so a wrong passphrase costs no round trip and the certificate the device
 * will serve from then on can be named.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BackupError, openBackup } from '../store/backup-file.ts';
import { backupPassphrase } from './backup-command.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

const USAGE = `usage: metergate restore --file FILE [--passphrase-file FILE] --url URL [options]

  Restores an encrypted backup ('metergate backup') onto a running device: its users, passwords,
  API keys, permissions, security settings and certificates replace the device's. Checked in full
  before anything changes; then a new commit under the device's own counter, a 'backup.restore'
  event, and every session ends (log in again). The device then serves the backup's certificate.

  --file FILE             the backup
  --passphrase-file FILE  its passphrase (first line), else $METERGATE_BACKUP_PASSPHRASE, else a prompt

${CONNECTION_USAGE}`;

export async function restoreCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    file: { type: 'string' },
    'passphrase-file': { type: 'string' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  if (!values.file) throw new CliError('restore needs --file FILE', 2);
  let file: Buffer;
  try {
    file = readFileSync(values.file);
  } catch (error) {
    throw new CliError(
      `--file: cannot read ${values.file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      2,
    );
  }
  const passphrase = await backupPassphrase(values['passphrase-file']);
  let certificate: string | null = null;
  try {
    const contents = (await openBackup(file, passphrase)) as { tls?: { cert?: unknown } };
    if (typeof contents.tls?.cert === 'string') certificate = contents.tls.cert;
  } catch (error) {
    if (error instanceof BackupError) throw new CliError(`${values.file}: ${error.message} (${error.code})`);
    throw error;
  }
  await withSession(values, io, async ({ client }) => {
    const response = await client.request<{ from: string; created: string }>('POST', '/api/v1/restore', {
      passphrase,
      backup: file.toString('base64'),
    });
    expect(response, 200);
    io.out(`restored the backup of ${response.body.from} made ${response.body.created}; every session ended`);
    if (certificate) {
      io.out(
        `the device now serves the backup's certificate: ${new X509Certificate(certificate).fingerprint256}`,
      );
    }
  });
  return 0;
}
