/**
 * Each built-in profile against an upstream meter that lays out that maker's registers as the maker's
 * document does, written in Python with Debian's pymodbus independently of the profiles
 * (test/support/pymodbus-meter.py). The reads planned from the profile are made with modbus-serial's
 * client over Modbus TCP and over RTU on a socat pty pair; decodeReadings must give back exactly the
 * values set in the server. A wrong address, encoding, word order, weight or unit in a profile fails here.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import ModbusSerial from 'modbus-serial';
import {
  decodeReadings,
  loadProfile,
  type MeterProfile,
  planReads,
  type Quantity,
  type ReadBlock,
} from '../../../firmware/meter/meter-profile.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { type MeterLayout, type PymodbusMeter, startPymodbusMeter } from '../../support/pymodbus-meter.ts';

// modbus-serial is CommonJS: its typings' default export is the module's `default` property.
const ModbusRTU = ModbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

/** Distinct values in base units, each representable in every maker's format (tenths, thousandths, 0.1 kWh). */
const VALUES: Readonly<Record<Quantity, number>> = {
  u1: 230.1,
  u2: 231.2,
  u3: 229.8,
  i1: 5.125,
  i2: 4.25,
  i3: 6.375,
  p1: 1150.5,
  p2: -980.2,
  p3: 1460.7,
  s1: 1180.3,
  s2: 990.4,
  s3: 1500.6,
  q1: 120.1,
  q2: -130.2,
  q3: 140.3,
  pf1: 0.975,
  pf2: -0.99,
  pf3: 0.973,
  pTotal: 1631,
  sTotal: 3671.3,
  qTotal: 130.2,
  pfTotal: 0.444,
  f: 49.9,
  activeImportWh: 1234500,
  activeExportWh: 45600,
  reactiveImportVarh: 78900,
  reactiveExportVarh: 12300,
};

const PROFILES: readonly [string, MeterLayout][] = [
  ['eastron-sdm630', 'sdm630'],
  ['eastron-sdm72d-m', 'sdm72d-m'],
  ['carlo-gavazzi-em24', 'em24'],
  ['metergate', 'metergate'],
];

/** Reads every planned block with modbus-serial; the words in planReads order. */
async function readBlocks(client: ModbusClient, blocks: readonly ReadBlock[]): Promise<Uint16Array[]> {
  const words: Uint16Array[] = [];
  for (const block of blocks) {
    const result =
      block.functionCode === 4
        ? await client.readInputRegisters(block.address, block.count)
        : await client.readHoldingRegisters(block.address, block.count);
    words.push(Uint16Array.from(result.data));
  }
  return words;
}

