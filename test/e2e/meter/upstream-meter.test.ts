/**
 * The device in front of a real upstream meter: a pymodbus server (Debian's, not this project's code,
 * test/support/pymodbus-meter.py) laid out as each built-in profile's maker documents it, behind
 * `--meter modbus-tcp://…` and behind `--meter modbus-rtu:…` over a socat pty pair. Values written into the server appear scaled by VT/CT on REST, on the
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
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NO_METER_MESSAGE } from '../../../firmware/boot/device-options.ts';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { DEFAULT_COMM_EVENT_POLICY } from '../../../firmware/meter/comm-event-limiter.ts';
import { DEVICE_ENTRY, startDevice as startRestDevice } from '../../support/device-process.ts';
import { type DisplayTerminal, openTerminal } from '../../support/display-fixture.ts';
import { float32Of, readPdu, registersOf, uint64Of } from '../../support/modbus-fixture.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { MbapClient } from '../../support/modbus-tcp-client.ts';
import { type MeterLayout, type PymodbusMeter, startPymodbusMeter } from '../../support/pymodbus-meter.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';
import { startLine } from '../../support/serial-line.ts';

/** Values in base units (secondary side), representable in every maker's format. */
const U1 = 231.5;
const I1 = 5.25;
const P_TOTAL = 2400;
const IMPORT_WH = 12_500;
const VT = 2;
const CT = 40;
/** Fast polling, so a fault shows in well under a second: 100 ms, 200 ms timeout, stale after 2 misses. */
const POLL = 'interval=100ms&timeout=200ms&retries=0&stale-after=2';

/** Each built-in profile, the pymodbus layout of its maker, and what the layout holds. */
const PROFILES: readonly { profile: string; layout: MeterLayout; voltage: boolean; primary: boolean }[] = [
  { profile: 'eastron-sdm630', layout: 'sdm630', voltage: true, primary: false },
  // The SDM72D-M profile has no voltages or currents: they are not available, never 0.
  { profile: 'eastron-sdm72d-m', layout: 'sdm72d-m', voltage: false, primary: false },
  { profile: 'carlo-gavazzi-em24', layout: 'em24', voltage: true, primary: false },
  // Another metergate's map is on the primary side already: VT/CT are not applied again.
  { profile: 'metergate', layout: 'metergate', voltage: true, primary: true },
];

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

