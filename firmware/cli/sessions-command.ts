/**
 * `metergate sessions list|end [NAME]`: your own sessions on a running device, or a user's (NAME; an
 * administrator's). `end` without `--id` ends every one: "log out everywhere" (a kept session too).
 */
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { removeSessionFile, sessionFilePath } from './session-file.ts';
import { expect, slotNamed } from './users-command.ts';

const USAGE = `usage: metergate sessions list|end [NAME] [--id ID] --url URL [options]

  sessions list [NAME]           your sessions (NAME: that user's; needs security.read)
  sessions end [NAME] [--id ID]  ends them all, "log out everywhere" (NAME: that user's; needs
                                 security.write and every permission NAME holds), or the one with ID

${CONNECTION_USAGE}`;

interface SessionList {
  readonly slot: number;
  readonly sessions: {
    id: string;
    scheme: string;
    source: string;
    createdAt: string;
    lastSeen: string;
    current: boolean;
  }[];
}

export async function sessionsCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_FLAGS, id: { type: 'string' } });
  const [action, name, ...extra] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  if (action !== 'list' && action !== 'end') throw new CliError(`unknown action '${action}': list or end`, 2);
  let endedOwn = false;
  await withSession(values, io, async (session) => {
    const { client } = session;
    const own = name === undefined || name === session.username;
    if (own && session.kind === 'api-key') throw new CliError('an API key has no sessions: name a user', 2);
    const base = own
      ? '/api/v1/sessions'
      : `/api/v1/users/${await slotNamed(client, name as string)}/sessions`;
    if (action === 'list') {
      const response = await client.request<SessionList>('GET', base);
      expect(response, 200);
      for (const s of response.body.sessions) {
        io.out(
          `${s.id}  ${s.scheme.padEnd(5)}  ${s.source.padEnd(15)}  since ${s.createdAt}  last ${s.lastSeen}${s.current ? '  (this one)' : ''}`,
        );
      }
      if (response.body.sessions.length === 0) io.out('no sessions');
    } else {
      const query = values.id ? `?id=${encodeURIComponent(values.id)}` : '';
      const response = await client.request<{ ended: number }>('DELETE', `${base}${query}`);
      expect(response, 200);
      io.out(
        `${response.body.ended} session${response.body.ended === 1 ? '' : 's'} of ${name ?? session.username} ended`,
      );
      endedOwn = own && !values.id;
    }
  });
  // Logged out everywhere: a kept session is gone too.
  const file = sessionFilePath(values['session-file']);
  if (endedOwn && file && !values['api-key-file']) removeSessionFile(file);
  return 0;
}
