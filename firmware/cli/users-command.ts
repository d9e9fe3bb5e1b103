/**
 * `metergate users list|add|passwd|rename|disable|enable|rm` against a running device: the user table as the REST API has
 * it. New passwords are sealed to the device key here (docs/auth-protocol.md) and come from a file, an
 * environment variable or a prompt, never from a flag.
 */
import type { DeviceClient } from '../client/device-client.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, readSecret, withSession } from './device-connection.ts';

const USAGE = `usage: metergate users list|add|passwd|rename|disable|enable|rm [NAME] --url URL [options]

  users list                        the 8 slots: names, types, permissions, flags
  users add NAME [--role ROLE | --permissions a,b,…] [--local-only] [--new-password-file FILE]
                                    adds a user (roles: VIEWER, OPERATOR, ENGINEER, INSTALLER, SECADM, SECAUD)
  users passwd NAME [--new-password-file FILE]
                                    sets NAME's password (your own: proves the current one first)
  users rename NAME NEW             renames a user or API key (yourself: your session goes on)
  users disable NAME                keeps the user (or API key) but refuses its logins and ends its
                                    sessions (not the admin, not yourself)
  users enable NAME                 lets a disabled user (or API key) log in again
  users rm NAME                     deletes a user (or revokes an API key) at once

The new password comes from --new-password-file, else $METERGATE_NEW_PASSWORD, else a prompt.

${CONNECTION_USAGE}`;

export interface SlotView {
  readonly slot: number;
  readonly type: string;
  readonly name: string | null;
  readonly permissions: string[];
  readonly flags: string[];
}

export async function usersCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    role: { type: 'string' },
    permissions: { type: 'string' },
    'local-only': { type: 'boolean' },
    'new-password-file': { type: 'string' },
  });
  const [action, name, ...extra] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const newName = action === 'rename' ? extra.shift() : undefined;
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  if (!['list', 'add', 'passwd', 'rename', 'disable', 'enable', 'rm'].includes(action)) {
    throw new CliError(`unknown action '${action}': list, add, passwd, rename, disable, enable or rm`, 2);
  }
  if (action !== 'list' && !name) throw new CliError(`users ${action} needs a NAME`, 2);
  if (action === 'rename' && !newName) throw new CliError('users rename needs the NAME and the NEW name', 2);
  if (values.role && values.permissions) throw new CliError('give --role or --permissions, not both', 2);
  await withSession(values, io, async (session) => {
    const { client } = session;
    switch (action) {
      case 'list':
        for (const line of formatSlots(await slots(client))) io.out(line);
        break;
      case 'add': {
        const password = await newPassword(values['new-password-file']);
        const response = await client.request<{ slot: number }>('POST', '/api/v1/users', {
          type: 'user',
          name,
          password: await client.seal(name as string, password),
          ...(values.role ? { role: values.role } : {}),
          ...(values.permissions
            ? {
                permissions: values.permissions
                  .split(',')
                  .map((p) => p.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(values['local-only'] ? { localOnly: true } : {}),
        });
        expect(response, 201);
        io.out(`user ${name} added in slot ${response.body.slot}`);
        break;
      }
      case 'passwd': {
        const password = await newPassword(values['new-password-file']);
        if (name === session.username && session.kind !== 'api-key') {
          const current =
            session.password ??
            (await readSecret(
              `current password of ${session.username}`,
              values['password-file'],
              'METERGATE_PASSWORD',
            ));
          await client.changeOwnPassword(session.username, current, password);
        } else {
          const slot = await slotNamed(client, name as string);
          expect(
            await client.request('PATCH', `/api/v1/users/${slot}`, {
              password: await client.seal(name as string, password),
            }),
            200,
          );
        }
        io.out(`password of ${name} changed`);
        break;
      }
      case 'rename': {
        const slot = await slotNamed(client, name as string);
        const response = await client.request<{ csrfToken?: string }>('PATCH', `/api/v1/users/${slot}`, {
          name: newName,
        });
        expect(response, 200);
        const kept = client.session;
        if (response.body.csrfToken && kept) {
          client.resumeSession({ cookie: kept.cookie, csrfToken: response.body.csrfToken });
          session.renamed?.(newName as string);
          io.out(`${name} (slot ${slot}) renamed to ${newName}; you stay logged in as ${newName}`);
        } else {
          io.out(`${name} (slot ${slot}) renamed to ${newName}`);
        }
        break;
      }
      case 'disable':
      case 'enable': {
        const slot = await slotNamed(client, name as string);
        const disabled = action === 'disable';
        expect(await client.request('PATCH', `/api/v1/users/${slot}`, { disabled }), 200);
        io.out(
          `${name} (slot ${slot}) ${disabled ? 'disabled: its logins are refused, its sessions ended' : 'enabled'}`,
        );
        break;
      }
      case 'rm': {
        const slot = await slotNamed(client, name as string);
        expect(await client.request('DELETE', `/api/v1/users/${slot}`), 200);
        io.out(`${name} (slot ${slot}) deleted`);
        break;
      }
    }
  });
  return 0;
}

function newPassword(file: string | undefined): Promise<string> {
  return readSecret('new password', file, 'METERGATE_NEW_PASSWORD');
}

export async function slots(client: DeviceClient): Promise<SlotView[]> {
  const response = await client.request<{ slots: SlotView[] }>('GET', '/api/v1/users');
  expect(response, 200);
  return response.body.slots;
}

/** The slot of the entry named `name`; CliError when there is none. */
export async function slotNamed(client: DeviceClient, name: string, type?: string): Promise<number> {
  const entry = (await slots(client)).find((s) => s.name === name && (type === undefined || s.type === type));
  if (!entry)
    throw new CliError(`no ${type === 'api-key' ? 'API key' : 'entry'} named '${name}' on the device`);
  return entry.slot;
}

/** Throws the device's error, in its words, unless the answer has `status`. */
export function expect(response: { status: number; body: unknown }, status: number): void {
  if (response.status === status) return;
  const error = (response.body as { error?: { code?: string; message?: string } })?.error;
  throw new CliError(
    `${error?.message ?? 'unexpected answer'} (HTTP ${response.status}${error?.code ? ` ${error.code}` : ''})`,
  );
}

function formatSlots(list: readonly SlotView[]): string[] {
  const rows = list.map((s) => [
    String(s.slot),
    s.type,
    s.name ?? '—',
    s.permissions.join(',') || '—',
    s.flags.join(',') || '',
  ]);
  const header = ['slot', 'type', 'name', 'permissions', 'flags'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