async function writeMeter(meter: PymodbusMeter, u1 = U1, voltage = true): Promise<void> {
  if (voltage) {
    await meter.set('u1', u1);
    await meter.set('u2', 229);
    await meter.set('u3', 230.25);
    await meter.set('i1', I1);
  }
  await meter.set('pTotal', P_TOTAL);
  await meter.set('activeImportWh', IMPORT_WH);
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

/** What the device shows for a secondary value: × VT (voltages), × CT (currents), × VT·CT (powers, energies). */
interface Scale {
  readonly vt: number;
  readonly ct: number;
}

/**
 * Every interface shows the upstream values scaled by `scale` (REST, the device's own Modbus map, the
 * display's voltage image); `voltage: false`: the profile has no voltages, shown as not available.
 */
async function assertShown(
  fx: RestFixture,
  modbus: MbapClient,
  display: DisplayTerminal,
  u1: number,
  { voltage = true, scale = { vt: VT, ct: CT } }: { voltage?: boolean; scale?: Scale } = {},
): Promise<void> {
  const rest = restView(fx);
  const power = P_TOTAL * scale.vt * scale.ct;
  const m = await until(
    `REST shows P = ${power} W${voltage ? ` and U1 = ${u1 * scale.vt} V` : ''}`,
    async () => {
      const body = await rest.measurements();
      const shown =
        close(body.total.activePower, power) && (!voltage || close(body.voltage[0], u1 * scale.vt));
      return body.state === 'fresh' && shown ? body : undefined;
    },
  );
  assert.equal(m.staleSince, null);
  assert.ok(m.time, 'fresh values carry the time they were read');
  assert.ok(close(m.total.activePower, power), `P ${m.total.activePower}`);
  if (voltage) {
    assert.ok(
      close(m.voltage[1], 229 * scale.vt) && close(m.voltage[2], 230.25 * scale.vt),
      JSON.stringify(m.voltage),
    );
    assert.ok(close(m.current[0], I1 * scale.ct), `I1 ${m.current[0]}`);
  } else {
    assert.deepEqual(m.voltage, [null, null, null], 'a quantity the profile lacks is null, not 0');
    assert.deepEqual(m.current, [null, null, null]);
  }
  const meters = await rest.meters();
  assert.equal(meters.state, 'fresh');
  assert.equal(meters.activeImportWh, IMPORT_WH * scale.vt * scale.ct);

  const u = float32Of(registersOf(await modbus.request(readPdu(0x03, 0, 2))));
  if (voltage) assert.ok(close(u, u1 * scale.vt), `Modbus U1 ${u}`);
  else assert.ok(Number.isNaN(u), `Modbus U1 of a profile without voltages reads NaN, got ${u}`);
  assert.ok(close(float32Of(registersOf(await modbus.request(readPdu(0x03, 12, 2)))), power), 'Modbus P');
  assert.equal(
    uint64Of(registersOf(await modbus.request(readPdu(0x03, 100, 4)))),
    BigInt(IMPORT_WH * scale.vt * scale.ct),
  );

  await display.repaint();
  const shown = voltage ? `${(u1 * scale.vt).toFixed(2)} V` : '--- V';
  await display.waitFor(new RegExp(`^U1 +${shown.replace('.', '\\.')}$`, 'm'));
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

/** A device reading `meter` over `source`, with VT/CT set, Modbus TCP on and the display on a pty. */
async function startDevice(t: TestContext, source: string) {
  const pty = await startPtyPair(t);
  const fx = await startRestFixture(['--meter', source, '--modbus-port', '0', '--display', pty.device]);
  t.after(() => fx.close());
  const display = await openTerminal(t, pty.client);
  const modbus = await setUp(t, fx);
  return { fx, display, modbus };
}

describe("each built-in profile against its maker's register layout (pymodbus)", () => {
  for (const { profile, layout, voltage, primary } of PROFILES) {
    for (const transport of ['tcp', 'rtu'] as const) {
      it(`${profile} over modbus-${transport}: values appear ${primary ? 'as primary values' : 'scaled by VT/CT'} on REST, Modbus and the display`, async (t) => {
        let source: string;
        let meter: PymodbusMeter;
        if (transport === 'tcp') {
          meter = await startPymodbusMeter(t, { layout });
          source = `modbus-tcp://127.0.0.1:${meter.port}?unit=1&profile=${profile}&${POLL}`;
        } else {
          const line = await startLine(t);
          meter = await startPymodbusMeter(t, { layout, serial: line.meter });
          source = `modbus-rtu:${line.device}?baud=9600&parity=even&unit=1&profile=${profile}&interval=100ms&timeout=300ms&retries=1&stale-after=2`;
        }
        await writeMeter(meter, U1, voltage);
        const { fx, display, modbus } = await startDevice(t, source);
        const scale = primary ? { vt: 1, ct: 1 } : { vt: VT, ct: CT };
        await assertShown(fx, modbus, display, U1, { voltage, scale });
        if (voltage) {
          await meter.set('u1', 240.5);
          await assertShown(fx, modbus, display, 240.5, { voltage, scale });
        }
      });
    }
  }
});

describe('--meter modbus-tcp: faults of an SDM630 on the network', () => {
  it('each fault → no data on every interface and comm-lost; recovery when it answers; flapping stays bounded in the log', async (t) => {
    let meter = await startPymodbusMeter(t, { layout: 'sdm630' });
    const port = meter.port as number;
    await writeMeter(meter);
    const { fx, display, modbus } = await startDevice(
      t,
      `modbus-tcp://127.0.0.1:${port}?unit=1&profile=eastron-sdm630&${POLL}`,
    );
    const mode = async (m: string) => assert.equal(await meter.command(`mode ${m}`), 'ok', m);

    await t.test(
      'GET /api/v1/info names the source kind, the profile and the state, not the address',
      async () => {
        const info = await until('info fresh', async () => {
          const body = await restView(fx).info();
          return body.meter.state === 'fresh' ? body : undefined;
        });
        assert.deepEqual(
          { source: info.meter.source, profile: info.meter.profile },
          { source: 'modbus-tcp', profile: 'eastron-sdm630' },
        );
        assert.ok(!JSON.stringify(info).includes(`:${port}`), 'the upstream address is not shown');
        await assertShown(fx, modbus, display, U1);
      },
    );

    await t.test('min/max are tracked by metergate from the polled values, and reset by it', async () => {
      interface MinMaxBody {
        activePowerMax: number | null;
        activePowerMin: number | null;
        currentMax: number | null;
        since: string;
      }
      const minmax = async () => (await fx.http().request<MinMaxBody>('GET', '/api/v1/minmax')).body;
      const k = VT * CT;
      await meter.set('pTotal', 3000);
      await until('max follows a higher power', async () => {
        const m = await minmax();
        return m.activePowerMax === 3000 * k ? m : undefined;
      });
      await meter.set('pTotal', 1000);
      const seen = await until('min follows a lower power', async () => {
        const m = await minmax();
        return m.activePowerMin === 1000 * k ? m : undefined;
      });
      assert.equal(seen.activePowerMax, 3000 * k);
      assert.equal(seen.currentMax, I1 * CT);
      assert.equal((await fx.admin.request('POST', '/api/v1/minmax/reset')).status, 200);
      const reset = await minmax();
      assert.deepEqual(
        [reset.activePowerMax, reset.activePowerMin],
        [1000 * k, 1000 * k],
        'from the current value',
      );
      assert.ok(reset.since > seen.since);
      await meter.set('pTotal', P_TOTAL);
      await assertShown(fx, modbus, display, U1);
    });

    for (const [fault, command] of [
      ['unplugged (never answers)', 'silent'],
      ['slow (answers after the timeout)', 'delay 500'],
      ['exception answers (0x04)', 'exception 4'],
      ['exception answers (0x0B from a gateway)', 'exception 11'],
      ['answers for another unit id', 'wrong-unit'],
    ] as const) {
      await t.test(`${fault} → stale everywhere, comm-lost logged; recovery`, async () => {
        await mode(command);
        await assertNoData(fx, modbus, display, 'stale');
        await mode('normal');
        await assertShown(fx, modbus, display, U1);
      });
    }

    await t.test(
      'the server stopped (process killed) → stale; started again on the same port → values',
      async () => {
        process.kill(meter.pid, 'SIGKILL');
        await assertNoData(fx, modbus, display, 'stale');
        meter = await startPymodbusMeter(t, { layout: 'sdm630', tcpPort: port });
        await writeMeter(meter, 233.25);
        await assertShown(fx, modbus, display, 233.25);
      },
    );

    await t.test('comm-lost and comm-restored are in the security log', async () => {
      const types = await auditTypes(fx);
      assert.ok(types.includes('meter.comm-lost'), types.join(' '));
      assert.ok(types.includes('meter.comm-restored'), types.join(' '));
    });

    await t.test(
      'the energy reset is an offset kept by metergate; refused while the meter does not answer',
      async () => {
        const reset = await fx.admin.request('POST', '/api/v1/meters/reset');
        assert.equal(reset.status, 200, JSON.stringify(reset.body));
        const rest = restView(fx);
        const zero = await rest.meters();
        assert.equal(zero.activeImportWh, 0);
        assert.ok(zero.resetAt);
        await meter.set('activeImportWh', IMPORT_WH + 1250);
        await until('energy counts on from the offset', async () => {
          const m = await rest.meters();
          return m.activeImportWh === 1250 * VT * CT ? m : undefined;
        });
        await mode('silent');
        await assertNoData(fx, modbus, display, 'stale');
        const refused = await fx.admin.request<{ error: { code: string } }>('POST', '/api/v1/meters/reset');
        assert.equal(refused.status, 503);
        assert.equal(refused.body.error.code, 'meter-unavailable');
        await mode('normal');
        await until('the offset still applies', async () => {
          const m = await rest.meters();
          return m.state === 'fresh' && m.activeImportWh === 1250 * VT * CT ? m : undefined;
        });
      },
    );

    await t.test(
      'a flapping line writes a bounded number of comm events, however often it flaps',
      async () => {
        const before = (await auditTypes(fx)).filter((type) => type.startsWith('meter.comm-')).length;
        for (let flap = 0; flap < 8; flap++) {
          await mode('exception 4');
          await until('stale', async () =>
            (await restView(fx).measurements()).state === 'stale' ? true : undefined,
          );
          await mode('normal');
          await until('fresh', async () =>
            (await restView(fx).measurements()).state === 'fresh' ? true : undefined,
          );
        }
        const events = (await auditTypes(fx)).filter((type) => type.startsWith('meter.comm-')).length;
        // 16 transitions more; the limiter logs a burst of 6, then one per 10 minutes.
        assert.ok(
          events <= DEFAULT_COMM_EVENT_POLICY.burst + 1,
          `${events} comm events (${before} before the flapping)`,
        );
        assert.equal(fx.device.process.exitCode, null, 'the device is still running');
        assert.doesNotMatch(fx.device.stderr(), /fatal/);
      },
    );
  });
});

describe('--meter modbus-tcp: the energy offset is stored', () => {
  it('survives a restart of the device (the sealed configuration record), with its reset time', async (t) => {
    const meter = await startPymodbusMeter(t, { layout: 'sdm630' });
    await writeMeter(meter);
    const source = `modbus-tcp://127.0.0.1:${meter.port}?unit=1&profile=eastron-sdm630&${POLL}`;
    const { fx } = await startDevice(t, source);
    const rest = restView(fx);
    await until('fresh', async () => ((await rest.meters()).state === 'fresh' ? true : undefined));
    assert.equal((await fx.admin.request('POST', '/api/v1/meters/reset')).status, 200);
    await meter.set('activeImportWh', IMPORT_WH + 1250);
    const before = await until('counting on from the offset', async () => {
      const m = await rest.meters();
      return m.activeImportWh === 1250 * VT * CT ? m : undefined;
    });
    await fx.device.stop();

    const again = await startRestDevice(['--data-dir', fx.dataDir, '--meter', source]);
    t.after(() => again.stop());
    const anonymous = new DeviceClient(`http://127.0.0.1:${again.ready.http}`);
    const after = await until('the same energy after the restart', async () => {
      const m = (await anonymous.request<MetersBody>('GET', '/api/v1/meters')).body;
      return m.state === 'fresh' ? m : undefined;
    });
    assert.equal(after.activeImportWh, 1250 * VT * CT, 'offset (and VT/CT) kept');
    assert.equal(after.resetAt, before.resetAt);
  });
});

describe('--meter modbus-tcp: the wrong unit id', () => {
  it('a meter that never answers (another unit id) → never read on every interface, no crash', async (t) => {
    const meter = await startPymodbusMeter(t, { layout: 'sdm630', unit: 7 });
    await writeMeter(meter);
    const { fx, display, modbus } = await startDevice(
      t,
      `modbus-tcp://127.0.0.1:${meter.port}?unit=1&profile=eastron-sdm630&${POLL}`,
    );
    await assertNoData(fx, modbus, display, 'never-read');
    await until('comm-lost logged', async () =>
      (await auditTypes(fx)).includes('meter.comm-lost') ? true : undefined,
    );
    assert.equal(fx.device.process.exitCode, null);
  });
});

describe('--meter modbus-rtu: faults of an SDM630 on RS-485 (a socat pty pair)', () => {
  it('bad CRC → stale; the line closed → stale; plugged in again → values', async (t) => {
    const line = await startLine(t);
    let meter = await startPymodbusMeter(t, { layout: 'sdm630', serial: line.meter });
    await writeMeter(meter);
    const { fx, display, modbus } = await startDevice(
      t,
      `modbus-rtu:${line.device}?baud=9600&parity=even&unit=1&profile=eastron-sdm630&interval=100ms&timeout=300ms&retries=1&stale-after=2`,
    );
    await assertShown(fx, modbus, display, U1);

    assert.equal(await meter.command('mode bad-crc'), 'ok');
    await assertNoData(fx, modbus, display, 'stale');
    assert.equal(await meter.command('mode normal'), 'ok');
    await assertShown(fx, modbus, display, U1);

    process.kill(meter.pid, 'SIGKILL');
    await line.unplug();
    await assertNoData(fx, modbus, display, 'stale');

    await line.plug();
    meter = await startPymodbusMeter(t, { layout: 'sdm630', serial: line.meter });
    await writeMeter(meter, 232.75);
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
