/**
 * The device in front of a real upstream meter: a pymodbus server (Debian's, not this project's code)
 * laid out as an Eastron SDM630, behind `--meter modbus-tcp://…` and behind `--meter modbus-rtu:…`
 * over a socat pty pair. Values written into the server appear scaled by VT/CT on REST, on the
 * device's own Modbus map (a real Modbus TCP client) and on the display (a pty). When the upstream
 * meter is unplugged, slow or answers garbage, every interface says there is no current data (REST
 * `state` and nulls, Modbus exception 0x0B, the display's NO DATA), comm-lost/comm-restored are
 * logged, nothing crashes, and the values come back when the meter does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NO_METER_MESSAGE } from '../../../firmware/boot/device-options.ts';
import { DEVICE_ENTRY } from '../../support/device-process.ts';
import { type DisplayTerminal, openTerminal } from '../../support/display-fixture.ts';
import { float32Of, readPdu, registersOf, suiteScope, uint64Of } from '../../support/modbus-fixture.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { MbapClient } from '../../support/modbus-tcp-client.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';
import { startLine, startUpstream, type UpstreamServer } from '../../support/upstream-server.ts';

/** SDM630 input registers (0-based), float32 high word first (firmware/meter/profiles/eastron-sdm630.ts). */
const SDM630 = {
  u1: 0x00,
  u2: 0x02,
  u3: 0x04,
  i1: 0x06,
  i2: 0x08,
  i3: 0x0a,
  pTotal: 0x34,
  f: 0x46,
  importKwh: 0x48,
};
const VT = 2;
const CT = 40;
/** Fast polling, so a fault shows in well under a second: 100 ms, 200 ms timeout, stale after 2 misses. */
const POLL = 'interval=100ms&timeout=200ms&retries=0&stale-after=2';

interface MeterState {
  state: 'fresh' | 'stale' | 'never-read';
  staleSince: string | null;
  time: string | null;
}
interface MeasurementsBody extends MeterState {
  voltage: (number | null)[];
  current: (number | null)[];
  total: { activePower: number | null };
  frequency: number | null;
}
interface MetersBody extends MeterState {
  activeImportWh: number | null;
  resetAt: string | null;
}
interface InfoBody {
  meter: { source: string; profile: string | null; state: string; staleSince: string | null };
}

/** Polls `probe` until it returns a value (not undefined), bounded; fails naming what was awaited. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      assert.fail(`${what}: not within ${timeoutMs} ms${last ? ` (${String(last)})` : ''}`);
    await sleep(50);
  }
}

const close = (a: number | null | undefined, b: number, tolerance = 1e-3) =>
  typeof a === 'number' && Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));

async function writeMeter(upstream: UpstreamServer, u1: number): Promise<void> {
  await upstream.setFloat(SDM630.u1, u1);
  await upstream.setFloat(SDM630.u2, 229);
  await upstream.setFloat(SDM630.u3, 230.25);
  await upstream.setFloat(SDM630.i1, 5);
  await upstream.setFloat(SDM630.i2, 4);
  await upstream.setFloat(SDM630.i3, 3);
  await upstream.setFloat(SDM630.pTotal, 2400);
  await upstream.setFloat(SDM630.f, 50.02);
  await upstream.setFloat(SDM630.importKwh, 12.5);
}

/** The device's REST view of the meter, as anonymous (measurements.read, meters.read by default). */
function restView(fx: RestFixture) {
  const anonymous = fx.http();
  return {
    measurements: async () => (await anonymous.request<MeasurementsBody>('GET', '/api/v1/measurements')).body,
    meters: async () => (await anonymous.request<MetersBody>('GET', '/api/v1/meters')).body,
    info: async () => (await anonymous.request<InfoBody>('GET', '/api/v1/info')).body,
  };
}

/** Every interface shows the upstream value `u1` (secondary) as VT × u1, and 12.5 kWh as 12 500 Wh × VT·CT. */
async function assertShown(
  fx: RestFixture,
  modbus: MbapClient,
  display: DisplayTerminal,
  u1: number,
): Promise<void> {
  const rest = restView(fx);
  const m = await until(`REST shows U1 = ${u1 * VT} V`, async () => {
    const body = await rest.measurements();
    return body.state === 'fresh' && close(body.voltage[0], u1 * VT) ? body : undefined;
  });
  assert.equal(m.staleSince, null);
  assert.ok(m.time, 'fresh values carry the time they were read');
  assert.ok(close(m.voltage[1], 229 * VT) && close(m.voltage[2], 230.25 * VT), JSON.stringify(m.voltage));
  assert.ok(close(m.current[0], 5 * CT), `I1 ${m.current[0]}`);
  assert.ok(close(m.total.activePower, 2400 * VT * CT), `P ${m.total.activePower}`);
  assert.ok(close(m.frequency, 50.02), `f ${m.frequency}`);
  const meters = await rest.meters();
  assert.equal(meters.state, 'fresh');
  assert.equal(meters.activeImportWh, 12_500 * VT * CT);

  const u = await until('Modbus shows U1', async () => {
    const value = float32Of(registersOf(await modbus.request(readPdu(0x03, 0, 2))));
    return close(value, u1 * VT) ? value : undefined;
  });
  assert.ok(close(u, u1 * VT));
  assert.equal(uint64Of(registersOf(await modbus.request(readPdu(0x03, 100, 4)))), BigInt(12_500 * VT * CT));

  await display.repaint();
  await display.waitFor(
    `U1${' '.repeat(20 - 2 - `${(u1 * VT).toFixed(2)} V`.length)}${(u1 * VT).toFixed(2)} V`,
  );
}

