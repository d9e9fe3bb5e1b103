/**
 * `metergate registry open|close|list|allow|deny`: the administrator's side of the client registry
 * (docs/rest-api.md, "Client registry"); `metergate register` is the application's side.
 */
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

const USAGE = `usage: metergate registry open|close|list|allow|deny [ID] --url URL [options]

  registry open                      opens registration for 5 minutes
  registry close                     closes it now
  registry list                      whether it is open, and the pending requests with their key fingerprints
  registry allow ID --preset P       allows a request: an API key with preset P (read-only, all-except-security, all)
  registry deny ID                   denies it

Compare the fingerprint with the one the application shows before you allow it.

${CONNECTION_USAGE}`;

interface RegistryStatus {
  readonly open: boolean;
  readonly remainingSeconds: number;
  readonly pending: { id: string; name: string; source: string; time: string; fingerprint: string }[];
}

export async function registryCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_FLAGS, preset: { type: 'string' } });
  const [action, id, ...extra] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  if (!['open', 'close', 'list', 'allow', 'deny'].includes(action))
    throw new CliError(`unknown action '${action}': open, close, list, allow or deny`, 2);
  if ((action === 'allow' || action === 'deny') && !id)
    throw new CliError(`registry ${action} needs the request ID`, 2);
  if (action === 'allow' && !values.preset)
    throw new CliError('registry allow needs --preset (read-only, all-except-security or all)', 2);
  await withSession(values, io, async ({ client }) => {
    switch (action) {
      case 'open':
      case 'close':
        expect(await client.request('POST', `/api/v1/registry/${action}`), 200);
        io.out(action === 'open' ? 'registration open for 5 minutes' : 'registration closed');
        break;
      case 'list': {
        const status = await client.request<RegistryStatus>('GET', '/api/v1/registry');
        expect(status, 200);
        io.out(status.body.open ? `open, ${status.body.remainingSeconds} s left` : 'closed');
        for (const r of status.body.pending)
          io.out(`${r.id}  ${r.name.padEnd(20)}  ${r.fingerprint}  from ${r.source} at ${r.time}`);
        break;
      }
      case 'allow': {
        const response = await client.request<{ slot: number }>(
          'POST',
          `/api/v1/registry/requests/${encodeURIComponent(id as string)}/allow`,
          { preset: values.preset },
        );
        expect(response, 200);
        io.out(`allowed: API key in slot ${response.body.slot}`);
        break;
      }
      case 'deny':
        expect(
          await client.request('POST', `/api/v1/registry/requests/${encodeURIComponent(id as string)}/deny`),
          200,
        );
        io.out('denied');
        break;
    }
  });
  return 0;
}