/** Sets every quantity the profile maps, reads through the profile, compares. */
async function roundTrip(profile: MeterProfile, meter: PymodbusMeter, client: ModbusClient): Promise<void> {
  for (const point of profile.points) await meter.set(point.quantity, VALUES[point.quantity]);
  const blocks = planReads(profile);
  const problems: string[] = [];
  const readings = decodeReadings(profile, blocks, await readBlocks(client, blocks), (p) =>
    problems.push(p.message),
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(Object.keys(readings).sort(), profile.points.map((p) => p.quantity).sort());
  for (const point of profile.points) {
    const expected = VALUES[point.quantity];
    const actual = readings[point.quantity];
    assert.ok(actual !== undefined);
    // float32 registers keep about 7 significant digits; integer formats are exact.
    const tolerance = point.encoding === 'float32' ? Math.abs(expected) * 1e-6 : 1e-9;
    assert.ok(
      Math.abs(actual - expected) <= tolerance,
      `${profile.name}: ${point.quantity} read ${actual}, the server holds ${expected}`,
    );
  }
}

async function tcpClient(t: TestContext, port: number): Promise<ModbusClient> {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(5000);
  // close() does not call back on every transport; the socket is gone either way.
  t.after(() => client.close(() => {}));
  return client;
}

async function rtuClient(t: TestContext, path: string): Promise<ModbusClient> {
  const client = new ModbusRTU();
  await client.connectRTUBuffered(path, { baudRate: 9600, parity: 'none' });
  client.setID(1);
  client.setTimeout(5000);
  // close() does not call back on every transport; the socket is gone either way.
  t.after(() => client.close(() => {}));
  return client;
}

describe('built-in profiles read from independent pymodbus meters', () => {
  for (const [name, layout] of PROFILES) {
    it(`${name} over Modbus TCP`, async (t) => {
      const meter = await startPymodbusMeter(t, { layout });
      assert.ok(meter.port !== null);
      await roundTrip(loadProfile(name), meter, await tcpClient(t, meter.port));
    });

    it(`${name} over Modbus RTU on a pty pair`, async (t) => {
      const pty = await startPtyPair(t);
      const meter = await startPymodbusMeter(t, { layout, serial: pty.device });
      await roundTrip(loadProfile(name), meter, await rtuClient(t, pty.client));
    });
  }

  it('a NaN in a float register is left out and reported, the other values stay', async (t) => {
    const meter = await startPymodbusMeter(t, { layout: 'sdm630' });
    assert.ok(meter.port !== null);
    const profile = loadProfile('eastron-sdm630');
    for (const point of profile.points) await meter.set(point.quantity, VALUES[point.quantity]);
    assert.equal(await meter.command('set u2 nan'), 'ok');
    const blocks = planReads(profile);
    const problems: string[] = [];
    const readings = decodeReadings(
      profile,
      blocks,
      await readBlocks(await tcpClient(t, meter.port), blocks),
      (p) => problems.push(p.message),
    );
    assert.equal(readings.u2, undefined);
    assert.ok(readings.u1 !== undefined && Math.abs(readings.u1 - 230.1) < 1e-3);
    assert.deepEqual(problems, ['u2 (float32 at 2, function code 4) holds NaN']);
  });

  it('a profile with a wrong word order is caught: the EM24 read as high word first gives other values', async (t) => {
    const meter = await startPymodbusMeter(t, { layout: 'em24' });
    assert.ok(meter.port !== null);
    const right = loadProfile('carlo-gavazzi-em24');
    const wrong: MeterProfile = {
      ...right,
      points: right.points.map((p) => ({ ...p, wordOrder: 'msw-first' as const })),
    };
    for (const point of right.points) await meter.set(point.quantity, VALUES[point.quantity]);
    const blocks = planReads(wrong);
    const readings = decodeReadings(wrong, blocks, await readBlocks(await tcpClient(t, meter.port), blocks));
    assert.notEqual(readings.u1, VALUES.u1);
    assert.notEqual(readings.activeImportWh, VALUES.activeImportWh);
  });
});

/** The error a read fails with, or null when it succeeds. */
async function readError(
  client: ModbusClient,
): Promise<(Error & { modbusCode?: number; errno?: string }) | null> {
  try {
    await client.readInputRegisters(0, 2);
    return null;
  } catch (error) {
    return error as Error & { modbusCode?: number };
  }
}

describe('the pymodbus meter misbehaves on demand (for the poller tests)', () => {
  for (const transport of ['tcp', 'rtu'] as const) {
    it(`over ${transport}: late answers, exception answers, silence, wrong unit id${transport === 'rtu' ? ', bad CRC' : ''}, then normal again`, async (t) => {
      let meter: PymodbusMeter;
      let client: ModbusClient;
      if (transport === 'tcp') {
        meter = await startPymodbusMeter(t, { layout: 'sdm630' });
        assert.ok(meter.port !== null);
        client = await tcpClient(t, meter.port);
      } else {
        const pty = await startPtyPair(t);
        meter = await startPymodbusMeter(t, { layout: 'sdm630', serial: pty.device });
        client = await rtuClient(t, pty.client);
      }
      await meter.set('u1', 230);
      assert.equal(await readError(client), null);

      assert.equal(await meter.command('mode delay 200'), 'ok');
      assert.equal(await readError(client), null, 'a late answer within the timeout is still an answer');

      assert.equal(await meter.command('mode exception 4'), 'ok');
      assert.equal((await readError(client))?.modbusCode, 4);

      // Silence: the client gives up after its own timeout (what it waits is not what is tested).
      client.setTimeout(300);
      assert.equal(await meter.command('mode silent'), 'ok');
      const before = await meter.command('requests');
      assert.match((await readError(client))?.message ?? '', /Timed out/i);
      assert.notEqual(await meter.command('requests'), before, 'the request reached the meter');

      assert.equal(await meter.command('mode wrong-unit'), 'ok');
      assert.ok(await readError(client), 'an answer from another unit id was accepted');

      if (transport === 'rtu') {
        assert.equal(await meter.command('mode bad-crc'), 'ok');
        assert.match((await readError(client))?.message ?? '', /CRC/i);
      } else {
        assert.match(await meter.command('mode bad-crc'), /^error bad-crc needs the serial line/);
      }

      assert.equal(await meter.command('mode normal'), 'ok');
      client.setTimeout(5000);
      const result = await client.readInputRegisters(0, 2);
      assert.deepEqual(result.data, [0x4366, 0x0000]);
    });
  }
});