/** No interface shows a value: REST state and nulls, Modbus 0x0B, the display NO DATA. */
async function assertNoData(
  fx: RestFixture,
  modbus: MbapClient,
  display: DisplayTerminal,
  state: 'stale' | 'never-read',
): Promise<void> {
  const rest = restView(fx);
  const m = await until(`REST says ${state}`, async () => {
    const body = await rest.measurements();
    return body.state === state ? body : undefined;
  });
  assert.deepEqual(m.voltage, [null, null, null], 'no stale value is shown as a value');
  assert.equal(m.total.activePower, null);
  assert.equal(m.frequency, null);
  if (state === 'stale') {
    assert.ok(m.staleSince && m.time && m.staleSince >= m.time, `since ${m.staleSince}, read ${m.time}`);
  }
  const meters = await rest.meters();
  assert.equal(meters.state, state);
  assert.equal(meters.activeImportWh, null);
  assert.equal((await rest.info()).meter.state, state);

  const measurement = await modbus.request(readPdu(0x03, 0, 2));
  assert.deepEqual([...measurement], [0x83, 0x0b], 'measurement registers: exception 0x0B');
  assert.deepEqual([...(await modbus.request(readPdu(0x04, 100, 4)))], [0x84, 0x0b], 'energy: 0x0B');
  assert.equal(
    (await modbus.request(readPdu(0x03, 200, 2)))[0],
    0x03,
    'min/max (kept by metergate) still read',
  );

  await display.repaint();
  await display.waitFor('NO DATA');
}

async function auditTypes(fx: RestFixture): Promise<string[]> {
  const page = await fx.admin.request<{ events: { type: string }[] }>('GET', '/api/v1/audit?limit=200');
  assert.equal(page.status, 200);
  return page.body.events.map((e) => e.type);
}

async function setUp(
  t: { after(fn: () => void | Promise<void>): void },
  fx: RestFixture,
): Promise<MbapClient> {
  const config = await fx.admin.request('PATCH', '/api/v1/config', {
    measurement: { vtRatio: VT, ctRatio: CT },
    communication: { modbusTcp: true },
  });
  assert.equal(config.status, 200, JSON.stringify(config.body));
  const info = await fx.admin.request<{ modbus: { tcpPort: number } }>('GET', '/api/v1/info');
  return MbapClient.connect(t, info.body.modbus.tcpPort);
}

describe('--meter modbus-tcp: an SDM630 on the network', () => {
  const t = suiteScope();
  let upstream: UpstreamServer;
  let fx: RestFixture;
  let modbus: MbapClient;
  let display: DisplayTerminal;

  before(async () => {
    upstream = await startUpstream(t, { kind: 'tcp' });
    await writeMeter(upstream, 231.5);
    const pty = await startPtyPair(t);
    fx = await startRestFixture([
      '--meter',
      `modbus-tcp://127.0.0.1:${upstream.port}?unit=1&profile=eastron-sdm630&${POLL}`,
      '--modbus-port',
      '0',
      '--display',
      pty.device,
    ]);
    t.after(() => fx.close());
    display = await openTerminal(t, pty.client);
    modbus = await setUp(t, fx);
  });

  it('GET /api/v1/info names the source kind, the profile and the state, not the address', async () => {
    const info = await until('info fresh', async () => {
      const body = await restView(fx).info();
      return body.meter.state === 'fresh' ? body : undefined;
    });
    assert.deepEqual(
      { source: info.meter.source, profile: info.meter.profile },
      { source: 'modbus-tcp', profile: 'eastron-sdm630' },
    );
    assert.ok(!JSON.stringify(info).includes(`:${upstream.port}`), 'the upstream address is not shown');
  });

  it('values written upstream appear scaled by VT/CT on REST, Modbus and the display; a change follows', async () => {
    await assertShown(fx, modbus, display, 231.5);
    await upstream.setFloat(SDM630.u1, 240.25);
    await assertShown(fx, modbus, display, 240.25);
  });

  it('exception answers → stale on every interface, comm-lost logged; recovery when it answers again', async () => {
    await upstream.send('mode exception');
    await assertNoData(fx, modbus, display, 'stale');
    await upstream.send('mode ok');
    await assertShown(fx, modbus, display, 240.25);
    const types = await auditTypes(fx);
    assert.ok(types.includes('meter.comm-lost'), types.join(' '));
    assert.ok(types.includes('meter.comm-restored'), types.join(' '));
  });

  it('answers after the timeout → stale; recovery', async () => {
    await upstream.send('mode slow 0.5');
    await assertNoData(fx, modbus, display, 'stale');
    await upstream.send('mode ok');
    await assertShown(fx, modbus, display, 240.25);
  });

  it('unplugged (the server stops listening, connections dropped) → stale; plugged in again → values', async () => {
    await upstream.send('close');
    await assertNoData(fx, modbus, display, 'stale');
    await upstream.send('open');
    await assertShown(fx, modbus, display, 240.25);
    assert.equal(fx.device.process.exitCode, null, 'the device is still running');
  });

  it('the energy reset is an offset kept by metergate; refused while the meter does not answer', async () => {
    const reset = await fx.admin.request('POST', '/api/v1/meters/reset');
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    const rest = restView(fx);
    const zero = await rest.meters();
    assert.equal(zero.activeImportWh, 0);
    assert.ok(zero.resetAt);
    await upstream.setFloat(SDM630.importKwh, 13.75);
    await until('energy counts on from the offset', async () => {
      const m = await rest.meters();
      return m.activeImportWh === 1250 * VT * CT ? m : undefined;
    });
    await upstream.send('mode exception');
    await assertNoData(fx, modbus, display, 'stale');
    const refused = await fx.admin.request<{ error: { code: string } }>('POST', '/api/v1/meters/reset');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'meter-unavailable');
    await upstream.send('mode ok');
    await until('the offset still applies', async () => {
      const m = await rest.meters();
      return m.state === 'fresh' && m.activeImportWh === 1250 * VT * CT ? m : undefined;
    });
  });
});

