/**
 * `metergate settings get|set` (the `config` resource: measurement and communication settings) and
 * `metergate security get|set` (the `security` resource: whitelist, lockout, password length, plain
 * HTTP, host names, syslog…): the REST resources as they are, read whole or by a dotted key, changed
 * with `KEY=VALUE` pairs (VALUE is JSON when it parses as JSON, else a string) in one request.
 */
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

interface Resource {
  readonly command: string;
  readonly path: string;
  readonly what: string;
  readonly example: string;
}

const SETTINGS: Resource = {
  command: 'settings',
  path: '/api/v1/config',
  what: 'measurement and communication settings (GET/PATCH /api/v1/config)',
  example: 'measurement.ctRatio=200 communication.unitId=7',
};
const SECURITY: Resource = {
  command: 'security',
  path: '/api/v1/security',
  what: 'security settings (GET/PATCH /api/v1/security): whitelist, lockout, passwordMinLength, http, hostnames, syslog, apiKeysOverHttp',
  example: `lockout.lockSeconds=600 'whitelist=["192.0.2.0/24"]' http=redirect`,
};

export const settingsCommand = (argv: readonly string[], io: CommandIo) =>
  resourceCommand(SETTINGS, argv, io);
export const securityCommand = (argv: readonly string[], io: CommandIo) =>
  resourceCommand(SECURITY, argv, io);

function usage(resource: Resource): string {
  return `usage: metergate ${resource.command} get [KEY] | set KEY=VALUE… --url URL [options]

The ${resource.what}.
  ${resource.command} get              all of them, as JSON
  ${resource.command} get KEY          one value (a dotted key, e.g. ${resource.example.split('=')[0]?.replace(/^'/, '')})
  ${resource.command} set KEY=VALUE…   changes them in one request (VALUE as JSON, else as text), e.g.
                                 metergate ${resource.command} set ${resource.example}

${CONNECTION_USAGE}`;
}

async function resourceCommand(resource: Resource, argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, CONNECTION_FLAGS);
  const [action, ...rest] = positionals;
  if (values.help || action === undefined) {
    io.out(usage(resource));
    return values.help ? 0 : 2;
  }
  if (action !== 'get' && action !== 'set') throw new CliError(`unknown action '${action}': get or set`, 2);
  if (action === 'get' && rest.length > 1) throw new CliError(`unexpected argument '${rest[1]}'`, 2);
  if (action === 'set' && rest.length === 0) throw new CliError(`${resource.command} set needs KEY=VALUE`, 2);
  const patch = action === 'set' ? patchOf(rest) : undefined;
  await withSession(values, io, async ({ client }) => {
    if (action === 'get') {
      const response = await client.request<Record<string, unknown>>('GET', resource.path);
      expect(response, 200);
      const key = rest[0];
      const value = key === undefined ? response.body : valueAt(response.body, key);
      io.out(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
    } else {
      const response = await client.request('PATCH', resource.path, patch);
      expect(response, 200);
      io.out(JSON.stringify(response.body, null, 2));
    }
  });
  return 0;
}

/** `a.b=1 c=x` as `{a:{b:1},c:"x"}`; CliError naming a pair without `=`. */
export function patchOf(pairs: readonly string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`'${pair}' is not KEY=VALUE`, 2);
    const keys = pair.slice(0, at).split('.');
    const text = pair.slice(at + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    let node = patch;
    for (const key of keys.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys.at(-1) as string] = value;
  }
  return patch;
}

function valueAt(body: Record<string, unknown>, key: string): unknown {
  let node: unknown = body;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) {
      throw new CliError(`no setting '${key}' (known: ${Object.keys(body).join(', ')})`, 2);
    }
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
