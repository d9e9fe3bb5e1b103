/**
 * The built-in `metergate` profile against the real thing: a metergate device process (simulated meter,
 * CT ratio 100) with Modbus TCP enabled is read through the profile's planned blocks with modbus-serial,
 * and the decoded values agree with what the same device says over REST. This is what one metergate
 * fronting another reads; the profile is primary because these values already carry the upstream's ratios.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ModbusSerial from 'modbus-serial';
import {
  decodeReadings,
  loadProfile,
  planReads,
  type Readings,
} from '../../../firmware/meter/meter-profile.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

const ModbusRTU = ModbusSerial.default;

interface Measurements {
  voltage: number[];
  current: number[];
  total: { activePower: number; reactivePower: number; apparentPower: number; powerFactor: number };
  frequency: number;
}
interface Meters {
  activeImportWh: number;
  activeExportWh: number;
  reactiveImportVarh: number;
  reactiveExportVarh: number;
}

describe('the metergate profile reads a metergate device', () => {
  let fx: RestFixture;
  let port: number;

  before(async () => {
    fx = await startRestFixture(['--modbus-port', '0']);
    const config = await fx.admin.request('PATCH', '/api/v1/config', {
      communication: { modbusTcp: true },
      measurement: { ctRatio: 100 },
    });
    assert.equal(config.status, 200, JSON.stringify(config.body));
    const info = await fx.admin.request<{ modbus: { tcpPort: number | null } }>('GET', '/api/v1/info');
    assert.ok(info.body.modbus.tcpPort, 'Modbus TCP did not open');
    port = info.body.modbus.tcpPort;
  });
  after(async () => {
    await fx?.close();
  });

  it('every planned block is served, and the values agree with REST', async () => {
    const profile = loadProfile('metergate');
    const blocks = planReads(profile);
    const client = new ModbusRTU();
    await client.connectTCP('127.0.0.1', { port });
    client.setID(1);
    client.setTimeout(5000);
    let readings: Readings;
    let rest: Measurements;
    let metersBefore: Meters;
    let metersAfter: Meters;
    try {
      metersBefore = (await fx.admin.request<Meters>('GET', '/api/v1/meters')).body;
      const words: Uint16Array[] = [];
      for (const block of blocks)
        words.push(Uint16Array.from((await client.readInputRegisters(block.address, block.count)).data));
      rest = (await fx.admin.request<Measurements>('GET', '/api/v1/measurements')).body;
      metersAfter = (await fx.admin.request<Meters>('GET', '/api/v1/meters')).body;
      const problems: string[] = [];
      readings = decodeReadings(profile, blocks, words, (p) => problems.push(p.message));
      assert.deepEqual(problems, []);
    } finally {
      client.close(() => {});
    }
    assert.deepEqual(Object.keys(readings).sort(), profile.points.map((p) => p.quantity).sort());

    // The simulated meter moves every 100 ms (ripple, a drifting load): REST was read a moment later,
    // so instantaneous values agree within a few per cent; a wrong register would be off by far more
    // (volts for amps, a CT ratio of 100, a swapped word).
    const close = (name: string, modbus: number | undefined, viaRest: number, tolerance = 0.05) =>
      assert.ok(
        modbus !== undefined && Math.abs(modbus - viaRest) <= Math.abs(viaRest) * tolerance,
        `${name}: Modbus ${modbus}, REST ${viaRest}`,
      );
    close('u1', readings.u1, rest.voltage[0] ?? Number.NaN);
    close('u2', readings.u2, rest.voltage[1] ?? Number.NaN);
    close('u3', readings.u3, rest.voltage[2] ?? Number.NaN);
    close('i1', readings.i1, rest.current[0] ?? Number.NaN, 0.2);
    close('i2', readings.i2, rest.current[1] ?? Number.NaN, 0.2);
    close('i3', readings.i3, rest.current[2] ?? Number.NaN, 0.2);
    close('pTotal', readings.pTotal, rest.total.activePower, 0.2);
    close('qTotal', readings.qTotal, rest.total.reactivePower, 0.3);
    close('sTotal', readings.sTotal, rest.total.apparentPower, 0.2);
    close('pfTotal', readings.pfTotal, rest.total.powerFactor, 0.1);
    close('f', readings.f, rest.frequency, 0.01);
    // Primary values: the upstream's CT ratio of 100 is in them (the simulator's secondary current is a few A).
    assert.ok((readings.i1 ?? 0) > 50, `i1 ${readings.i1} is not a primary current`);
    for (const key of [
      'activeImportWh',
      'activeExportWh',
      'reactiveImportVarh',
      'reactiveExportVarh',
    ] as const) {
      const value = readings[key] ?? Number.NaN;
      assert.ok(
        metersBefore[key] <= value && value <= metersAfter[key],
        `${key}: Modbus ${value} outside REST's ${metersBefore[key]}..${metersAfter[key]}`,
      );
    }
  });
});
