/**
 * The commissioning CLI (dist/cli.mjs) against the real device process: login, users and keys over
 * HTTPS trusting the device certificate by its fingerprint; register while the test plays the
 * administrator over REST; errors as one line with a non-zero exit; and, through a recording proxy on
 * plain HTTP, no password on the wire in any encoding.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { CLI_ENTRY, type RunningDevice, startDevice } from '../../support/device-process.ts';

const ADMIN_PASSWORD = 'Substation-Key-4410';
const OPERATOR_PASSWORD = 'Ring-Main-Unit 73';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `env` added, bounded in time, with no standard input. */
function cli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      env: { ...process.env, METERGATE_PASSWORD: '', METERGATE_NEW_PASSWORD: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A TCP proxy to `port` that keeps every byte the client sent. */
async function recordingProxy(
  port: number,
): Promise<{ port: number; sent: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    sent: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Every way a password could be spelled in a request. */
function spellings(password: string): string[] {
  const utf8 = Buffer.from(password, 'utf8');
  return [
    password,
    encodeURIComponent(password),
    JSON.stringify(password).slice(1, -1),
    utf8.toString('base64'),
    utf8.toString('base64url'),
    utf8.toString('hex'),
  ];
}

describe('metergate CLI against a running device', () => {
  let root: string;
  let device: RunningDevice;
  let httpsUrl: string;
  let fingerprint: string;
  let connection: string[];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-cli-'));
    device = await startDevice(['--data-dir', join(root, 'device')]);
    httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    fingerprint = new X509Certificate(readFileSync(join(root, 'device', 'tls', 'cert.pem'))).fingerprint256;
    connection = ['--url', httpsUrl, '--fingerprint', fingerprint];
  });

  after(async () => {
    await device?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('every command has --help', async () => {
    for (const command of ['login', 'users', 'keys', 'register', 'provision', 'inspect', 'factory-reset']) {
      const run = await cli([command, '--help']);
      assert.equal(run.code, 0, `${command} --help: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`usage: metergate ${command}`));
    }
  });

  it('login with the factory password says it must be changed; users passwd changes it', async () => {
    const login = await cli(['login', ...connection], { METERGATE_PASSWORD: 'CBM_1234' });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /logged in to .* as admin \(slot 0\)/);
    assert.match(login.stdout, /factory password: set a new one first/);
    assert.match(login.stderr, /deriving the key from the password/, 'progress on stderr');
    const passwd = await cli(['users', 'passwd', 'admin', ...connection], {
      METERGATE_PASSWORD: 'CBM_1234',
      METERGATE_NEW_PASSWORD: ADMIN_PASSWORD,
    });
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.match(passwd.stdout, /password of admin changed/);
    const again = await cli(['login', ...connection], { METERGATE_PASSWORD: ADMIN_PASSWORD });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /factory password/);
  });

  it('users add / list / rm and keys add / rm, with the permissions they were given', async () => {
    const passwordFile = join(root, 'operator.pw');
    writeFileSync(passwordFile, `${OPERATOR_PASSWORD}\n`, { mode: 0o600 });
    const admin = { METERGATE_PASSWORD: ADMIN_PASSWORD };
    const add = await cli(
      ['users', 'add', 'op_cli', '--role', 'OPERATOR', '--new-password-file', passwordFile, ...connection],
      admin,
    );
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /user op_cli added in slot \d/);
    const list = await cli(['users', 'list', ...connection], admin);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      /^\d\s+user\s+op_cli\s+measurements\.read,meters\.read,meters\.reset,minmax\.reset,config\.read/m,
    );
    const asOperator = await cli([
      'login',
      '--user',
      'op_cli',
      '--password-file',
      passwordFile,
      ...connection,
    ]);
    assert.equal(asOperator.code, 0, asOperator.stderr);
    assert.match(asOperator.stdout, /permissions: .*meters\.reset/);

    const keyFile = join(root, 'scada.key');
    const key = await cli(
      ['keys', 'add', 'scada_cli', '--preset', 'read-only', '--key-file', keyFile, ...connection],
      admin,
    );
    assert.equal(key.code, 0, key.stderr);
    assert.doesNotMatch(key.stdout, /mgk_/, 'a key written to a file is not printed');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const apiKey = readFileSync(keyFile, 'utf8').trim();
    const withKey = new DeviceClient(httpsUrl, { fingerprint, apiKey });
    assert.equal((await withKey.request('GET', '/api/v1/measurements')).status, 200);
    const removed = await cli(['keys', 'rm', 'scada_cli', ...connection], admin);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await withKey.request('GET', '/api/v1/measurements')).status, 401, 'revoked at once');

    const rm = await cli(['users', 'rm', 'op_cli', ...connection], admin);
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await cli(['login', '--user', 'op_cli', '--password-file', passwordFile, ...connection]);
    assert.equal(gone.code, 1);
  });

  it('errors are one clear line and a non-zero exit code', async () => {
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [['login', ...connection], { METERGATE_PASSWORD: 'not-the-password' }, 1, /wrong username or password/],
      [
        ['login', '--url', httpsUrl, '--fingerprint', 'AB'.repeat(32)],
        { METERGATE_PASSWORD: ADMIN_PASSWORD },
        1,
        /certificate is .* not AB:?AB/i,
      ],
      [['login'], {}, 2, /--url is required/],
      [['login', '--url', httpsUrl], {}, 2, /--fingerprint .* or --ca/],
      [['login', ...connection], {}, 2, /no password of admin: give it in a file .* \$METERGATE_PASSWORD/],
      [['users', 'frobnicate', 'x', ...connection], {}, 2, /unknown action 'frobnicate'/],
      [['keys', 'add', 'k1', ...connection], {}, 2, /--preset/],
      [['login', '--url', 'http://127.0.0.1:1'], { METERGATE_PASSWORD: 'x' }, 1, /cannot reach the device/],
      [['login', '--bogus'], {}, 2, /--bogus/],
    ];
    for (const [args, env, code, message] of cases) {
      const run = await cli(args, env);
      const context = `metergate ${args.join(' ')}: ${run.stderr}`;
      assert.equal(run.code, code, context);
      const lines = run.stderr
        .trim()
        .split('\n')
        .filter((line) => !line.startsWith('logging in'));
      assert.equal(lines.length, 1, `one line: ${context}`);
      assert.match(lines[0] as string, message, context);
    }
  });

  it('register: the application waits, the administrator compares the fingerprint and allows; the key is stored 0600', async () => {
    const admin = new DeviceClient(httpsUrl, { fingerprint });
    await admin.login('admin', ADMIN_PASSWORD);
    assert.equal((await admin.request('POST', '/api/v1/registry/open')).status, 200);
    const keyFile = join(root, 'registered.key');
    const registering = cli(['register', ...connection, '--name', 'scada_reg', '--key-file', keyFile]);
    let pending: { id: string; name: string; fingerprint: string } | undefined;
    for (let i = 0; i < 100 && !pending; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const status = await admin.request<{ pending: { id: string; name: string; fingerprint: string }[] }>(
        'GET',
        '/api/v1/registry',
      );
      pending = status.body.pending.find((r) => r.name === 'scada_reg');
    }
    assert.ok(pending, 'the request reached the device');
    const allow = await admin.request<{ slot: number }>(
      'POST',
      `/api/v1/registry/requests/${pending.id}/allow`,
      {
        preset: 'read-only',
      },
    );
    assert.equal(allow.status, 200);
    const run = await registering;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      run.stderr.includes(`Key fingerprint: ${pending.fingerprint}`),
      'the CLI showed the same fingerprint',
    );
    assert.match(run.stdout, /allowed: API key for 'scada_reg'/);
    assert.doesNotMatch(run.stdout + run.stderr, /mgk_/, 'the key is never printed');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const apiKey = readFileSync(keyFile, 'utf8').trim();
    assert.equal(
      (await new DeviceClient(httpsUrl, { fingerprint, apiKey }).request('GET', '/api/v1/meters')).status,
      200,
    );
    await admin.request('DELETE', `/api/v1/users/${allow.body.slot}`);
    assert.equal((await admin.request('POST', '/api/v1/registry/close')).status, 200);
  });

  it('register while registration is closed fails at once with one line', async () => {
    const run = await cli([
      'register',
      ...connection,
      '--name',
      'scada_closed',
      '--key-file',
      join(root, 'closed.key'),
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr.trim(), /^metergate register: client registration is closed/);
  });

  it('no password crosses the wire, even over plain HTTP (recorded by a proxy)', async () => {
    const proxy = await recordingProxy(device.ready.http as number);
    try {
      const url = ['--url', `http://127.0.0.1:${proxy.port}`];
      const newPassword = 'Transformer-Bay 9!';
      const passwordFile = join(root, 'wire.pw');
      writeFileSync(passwordFile, `${newPassword}\n`);
      const runs = [
        await cli(['login', ...url], { METERGATE_PASSWORD: ADMIN_PASSWORD }),
        await cli(
          ['users', 'add', 'wire_user', '--role', 'VIEWER', '--new-password-file', passwordFile, ...url],
          {
            METERGATE_PASSWORD: ADMIN_PASSWORD,
          },
        ),
        await cli(['users', 'passwd', 'admin', ...url], {
          METERGATE_PASSWORD: ADMIN_PASSWORD,
          METERGATE_NEW_PASSWORD: `${ADMIN_PASSWORD}x`,
        }),
        await cli(['users', 'passwd', 'admin', ...url], {
          METERGATE_PASSWORD: `${ADMIN_PASSWORD}x`,
          METERGATE_NEW_PASSWORD: ADMIN_PASSWORD,
        }),
        await cli(['users', 'rm', 'wire_user', ...url], { METERGATE_PASSWORD: ADMIN_PASSWORD }),
      ];
      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      const sent = proxy.sent().toString('latin1');
      assert.match(sent, /POST \/api\/v1\/auth\/login/, 'the proxy saw the logins');
      for (const password of [ADMIN_PASSWORD, `${ADMIN_PASSWORD}x`, newPassword]) {
        for (const spelling of spellings(password)) {
          assert.ok(!sent.includes(spelling), `'${spelling}' (of a password) was on the wire`);
        }
      }
    } finally {
      await proxy.close();
    }
  });
});
