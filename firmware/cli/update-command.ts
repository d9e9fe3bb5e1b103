/**
 * `metergate update --file BUNDLE [--later]` and `metergate update status`: a signed firmware update
 * (docs/updates.md) uploaded over HTTPS to a running device, which checks it as its launcher will and
 * restarts into the install (or keeps it for the next start with --later); `status` shows the running
 * and previous versions, an update pending or on trial, and the last result.
 */
import { readFileSync } from 'node:fs';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

const USAGE = `usage: metergate update --file BUNDLE [--later] --url URL [options]
       metergate update status --url URL [options]

  update --file BUNDLE      uploads a signed bundle (npm run bundle; HTTPS only, 'service' permission);
                            the device checks it, restarts and its launcher installs it beside the
                            running version, falling back if the new one does not come up
  --later                   keep it for the next start instead of restarting now
  update status             running and previous version, pending / on trial, the last result

${CONNECTION_USAGE}`;

interface SlotInfo {
  readonly slot: string;
  readonly version: string | null;
  readonly signed: boolean;
}

interface FirmwareStatus {
  readonly managed: boolean;
  readonly built: string;
  readonly running?: SlotInfo | null;
  readonly previous?: SlotInfo | null;
  readonly trial?: { readonly version: string; readonly state: string } | null;
  readonly pending?: boolean;
  readonly floor?: string | null;
  readonly lastResult?: {
    readonly result: string;
    readonly version: string | null;
    readonly code?: string;
    readonly reason?: string;
    readonly at: string;
  } | null;
}

const slotText = (slot: SlotInfo | null | undefined) =>
  slot
    ? `${slot.version ?? 'unknown'} (slot ${slot.slot}${slot.signed ? ', signed' : ', from a checkout'})`
    : 'none';

export async function updateCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    file: { type: 'string' },
    later: { type: 'boolean' },
  });
  const [action, ...extra] = positionals;
  if (values.help || (action === undefined && !values.file)) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0 || (action !== undefined && action !== 'status')) {
    throw new CliError(
      `unexpected argument '${extra[0] ?? action}': update --file BUNDLE, or update status`,
      2,
    );
  }
  if (action === 'status' && values.file) throw new CliError('update status takes no --file', 2);
  let bundle: Uint8Array | undefined;
  if (values.file) {
    try {
      bundle = readFileSync(values.file);
    } catch (error) {
      throw new CliError(`cannot read ${values.file}: ${(error as NodeJS.ErrnoException).code ?? error}`, 2);
    }
  }
  await withSession(values, io, async ({ client }) => {
    if (bundle) {
      const path = `/api/v1/firmware${values.later ? '?restart=later' : ''}`;
      const response = await client.request<{ version: string; target: string; restart: boolean }>(
        'POST',
        path,
        bundle,
      );
      expect(response, 202);
      const { version, target, restart } = response.body;
      io.out(
        `accepted: metergate ${version} for ${target}; ${restart ? 'the device restarts now and installs it' : 'installed at the next start'}`,
      );
      io.out("check with 'metergate update status' once it is back");
      return;
    }
    const response = await client.request<FirmwareStatus>('GET', '/api/v1/firmware');
    expect(response, 200);
    const status = response.body;
    if (!status.managed) {
      io.out(`running: ${status.built} (not started by the update launcher: updates through install-pi.sh)`);
      return;
    }
    io.out(`running: ${slotText(status.running)}`);
    io.out(`previous: ${slotText(status.previous)}`);
    io.out(`floor: ${status.floor ?? 'none'} (no version below it installs)`);
    if (status.trial) io.out(`on trial: ${status.trial.version} (${status.trial.state})`);
    io.out(`pending: ${status.pending ? 'a bundle waits for the next start' : 'none'}`);
    const last = status.lastResult;
    if (last) {
      const detail = [last.code, last.reason].filter(Boolean).join(': ');
      io.out(
        `last result: ${last.result}${last.version ? ` ${last.version}` : ''}${detail ? ` (${detail})` : ''} at ${last.at}`,
      );
    }
  });
  return 0;
}
