/**
 * The measurement history never invents a value: in front of an upstream meter (a pymodbus SDM630
 * over Modbus TCP) that stops answering for a few seconds, `GET /api/v1/measurements/history` has the
 * meter's value for the seconds it answered and a gap (null, an empty CSV field) for the seconds it
 * was stale: neither the last value held nor anything between.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { waitUntil } from '../../support/browser.ts';
import { startDevice } from '../../support/device-process.ts';
import { startPymodbusMeter } from '../../support/pymodbus-meter.ts';

interface Point {
  time: string;
  voltage: (number | null)[];
  totalActivePower: number | null;
}

describe('measurement history in front of an upstream meter', () => {
  it('records a gap while the meter is stale and the meter’s values around it', async (t) => {
    const meter = await startPymodbusMeter(t, { layout: 'sdm630' });
    await meter.set('u1', 231.5);
    const dataDir = mkdtempSync(join(tmpdir(), 'metergate-history-gaps-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const device = await startDevice([
      '--data-dir',
      dataDir,
      '--meter',
      `modbus-tcp://127.0.0.1:${meter.port}?unit=1&profile=eastron-sdm630&interval=100ms&timeout=200ms&retries=0&stale-after=2`,
    ]);
    t.after(() => device.stop());
    // anonymous holds measurements.read by default
    const client = new DeviceClient(`http://127.0.0.1:${device.ready.http}`);
    const history = async () => {
      const answer = await client.request<{ points: Point[] }>(
        'GET',
        '/api/v1/measurements/history?resolution=1s',
      );
      assert.equal(answer.status, 200);
      return answer.body.points;
    };
    const measured = (points: Point[]) => points.filter((p) => p.voltage[0] !== null).length;

    assert.ok(await waitUntil(async () => measured(await history()) >= 2, 15_000), 'values before');
    assert.equal(await meter.command('mode silent'), 'ok');
    const stale = await waitUntil(async () => {
      const info = await client.request<{ meter: { state: string } }>('GET', '/api/v1/info');
      return info.body.meter.state === 'stale';
    });
    assert.ok(stale, 'the meter went stale');
    await sleep(3000);
    assert.equal(await meter.command('mode normal'), 'ok');
    const before = (await history()).length;
    assert.ok(
      await waitUntil(async () => {
        const points = await history();
        return points.length >= before + 2 && points.slice(-2).every((p) => p.voltage[0] !== null);
      }, 15_000),
      'values again',
    );

    const points = await history();
    const gap = points.filter((p) => p.voltage[0] === null);
    assert.ok(gap.length >= 2, `seconds without a current value are gaps: ${gap.length}`);
    for (const p of gap) {
      assert.deepEqual(p.voltage, [null, null, null], p.time);
      assert.equal(p.totalActivePower, null, p.time);
    }
    const first = points.findIndex((p) => p.voltage[0] === null);
    assert.ok(first > 0, 'values before the gap');
    assert.ok(
      points.slice(first).some((p) => p.voltage[0] !== null),
      'values after the gap',
    );
    for (const p of points.filter((q) => q.voltage[0] !== null)) {
      assert.ok(Math.abs((p.voltage[0] as number) - 231.5) < 0.01, `${p.time}: ${p.voltage[0]}`);
    }

    const csv = await client.request<string>('GET', '/api/v1/measurements/history?resolution=1s&format=csv');
    const gapLines = csv.body.split('\r\n').filter((line) => /^[^,]+Z,,,,,,,,,,$/.test(line));
    assert.ok(gapLines.length >= gap.length - 1, `gaps are empty fields in the CSV: ${gapLines.length}`);
  });
});
