/**
 * The emulated Pi's own client for the smoke test: bundled by scripts/pi/pi-smoke.ts and run under
 * qemu-aarch64 with the arm64 Node, so the login's key derivation (PBKDF2, 600 000 iterations) and the
 * password sealing happen on the emulated CPU. It speaks through the reference client
 * (firmware/client/device-client.ts) over HTTPS, trusting the device certificate.
 *
 *   pi-client probe                                       arch, Node version, native add-ons
 *   pi-client setup <https-url> <ca.pem> <new-password>   first login, new admin password, API key, Modbus on
 *   pi-client login <https-url> <ca.pem> <password>       admin login, then GET /me
 *
 * Prints one JSON line per step on stdout ({"step","ms"} and the step's result, or {"step","error"}),
 * exits 1 at the first failing step.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DeviceClient, expectOk, type MeBody } from '../../firmware/client/device-client.ts';

type StepResult = Record<string, unknown>;

async function step(name: string, run: () => Promise<StepResult | undefined>): Promise<void> {
  const started = performance.now();
  try {
    const result = (await run()) ?? {};
    const ms = Math.round(performance.now() - started);
    process.stdout.write(`${JSON.stringify({ step: name, ms, ...result })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ step: name, error: (error as Error).message })}\n`);
    process.exit(1);
  }
}

function client(url: string, caPath: string): DeviceClient {
  return new DeviceClient(url, { ca: readFileSync(caPath, 'utf8'), timeoutMs: 120_000 });
}

/** Which native add-ons this Node loads: cbor-extract (optional for cbor-x), the serialport binding. */
async function probe(repoRoot: string): Promise<void> {
  await step('emulated Node', async () => ({ arch: process.arch, version: process.version }));
  const require = createRequire(join(repoRoot, 'package.json'));
  await step('cbor-extract', async () => {
    let native: string;
    try {
      require('cbor-extract');
      native = 'loaded';
    } catch (error) {
      native = `not loaded: ${(error as Error).message.split('\n')[0]}`;
    }
    const cbor = require('cbor-x') as typeof import('cbor-x');
    const encoder = new cbor.Encoder();
    const value = { table: ['admin', 'localgui', 'anonymous'], slot: 3, key: new Uint8Array([1, 2, 3]) };
    const back = encoder.decode(encoder.encode(value)) as typeof value;
    if (back.table.join() !== value.table.join() || back.key.length !== 3)
      throw new Error('CBOR round trip broke');
    return { native, accelerated: cbor.isNativeAccelerationEnabled, roundTrip: 'ok' };
  });
  await step('serialport binding', async () => {
    require('@serialport/bindings-cpp');
    // The add-on files this process has mapped: the prebuilt binary node-gyp-build picked.
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const addons = [...new Set(maps.match(/\S+\.node$/gm) ?? [])].map((path) =>
      path.slice(path.indexOf('node_modules/')),
    );
    if (!addons.some((path) => path.includes('bindings-cpp'))) throw new Error('no serialport add-on mapped');
    return { loaded: addons };
  });
}

async function setup(url: string, caPath: string, newPassword: string): Promise<void> {
  const admin = client(url, caPath);
  await step('first login admin / CBM_1234', async () => {
    const me = await admin.login('admin', 'CBM_1234');
    if (!me.mustChangePassword)
      throw new Error('the factory admin session does not have to change its password');
    return { mustChangePassword: me.mustChangePassword };
  });
  await step('change the admin password', async () => {
    const me = await admin.changeOwnPassword('admin', 'CBM_1234', newPassword);
    if (me.mustChangePassword) throw new Error('still must change the password after changing it');
    return {};
  });
  await step('create an API key (read-only)', async () => {
    const created = await admin.request<{ slot: number; key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'pi_smoke',
      preset: 'read-only',
    });
    expectOk(created);
    if (!/^mgk_/.test(created.body.key)) throw new Error('no mgk_ key in the answer');
    return { slot: created.body.slot, apiKey: created.body.key };
  });
  await step('enable Modbus TCP', async () => {
    const patched = await admin.request<{ communication: { modbusTcp: boolean } }>(
      'PATCH',
      '/api/v1/config',
      {
        communication: { modbusTcp: true },
      },
    );
    expectOk(patched);
    if (!patched.body.communication.modbusTcp) throw new Error('modbusTcp is still false');
    return {};
  });
}

async function login(url: string, caPath: string, password: string): Promise<void> {
  const admin = client(url, caPath);
  await step('login admin with the changed password', async () => {
    await admin.login('admin', password);
    const me = await admin.request<MeBody>('GET', '/api/v1/me');
    expectOk(me);
    if (
      me.body.name !== 'admin' ||
      me.body.mustChangePassword ||
      !me.body.permissions.includes('security.write')
    ) {
      throw new Error(`unexpected principal ${JSON.stringify(me.body)}`);
    }
    return { name: me.body.name, permissions: me.body.permissions.length };
  });
}

const [command, ...args] = process.argv.slice(2);
const usage = () => {
  process.stderr.write(
    'usage: pi-client probe <repo> | setup <url> <ca> <password> | login <url> <ca> <password>\n',
  );
  process.exit(2);
};
if (command === 'probe' && args.length === 1) await probe(args[0] as string);
else if (command === 'setup' && args.length === 3) await setup(...(args as [string, string, string]));
else if (command === 'login' && args.length === 3) await login(...(args as [string, string, string]));
else usage();
