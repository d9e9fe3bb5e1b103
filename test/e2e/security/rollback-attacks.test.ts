/**
 * Rollback and tamper attacks on the data dir of a stopped device (issue 14 §4), against the real
 * device process and the real flash image and files: older configuration blocks replayed, both
 * configuration copies damaged, the event log erased or replayed, older TLS files and Modbus CA
 * replayed, the keys directory deleted. Each must be detected, logged and shown; none may bring back
 * an older state or the factory admin password.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import {
  CONFIG_RECORD_BLOCKS,
  FIRST_LOG_BLOCK,
  LOG_BLOCK_COUNT,
} from '../../../firmware/store/flash-layout.ts';
import { generateSelfSignedCertificate } from '../../../firmware/tls/self-signed-certificate.ts';
import { DEFAULT_BLOCK_SIZE } from '../../../sim/nor-flash.ts';
import { launchChromium } from '../../support/browser.ts';
import { type RunningDevice, runCli, startDevice } from '../../support/device-process.ts';
import { createTestCa, makeCertificateWithRoles } from '../../support/modbus-certificates.ts';
import { MbapClient } from '../../support/modbus-tcp-client.ts';

const ADMIN_PASSWORD = 'Rückspiel-Schutz 2026!';
const DAY = 24 * 3600_000;
const READ_VOLTAGE = Uint8Array.of(0x03, 0x00, 0x00, 0x00, 0x02);

interface Running {
  readonly device: RunningDevice;
  readonly admin: DeviceClient;
}

interface AuditPage {
  events: { id: number; type: string; result: string; detail?: string }[];
  integrity: { state: string; since: string | null; detail: string | null };
}

interface InspectReport {
  mode: string;
  reason?: string;
  configuration?: { state: string; detail: string | null };
  eventLog?: { events: number; damaged: number; integrity: { state: string; detail: string | null } };
  degraded?: string[];
}

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'metergate-rollback-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Boots the device on `dir` and logs in as admin over HTTPS (first boot: replaces CBM_1234). */
async function boot(dir: string, extra: readonly string[] = []): Promise<Running> {
  const device = await startDevice(['--data-dir', dir, ...extra]);
  assert.equal(device.ready.mode, 'normal', device.stderr());
  const ca = readFileSync(join(dir, 'tls', 'cert.pem'), 'utf8');
  const admin = new DeviceClient(`https://127.0.0.1:${device.ready.https}`, { ca });
  if (/first boot/.test(device.stderr())) {
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
  } else {
    await admin.login('admin', ADMIN_PASSWORD);
  }
  return { device, admin };
}

async function stop(running: Running): Promise<void> {
  assert.equal((await running.device.stop()).code, 0);
}

async function setVtRatio(running: Running, vtRatio: number): Promise<void> {
  const response = await running.admin.request('PATCH', '/api/v1/config', { measurement: { vtRatio } });
  assert.equal(response.status, 200, JSON.stringify(response.body));
}

async function vtRatio(running: Running): Promise<number> {
  const response = await running.admin.request<{ measurement: { vtRatio: number } }>('GET', '/api/v1/config');
  assert.equal(response.status, 200);
  return response.body.measurement.vtRatio;
}