describe('--meter modbus-tcp: the wrong unit id', () => {
  it('a meter that never answers (another unit id) → never read on every interface, no crash', async (t) => {
    const upstream = await startUpstream(t, { kind: 'tcp' }, 7);
    await writeMeter(upstream, 231.5);
    const pty = await startPtyPair(t);
    const fx = await startRestFixture([
      '--meter',
      `modbus-tcp://127.0.0.1:${upstream.port}?unit=1&profile=eastron-sdm630&${POLL}`,
      '--modbus-port',
      '0',
      '--display',
      pty.device,
    ]);
    t.after(() => fx.close());
    const display = await openTerminal(t, pty.client);
    const modbus = await setUp(t, fx);
    await assertNoData(fx, modbus, display, 'never-read');
    await until('comm-lost logged', async () =>
      (await auditTypes(fx)).includes('meter.comm-lost') ? true : undefined,
    );
    assert.equal(fx.device.process.exitCode, null);
  });
});

describe('--meter modbus-rtu: an SDM630 on RS-485 (a socat pty pair)', () => {
  it('values appear on every interface; the line closed → stale; plugged in again → values', async (t) => {
    const line = await startLine(t);
    let upstream = await startUpstream(t, { kind: 'rtu', path: line.meter });
    await writeMeter(upstream, 231.5);
    const pty = await startPtyPair(t);
    const fx = await startRestFixture([
      '--meter',
      `modbus-rtu:${line.device}?baud=9600&parity=even&unit=1&profile=eastron-sdm630&interval=100ms&timeout=300ms&retries=1&stale-after=2`,
      '--modbus-port',
      '0',
      '--display',
      pty.device,
    ]);
    t.after(() => fx.close());
    const display = await openTerminal(t, pty.client);
    const modbus = await setUp(t, fx);
    await assertShown(fx, modbus, display, 231.5);

    await upstream.kill();
    await line.unplug();
    await assertNoData(fx, modbus, display, 'stale');

    await line.plug();
    upstream = await startUpstream(t, { kind: 'rtu', path: line.meter });
    await writeMeter(upstream, 232.75);
    await assertShown(fx, modbus, display, 232.75);
    const types = await auditTypes(fx);
    assert.ok(types.includes('meter.comm-lost') && types.includes('meter.comm-restored'), types.join(' '));
    assert.equal(fx.device.process.exitCode, null, 'the device is still running');
  });
});

describe('a device started without --meter and without --sim', () => {
  it('refuses to start with the documented message, before touching flash', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'metergate-nometer-'));
    try {
      const run = spawnSync(
        process.execPath,
        [
          DEVICE_ENTRY,
          '--data-dir',
          dataDir,
          '--host',
          '127.0.0.1',
          '--http-port',
          '0',
          '--https-port',
          '0',
          '--display',
          'none',
        ],
        { encoding: 'utf8', timeout: 15_000 },
      );
      assert.equal(run.status, 2, run.stderr);
      assert.ok(run.stderr.includes(NO_METER_MESSAGE), run.stderr);
      assert.equal(run.stdout, '', 'no ready line');
      assert.deepEqual(
        readdirSync(dataDir),
        [],
        'nothing was written to the data dir (no flash image, no key)',
      );
      assert.equal(existsSync(join(dataDir, 'flash.img')), false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
