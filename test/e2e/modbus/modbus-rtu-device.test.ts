/**
 * Modbus RTU on the real device process (`--rtu PATH`, a socat pty pair standing in for the RS-485
 * line): silent while blocked, answering mbpoll -m rtu once enabled over REST (19200 8E1 by default),
 * silent again when disabled — without a restart.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

function mbpollRtu(client: string) {
  return spawnSync(
    'mbpoll',
    [
      '-m',
      'rtu',
      '-b',
      '19200',
      '-P',
      'even',
      '-a',
      '1',
      '-r',
      '1',
      '-c',
      '11',
      '-t',
      '4:float',
      '-B',
      '-1',
      '-o',
      '1',
      client,
    ],
    { encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' },
  );
}

describe('Modbus RTU on the device', () => {
  let fx: RestFixture | undefined;
  after(async () => {
    await fx?.close();
  });

  it('is silent while blocked, answers when enabled, and is silent again when disabled', async (t) => {
    const pty = await startPtyPair(t);
    fx = await startRestFixture(['--rtu', pty.device]);

    const blocked = mbpollRtu(pty.client);
    assert.notEqual(blocked.status, 0, 'no answer while blocked');
    assert.match(blocked.stdout + blocked.stderr, /timed out/i);

    const enabled = await fx.admin.request('PATCH', '/api/v1/config', { communication: { modbusRtu: true } });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    const read = mbpollRtu(pty.client);
    assert.equal(read.status, 0, read.stdout + read.stderr);
    const values = [...read.stdout.matchAll(/^\[\d+\]:\s+(\S+)$/gm)].map((m) => Number(m[1]));
    assert.equal(values.length, 11);
    for (const u of values.slice(0, 3)) assert.ok(u > 220 && u < 240, `U ${u}`);
    assert.ok(Math.abs((values[10] as number) - 50) < 0.1, `f ${values[10]}`);

    const disabled = await fx.admin.request('PATCH', '/api/v1/config', {
      communication: { modbusRtu: false },
    });
    assert.equal(disabled.status, 200);
    const silent = mbpollRtu(pty.client);
    assert.notEqual(silent.status, 0, 'no answer once disabled');
  });
});