async function audit(running: Running): Promise<AuditPage> {
  const response = await running.admin.request<AuditPage>('GET', '/api/v1/audit?limit=200');
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

function inspect(
  dir: string,
  extra: readonly string[] = [],
): { status: number | null; report: InspectReport } {
  const result = runCli(['inspect', '--data-dir', dir, '--json', ...extra]);
  assert.ok(result.status === 0 || result.status === 3, `inspect: ${result.status} ${result.stderr}`);
  return { status: result.status, report: JSON.parse(result.stdout) as InspectReport };
}

function image(dir: string): Buffer {
  return readFileSync(join(dir, 'flash.img'));
}

/** `into` with blocks [first, first + count) taken from `from`. */
function withBlocks(into: Buffer, from: Buffer, first: number, count: number): Buffer {
  const out = Buffer.from(into);
  from.copy(
    out,
    first * DEFAULT_BLOCK_SIZE,
    first * DEFAULT_BLOCK_SIZE,
    (first + count) * DEFAULT_BLOCK_SIZE,
  );
  return out;
}

describe('configuration record (VT/CT ratios)', () => {
  it('older configuration blocks replayed: not served, a security event, a visible degraded state', async () => {
    const dir = join(root, 'config-replay');
    let running = await boot(dir);
    await setVtRatio(running, 100);
    await stop(running);
    const old = image(dir);
    running = await boot(dir);
    await setVtRatio(running, 200);
    await stop(running);
    writeFileSync(join(dir, 'flash.img'), withBlocks(image(dir), old, CONFIG_RECORD_BLOCKS[0], 2));

    running = await boot(dir);
    assert.notEqual(await vtRatio(running), 100, 'the replayed configuration is served');
    const { report } = inspect(dir);
    assert.equal(report.configuration?.state, 'rolled-back', JSON.stringify(report));
    assert.match(running.device.ready.degraded?.join('\n') ?? '', /configuration.*rolled back/i);
    const info = await running.admin.request<{ degraded: string[] }>('GET', '/api/v1/info');
    assert.match(info.body.degraded.join('\n'), /configuration.*rolled back/i);
    const events = (await audit(running)).events;
    assert.ok(
      events.some((e) => e.type === 'config.rollback' && e.result === 'failed'),
      JSON.stringify(events.map((e) => e.type)),
    );
    // A configuration stored again ends the degraded state.
    await setVtRatio(running, 300);
    await stop(running);
    running = await boot(dir);
    assert.equal(await vtRatio(running), 300);
    assert.deepEqual(running.device.ready.degraded ?? [], []);
    await stop(running);
  });

  it('both configuration copies damaged: a security event and a visible degraded state, not silent defaults', async () => {
    const dir = join(root, 'config-damaged');
    let running = await boot(dir);
    await setVtRatio(running, 100);
    await stop(running);
    const bytes = image(dir);
    for (const block of CONFIG_RECORD_BLOCKS) {
      const at = block * DEFAULT_BLOCK_SIZE + 60;
      bytes[at] = (bytes[at] as number) ^ 0x10;
    }
    writeFileSync(join(dir, 'flash.img'), bytes);

    const { report } = inspect(dir);
    assert.equal(report.configuration?.state, 'damaged', JSON.stringify(report));
    running = await boot(dir);
    assert.match(running.device.ready.degraded?.join('\n') ?? '', /configuration.*damaged/i);
    const info = await running.admin.request<{ degraded: string[] }>('GET', '/api/v1/info');
    assert.match(info.body.degraded.join('\n'), /configuration.*damaged/i);
    assert.ok((await audit(running)).events.some((e) => e.type === 'config.damaged'));
    // The website says so on every page, to anyone who opens it.
    const browser = await launchChromium(null);
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${running.device.ready.http}/`);
      const notice = page.getByRole('alert');
      await notice.waitFor({ timeout: 15_000 });
      assert.match((await notice.textContent()) ?? '', /Degraded:.*configuration damaged/);
    } finally {
      await browser.close();
    }
    await stop(running);
  });
});

describe('event log', () => {
  it('the log blocks erased: detected, logged, shown by inspect and GET /audit', async () => {
    const dir = join(root, 'log-erased');
    let running = await boot(dir);
    await setVtRatio(running, 7);
    await stop(running);
    const bytes = image(dir);
    bytes.fill(
      0xff,
      FIRST_LOG_BLOCK * DEFAULT_BLOCK_SIZE,
      (FIRST_LOG_BLOCK + LOG_BLOCK_COUNT) * DEFAULT_BLOCK_SIZE,
    );
    writeFileSync(join(dir, 'flash.img'), bytes);

    const { report } = inspect(dir);
    assert.equal(report.eventLog?.integrity.state, 'broken', JSON.stringify(report));
    running = await boot(dir);
    const page = await audit(running);
    assert.equal(page.integrity.state, 'broken', JSON.stringify(page.integrity));
    assert.match(page.integrity.detail ?? '', /newest|missing/);
    assert.ok(page.events.some((e) => e.type === 'audit.truncated'));
    // Reading the newest page acknowledges it; the event stays.
    const again = await audit(running);
    assert.equal(again.integrity.state, 'ok');
    assert.ok(again.events.some((e) => e.type === 'audit.truncated'));
    // (The read state is stored with the next entry, as for `lost`: log one before the reboot.)
    await setVtRatio(running, 8);
    await stop(running);
    running = await boot(dir);
    assert.equal((await audit(running)).integrity.state, 'ok', 'detected again after a reboot');
    await stop(running);
  });

  it('older log blocks replayed over newer ones: detected', async () => {
    const dir = join(root, 'log-replay');
    let running = await boot(dir);
    await stop(running);
    const old = image(dir);
    running = await boot(dir);
    await setVtRatio(running, 9);
    await setVtRatio(running, 10);
    await stop(running);
    writeFileSync(join(dir, 'flash.img'), withBlocks(image(dir), old, FIRST_LOG_BLOCK, LOG_BLOCK_COUNT));

    const { report } = inspect(dir);
    assert.equal(report.eventLog?.integrity.state, 'broken', JSON.stringify(report));
    running = await boot(dir);
    assert.equal((await audit(running)).integrity.state, 'broken');
    await stop(running);
  });
});

describe('files bound to the counter', () => {
  it('an older Modbus client CA replayed is not trusted: a security event, no CA, clients refused', async (t) => {
    const dir = join(root, 'ca-replay');
    const [ca1, ca2] = await Promise.all([
      createTestCa('metergate old CA'),
      createTestCa('metergate new CA'),
    ]);
    const tlsPort = ['--modbus-tls-port', '0'];
    let running = await boot(dir, tlsPort);
    const put = async (pem: string) => {
      const response = await running.admin.request('PUT', '/api/v1/modbus/ca', { ca: pem });
      assert.equal(response.status, 200, JSON.stringify(response.body));
    };
    await put(ca1.cert);
    const enabled = await running.admin.request('PATCH', '/api/v1/config', {
      communication: { modbusTls: true },
    });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    await stop(running);
    const oldCa = readFileSync(join(dir, 'tls', 'modbus-ca.sealed'));
    running = await boot(dir, tlsPort);
    await put(ca2.cert);
    await stop(running);
    writeFileSync(join(dir, 'tls', 'modbus-ca.sealed'), oldCa);

    running = await boot(dir, tlsPort);
    const port = running.device.ready.modbusTls;
    assert.ok(port, 'Modbus/TCP Security is listening');
    // A client of the old CA does not get through the handshake (whatever role its certificate names).
    const client = await makeCertificateWithRoles(ca1, ['anonymous']);
    const outcome = await MbapClient.connect(t, port, { tls: { cert: client.cert, key: client.key } }).then(
      async (connection) =>
        (await connection.request(READ_VOLTAGE).catch(() => null)) === null ? 'refused' : 'answered',
      () => 'refused',
    );
    assert.equal(outcome, 'refused', 'a client of the replayed CA was served');
    const ca = await running.admin.request<{ ca: { subject: string } | null }>('GET', '/api/v1/modbus/ca');
    assert.doesNotMatch(JSON.stringify(ca.body), /old CA/, 'the replayed CA is trusted');
    assert.equal(ca.body.ca, null);
    const events = (await audit(running)).events;
    assert.ok(
      events.some((e) => e.type === 'file.rollback' && /modbus-ca/.test(e.detail ?? '')),
      JSON.stringify(events.map((e) => [e.type, e.detail])),
    );
    assert.match(running.device.ready.degraded?.join('\n') ?? '', /modbus-ca/);
    await stop(running);
  });

  it('an older uploaded HTTPS certificate and key replayed are not served', async () => {
    const dir = join(root, 'tls-replay');
    const make = (name: string) =>
      generateSelfSignedCertificate({
        subject: `CN=${name}`,
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + 365 * DAY),
      });
    const [old, fresh] = await Promise.all([make('metergate old upload'), make('metergate new upload')]);
    let running = await boot(dir);
    const upload = async (pair: { cert: string; key: string }) => {
      const response = await running.admin.request('PUT', '/api/v1/tls', {
        certificate: pair.cert,
        privateKey: pair.key,
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
    };
    await upload(old);
    await stop(running);
    const saved = join(root, 'tls-replay-saved');
    cpSync(join(dir, 'tls'), saved, { recursive: true });
    running = await boot(dir);
    await upload(fresh);
    await stop(running);
    for (const name of ['cert.pem', 'key.sealed']) cpSync(join(saved, name), join(dir, 'tls', name));

    running = await boot(dir);
    const info = await running.admin.request<{ subject: string; source: string }>('GET', '/api/v1/tls');
    assert.doesNotMatch(info.body.subject, /old upload/, 'the replayed certificate is served');
    const events = (await audit(running)).events;
    assert.ok(
      events.some((e) => e.type === 'file.rollback' && /cert\.pem|key\.sealed/.test(e.detail ?? '')),
      JSON.stringify(events.map((e) => [e.type, e.detail])),
    );
    await stop(running);
  });
});

describe('keys deleted', () => {
  it('keys/ deleted while the flash holds sealed records: safe mode, never a first boot', async () => {
    const dir = join(root, 'keys-deleted');
    await stop(await boot(dir));
    rmSync(join(dir, 'keys'), { recursive: true, force: true });
    const device = await startDevice(['--data-dir', dir]);
    try {
      assert.equal(device.ready.mode, 'safe', device.stderr());
      assert.match(device.ready.safeReason ?? '', /root key/);
      assert.doesNotMatch(device.stderr(), /first boot/);
    } finally {
      await device.stop();
    }
    const { status, report } = inspect(dir);
    assert.equal(status, 3);
    assert.equal(report.mode, 'safe');
    // Only a factory reset formats.
    const reset = runCli(['factory-reset', '--data-dir', dir, '--yes']);
    assert.equal(reset.status, 0, reset.stderr);
    const fresh = await startDevice(['--data-dir', dir]);
    assert.equal(fresh.ready.mode, 'normal');
    assert.match(fresh.stderr(), /first boot/);
    await fresh.stop();
  });

  it('--counter-file outside the data dir: a wiped data dir gives safe mode, not a first boot', async () => {
    const dir = join(root, 'counter-outside');
    const counterFile = join(root, 'counter-outside.counter');
    await stop(await boot(dir, ['--counter-file', counterFile]));
    assert.match(readFileSync(counterFile, 'ascii'), /^\d+\n$/);
    rmSync(dir, { recursive: true, force: true });
    const device = await startDevice(['--data-dir', dir, '--counter-file', counterFile]);
    try {
      assert.equal(device.ready.mode, 'safe', device.stderr());
      assert.doesNotMatch(device.stderr(), /first boot/);
    } finally {
      await device.stop();
    }
    const { status } = inspect(dir, ['--counter-file', counterFile]);
    assert.equal(status, 3);
    const reset = runCli(['factory-reset', '--data-dir', dir, '--counter-file', counterFile, '--yes']);
    assert.equal(reset.status, 0, reset.stderr);
    const fresh = await startDevice(['--data-dir', dir, '--counter-file', counterFile]);
    assert.equal(fresh.ready.mode, 'normal');
    await fresh.stop();
  });
});
