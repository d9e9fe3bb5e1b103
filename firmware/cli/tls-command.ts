/**
 * `metergate tls show|upload|reset`: the device's HTTPS certificate. `upload` installs a PEM certificate
 * and its key (over HTTPS only); `reset` goes back to a new self-signed certificate. Both change the
 * fingerprint a client trusts: the new one is printed, and a kept session that trusted the old one by
 * its fingerprint is moved to the new one (learnt over the authenticated session).
 */
import { readFileSync } from 'node:fs';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

const USAGE = `usage: metergate tls show|upload|reset --url URL [options]

  tls show                             the certificate: source, subject, fingerprint, validity
  tls upload --cert FILE --key FILE    installs a PEM certificate (leaf first, chain after) and its key (HTTPS only)
  tls reset --yes                      back to a new self-signed certificate (the fingerprint changes)

${CONNECTION_USAGE}`;

interface TlsInfo {
  readonly source: string;
  readonly subject: string;
  readonly fingerprint256: string;
  readonly validFrom: string;
  readonly validTo: string;
}

export async function tlsCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    cert: { type: 'string' },
    key: { type: 'string' },
    yes: { type: 'boolean' },
  });
  const [action, ...extra] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  if (!['show', 'upload', 'reset'].includes(action))
    throw new CliError(`unknown action '${action}': show, upload or reset`, 2);
  if (action === 'upload' && (!values.cert || !values.key))
    throw new CliError('tls upload needs --cert FILE and --key FILE (PEM)', 2);
  if (action === 'reset' && !values.yes)
    throw new CliError('tls reset replaces the certificate and its fingerprint: confirm with --yes', 2);
  const upload =
    action === 'upload'
      ? { certificate: readPem(values.cert as string), privateKey: readPem(values.key as string) }
      : undefined;
  await withSession(values, io, async (session) => {
    const { client } = session;
    const method = action === 'show' ? 'GET' : action === 'upload' ? 'PUT' : 'DELETE';
    const response = await client.request<TlsInfo>(method, '/api/v1/tls', upload);
    expect(response, 200);
    const info = response.body;
    io.out(`source: ${info.source}\nsubject: ${info.subject}\nfingerprint: ${info.fingerprint256}`);
    io.out(`valid: ${info.validFrom} to ${info.validTo}`);
    if (action !== 'show') {
      session.repinned?.(info.fingerprint256);
      io.out(`the device now presents this certificate: trust it with --fingerprint ${info.fingerprint256}`);
    }
  });
  return 0;
}

function readPem(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`, 2);
  }
}
