/**
 * `metergate modbus …`: the Modbus side of a running device: which listeners are enabled, whose rights
 * a request acts with (the principal), the unit id, and the CA and CRL that Modbus/TCP Security client
 * certificates are checked against. Through `config`, `modbus/ca` and `modbus/crl` of the REST API.
 */
import { readFileSync } from 'node:fs';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect, slots } from './users-command.ts';

const USAGE = `usage: metergate modbus show|enable|disable|principal|unit-id|ca|crl … --url URL [options]

  modbus show                      enables, principals, unit id, CA and CRL
  modbus enable|disable tcp|rtu|tls
                                   opens or blocks Modbus TCP, RTU or Modbus/TCP Security (TLS)
  modbus principal NAME|SLOT [--rtu]
                                   whose rights Modbus TCP (--rtu: RTU) requests act with (needs security.write)
  modbus unit-id N                 the unit id the device answers (1–247)
  modbus ca FILE                   installs the CA (PEM) client certificates must chain to
  modbus crl FILE                  installs that CA's CRL (PEM; over HTTPS)

${CONNECTION_USAGE}`;

const LISTENERS: Record<string, string> = { tcp: 'modbusTcp', rtu: 'modbusRtu', tls: 'modbusTls' };

export async function modbusCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_FLAGS, rtu: { type: 'boolean' } });
  const [action, argument, ...extra] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  const known = ['show', 'enable', 'disable', 'principal', 'unit-id', 'ca', 'crl'];
  if (!known.includes(action)) throw new CliError(`unknown action '${action}': ${known.join(', ')}`, 2);
  if (action !== 'show' && argument === undefined)
    throw new CliError(`modbus ${action} needs an argument`, 2);
  if ((action === 'enable' || action === 'disable') && !Object.hasOwn(LISTENERS, argument as string))
    throw new CliError(`modbus ${action}: '${argument}' is not tcp, rtu or tls`, 2);
  const unitId = action === 'unit-id' ? Number(argument) : undefined;
  if (unitId !== undefined && !(Number.isInteger(unitId) && unitId >= 1 && unitId <= 247))
    throw new CliError(`modbus unit-id: '${argument}' is not a unit id from 1 to 247`, 2);
  const pem = action === 'ca' || action === 'crl' ? readPem(argument as string) : undefined;

  await withSession(values, io, async ({ client }) => {
    const patchConfig = async (communication: Record<string, unknown>) =>
      expect(await client.request('PATCH', '/api/v1/config', { communication }), 200);
    switch (action) {
      case 'show': {
        const config = await client.request<{ communication: Record<string, unknown> }>(
          'GET',
          '/api/v1/config',
        );
        expect(config, 200);
        const ca = await client.request<{ ca: unknown }>('GET', '/api/v1/modbus/ca');
        const crl = await client.request<{ crl: unknown }>('GET', '/api/v1/modbus/crl');
        const { rtu: _rtu, ...communication } = config.body.communication;
        io.out(
          JSON.stringify(
            {
              ...communication,
              ca: ca.status === 200 ? ca.body.ca : null,
              crl: crl.status === 200 ? crl.body.crl : null,
            },
            null,
            2,
          ),
        );
        break;
      }
      case 'enable':
      case 'disable':
        await patchConfig({ [LISTENERS[argument as string] as string]: action === 'enable' });
        io.out(`modbus ${argument} ${action === 'enable' ? 'enabled' : 'blocked'}`);
        break;
      case 'principal': {
        const list = await slots(client);
        const entry = /^\d$/.test(argument as string)
          ? list.find((s) => s.slot === Number(argument))
          : list.find((s) => s.name === argument);
        if (!entry || entry.type === 'empty') throw new CliError(`no entry '${argument}' on the device`);
        await patchConfig({ [values.rtu ? 'rtuSlot' : 'modbusSlot']: entry.slot });
        io.out(`modbus ${values.rtu ? 'rtu' : 'tcp'} requests act as slot ${entry.slot} (${entry.name})`);
        break;
      }
      case 'unit-id':
        await patchConfig({ unitId });
        io.out(`unit id ${unitId}`);
        break;
      case 'ca': {
        const response = await client.request<{ ca: { subject: string; fingerprint256: string } }>(
          'PUT',
          '/api/v1/modbus/ca',
          { ca: pem },
        );
        expect(response, 200);
        io.out(
          `Modbus client CA installed: ${response.body.ca.subject} (${response.body.ca.fingerprint256})`,
        );
        break;
      }
      case 'crl': {
        const response = await client.request<{
          crl: { issuer: string; revoked: number; nextUpdate: string };
        }>('PUT', '/api/v1/modbus/crl', { crl: pem });
        expect(response, 200);
        const { crl } = response.body;
        io.out(`CRL installed: ${crl.revoked} revoked, next update ${crl.nextUpdate}`);
        break;
      }
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
