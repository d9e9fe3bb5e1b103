/**
 * Modbus TCP on the real device process with real clients: blocked by default (port closed), opened by
 * enabling it over REST and closed again by disabling it, without a restart; mbpoll (libmodbus) and
 * pymodbus read the measurements; a change of `anonymous`'s permissions over REST changes what Modbus
 * may read at the very next request; a command write is logged as a security event with interface
 * and slot; and a VT ratio written over Modbus is persisted across a restart.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDevice } from '../../support/device-process.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

interface Info {
  modbus: { tcp: boolean; tcpPort: number | null };
}

/** Resolves true when a TCP connection to the port is accepted, false when refused. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** `mbpoll [options] host [values to write]`: one poll, bounded in time. */
function mbpoll(port: number, args: string[], write: string[] = []) {
  return spawnSync('mbpoll', ['-1', '-p', String(port), ...args, '127.0.0.1', ...write], {
    encoding: 'utf8',
    timeout: 15_000,
  });
}

/** The 11 measurement floats as mbpoll prints them (ABCD: -B). */
function readFloats(port: number): number[] {
  const result = mbpoll(port, ['-t', '4:float', '-B', '-r', '1', '-c', '11']);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  return [...result.stdout.matchAll(/^\[\d+\]:\s+(-?[\d.e+-]+)/gm)].map((m) => Number(m[1]));
}

describe('Modbus TCP on the device', () => {
  let fx: RestFixture;
  let port: number;
  const modbusPort = 15000 + Math.floor(Math.random() * 4000);

  before(async () => {
    fx = await startRestFixture(['--modbus-port', String(modbusPort)]);
  });
  after(async () => {
    await fx?.close();
  });

  it('is blocked by default: the port is closed and the ready line says null', async () => {
    assert.equal(fx.device.ready.modbusTcp, null);
    assert.equal(await portOpen(modbusPort), false);
    const info = await fx.admin.request<Info>('GET', '/api/v1/info');
    assert.deepEqual([info.body.modbus.tcp, info.body.modbus.tcpPort], [false, null]);
  });

  it('opens when enabled over REST, without a restart', async () => {
    const enabled = await fx.admin.request('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    const info = await fx.admin.request<Info>('GET', '/api/v1/info');
    assert.equal(info.body.modbus.tcpPort, modbusPort);
    port = modbusPort;
    assert.equal(await portOpen(port), true);
  });

  it('mbpoll reads plausible measurements', () => {
    const [u1, u2, u3, i1, , , p, , s, pf, f] = readFloats(port);
    for (const u of [u1, u2, u3]) assert.ok((u as number) > 220 && (u as number) < 240, `U ${u}`);
    assert.ok((i1 as number) > 0 && (i1 as number) < 10, `I1 ${i1}`);
    assert.ok((p as number) > 0 && (p as number) <= (s as number), `P ${p} ≤ S ${s}`);
    assert.ok((pf as number) > 0 && (pf as number) <= 1, `PF ${pf}`);
    assert.ok(Math.abs((f as number) - 50) < 0.1, `f ${f}`);
  });

  it('pymodbus reads the same map (FC3 and FC4) and the serial number string', () => {
    const script = `
import struct, sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient('127.0.0.1', port=${port})
assert c.connect()
r = c.read_holding_registers(0, 2, slave=1)
assert not r.isError(), r
u1 = struct.unpack('>f', struct.pack('>HH', *r.registers))[0]
r4 = c.read_input_registers(20, 2, slave=1)
assert not r4.isError(), r4
f = struct.unpack('>f', struct.pack('>HH', *r4.registers))[0]
s = c.read_holding_registers(500, 8, slave=1)
serial = b''.join(struct.pack('>H', x) for x in s.registers).rstrip(b'\\0').decode()
print(round(u1, 3), round(f, 3), serial)
c.close()
`;
    const result = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const [u1, f, serial] = result.stdout.trim().split(' ');
    assert.ok(Number(u1) > 220 && Number(u1) < 240, `U1 ${u1}`);
    assert.ok(Math.abs(Number(f) - 50) < 0.1, `f ${f}`);
    assert.match(serial as string, /^MG\d{8}$/);
  });

  it("a change of anonymous's permissions over REST applies to the next Modbus request", async () => {
    const users = await fx.admin.request<{ slots: { slot: number; permissions: string[] }[] }>(
      'GET',
      '/api/v1/users',
    );
    const anonymous = users.body.slots[2]?.permissions ?? [];
    const without = await fx.admin.request('PATCH', '/api/v1/users/2', {
      permissions: anonymous.filter((p) => p !== 'measurements.read'),
    });
    assert.equal(without.status, 200, JSON.stringify(without.body));
    const refused = mbpoll(port, ['-t', '4:float', '-B', '-r', '1', '-c', '1']);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stdout + refused.stderr, /Illegal function/i);
    // Energy meters stay readable: only the block whose permission went is refused.
    const meters = mbpoll(port, ['-t', '4', '-r', '101', '-c', '4']);
    assert.equal(meters.status, 0, meters.stdout + meters.stderr);
    await fx.admin.request('PATCH', '/api/v1/users/2', { permissions: anonymous });
    assert.equal(readFloats(port).length, 11);
  });

  it('a refused command changes nothing; a permitted one resets and is logged with interface and slot', async () => {
    const before = await fx.admin.request<{ resetAt: string | null }>('GET', '/api/v1/meters');
    const refused = mbpoll(port, ['-t', '4', '-r', '301'], ['23205']);
    assert.notEqual(
      refused.status,
      0,
      `anonymous may not reset the meters: ${refused.stdout}${refused.stderr}`,
    );
    assert.deepEqual(
      (await fx.admin.request<{ resetAt: string | null }>('GET', '/api/v1/meters')).body.resetAt,
      before.body.resetAt,
    );

    const users = await fx.admin.request<{ slots: { permissions: string[] }[] }>('GET', '/api/v1/users');
    const anonymous = users.body.slots[2]?.permissions ?? [];
    await fx.admin.request('PATCH', '/api/v1/users/2', { permissions: [...anonymous, 'meters.reset'] });
    const reset = mbpoll(port, ['-t', '4', '-r', '301'], ['23205']);
    assert.equal(reset.status, 0, reset.stdout + reset.stderr);
    const after = await fx.admin.request<{ resetAt: string | null }>('GET', '/api/v1/meters');
    assert.notEqual(after.body.resetAt, null);
    const audit = await fx.admin.request<{
      events: { type: string; interface: string; slot?: number; result: string }[];
    }>('GET', '/api/v1/audit?type=meters.reset');
    assert.deepEqual(
      audit.body.events.map((e) => [e.interface, e.slot, e.result]),
      [['modbus-tcp', 2, 'ok']],
    );
    const denied = await fx.admin.request<{
      events: { interface: string; slot?: number; detail?: string }[];
    }>('GET', '/api/v1/audit?type=modbus.write');
    assert.deepEqual(
      denied.body.events.map((e) => [e.interface, e.slot, e.detail]),
      [['modbus-tcp', 2, 'write 300+1 needs meters.reset']],
    );
    await fx.admin.request('PATCH', '/api/v1/users/2', { permissions: anonymous });
  });

  it('closes when disabled, without a restart', async () => {
    const disabled = await fx.admin.request('PATCH', '/api/v1/config', {
      communication: { modbusTcp: false },
    });
    assert.equal(disabled.status, 200);
    assert.equal(await portOpen(port), false);
    const info = await fx.admin.request<Info>('GET', '/api/v1/info');
    assert.deepEqual([info.body.modbus.tcp, info.body.modbus.tcpPort], [false, null]);
  });

  it('a VT ratio written over Modbus (config.write) persists across a restart; enabled stays enabled', async () => {
    await fx.admin.request('PATCH', '/api/v1/users/2', {
      permissions: ['measurements.read', 'meters.read', 'config.read', 'config.write'],
    });
    await fx.admin.request('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
    // 120.0 as float32 ABCD = 0x42F0 0x0000
    const write = mbpoll(port, ['-t', '4:hex', '-r', '401'], ['0x42F0', '0x0000']);
    assert.equal(write.status, 0, write.stdout + write.stderr);
    const config = await fx.admin.request<{ measurement: { vtRatio: number } }>('GET', '/api/v1/config');
    assert.equal(config.body.measurement.vtRatio, 120);
    await fx.device.stop();
    const again = await startDevice(['--data-dir', fx.dataDir, '--modbus-port', String(modbusPort)]);
    try {
      assert.equal(again.ready.modbusTcp, modbusPort, 'enabled at boot, from the stored settings');
      const vt = mbpoll(modbusPort, ['-t', '4:float', '-B', '-r', '401', '-c', '1']);
      assert.equal(vt.status, 0, vt.stdout + vt.stderr);
      assert.match(vt.stdout, /\[401\]:\s+120\b/);
    } finally {
      await again.stop();
    }
  });
});
