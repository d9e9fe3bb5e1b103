/**
 * The Modbus RTU server over a real serial line (a socat pty pair), with the real request handler and
 * services on a temp flash image, driven by real clients: mbpoll (libmodbus) and pymodbus read plausible
 * values; raw frames prove that CRC errors, noise, other unit ids and broadcasts are neither answered
 * nor executed (a broadcast reset does not reset the meters) while the line keeps serving; refusals
 * are exceptions 0x01/0x02/0x03 on the wire; the unit id and the acting slot are read per request;
 * close() releases the port; a line that dies is logged once and the server closes cleanly.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ANONYMOUS_SLOT } from '../../../firmware/core/slots.ts';
import { withCrc } from '../../../firmware/modbus/modbus-crc.ts';
import { rtuFrameSilenceMs, startModbusRtuServer } from '../../../firmware/modbus/modbus-rtu-server.ts';
import { FIRMWARE_VERSION } from '../../../firmware/version.ts';
import {
  floatOf,
  hex,
  openRawClient,
  type PtyPair,
  type RawRtuClient,
  type RtuDevice,
  readPdu,
  registersOf,
  startPtyPair,
  startRtuDevice,
  TEST_SERIAL_NUMBER,
  waitForFrames,
  writeSinglePdu,
} from '../../support/modbus-rtu-fixture.ts';

const run = promisify(execFile);
/** Debian's interpreter, where python3-pymodbus is installed (a pyenv `python3` on PATH lacks it). */
const PYTHON = '/usr/bin/python3';
const RESET_MAGIC = 0x5aa5;

/** Cleanups of the suite's shared pty pair and device, run in reverse at the end. */
const cleanups: (() => void | Promise<void>)[] = [];
const suite = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) };

let pty: PtyPair;
let device: RtuDevice;

/** A raw client on the client end for one test (mbpoll and pymodbus open the same end). */
async function rawClient(t: { after(fn: () => Promise<void>): void }): Promise<RawRtuClient> {
  return openRawClient(t, pty.client);
}

/** Sends `bytes` as one frame and asserts the line stays silent once the server has taken it. */
async function assertNoAnswer(client: RawRtuClient, bytes: Uint8Array, what: string): Promise<void> {
  const seen = device.server.counters().busMessages;
  await client.write(bytes);
  await waitForFrames(device.server, seen + 1);
  const answer = await client.nextAnswer(100);
  assert.equal(answer, null, `${what} was answered: ${answer && hex(answer)}`);
}

describe('Modbus RTU server on a pty pair (19200 8E1, unit 1)', () => {
  before(async () => {
    pty = await startPtyPair(suite);
    device = await startRtuDevice(suite, { path: pty.device });
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('ends a frame after 3.5 characters of 11 bits, and after 1.75 ms above 19200 baud', () => {
    assert.ok(Math.abs(rtuFrameSilenceMs(9600) - 4.0104) < 0.001);
    assert.ok(Math.abs(rtuFrameSilenceMs(19200) - 2.0052) < 0.001);
    assert.equal(rtuFrameSilenceMs(38400), 1.75);
    assert.equal(rtuFrameSilenceMs(115200), 1.75);
  });

  it('mbpoll (libmodbus) reads plausible measurements as floats, in either word order', async () => {
    await device.actAs(ANONYMOUS_SLOT);
    const mbpoll = (...extra: string[]) =>
      run(
        'mbpoll',
        ['-m', 'rtu', '-b', '19200', '-P', 'even', '-a', '1', '-r', '1', '-c', '11', '-t', '4:float'].concat(
          extra,
          ['-1', '-o', '1', pty.client],
        ),
        { timeout: 10_000, killSignal: 'SIGKILL' },
      );
    const values = (stdout: string) =>
      [...stdout.matchAll(/^\[(\d+)\]:\s+(\S+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);

    // -c counts floats (11 floats = registers 0–21); -B = high word first, the device's default ABCD.
    const abcd = values((await mbpoll('-B')).stdout);
    assert.deepEqual(
      abcd.map(([reference]) => reference),
      [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21],
    );
    const [u1, u2, u3, i1, , , p, , s, pf, f] = abcd.map(([, value]) => value as number);
    for (const u of [u1, u2, u3]) assert.ok(u !== undefined && u > 200 && u < 260, `voltage ${u}`);
    assert.ok(i1 !== undefined && i1 >= 0 && i1 < 100, `current ${i1}`);
    assert.ok(f !== undefined && f > 49 && f < 51, `frequency ${f}`);
    assert.ok(pf !== undefined && pf > 0 && pf <= 1, `power factor ${pf}`);
    assert.ok(p !== undefined && s !== undefined && Math.abs(p) <= s * 1.01, `P ${p} ≤ S ${s}`);

    // mbpoll's default (low word first) reads the same values once the device is set to CDAB.
    device.metering.updateConfig(device.admin(), { wordOrder: 'CDAB' }, { interface: 'system' });
    try {
      const cdab = values((await mbpoll()).stdout);
      const v1 = cdab[0]?.[1] as number;
      assert.ok(v1 > 200 && v1 < 260, `U1N in CDAB: ${v1}`);
    } finally {
      device.metering.updateConfig(device.admin(), { wordOrder: 'ABCD' }, { interface: 'system' });
    }

    // 22 floats are 44 registers: past the mapped 0–21, exception 0x02, and mbpoll fails.
    await assert.rejects(mbpoll('-B', '-c', '22'), (error: { stderr: string }) => {
      assert.match(error.stderr, /Illegal data address/);
      return true;
    });
  });

  it('pymodbus (ModbusSerialClient) reads measurements, meters and identity strings', async () => {
    await device.actAs(ANONYMOUS_SLOT);
    // A pty carries bytes, not bits: this kernel drops PARENB on ptys and pyserial, unlike
    // libmodbus, refuses the port when its parity setting does not stick. No parity on this end.
    const script = `
import json, struct, sys
from pymodbus.client import ModbusSerialClient
client = ModbusSerialClient(port=sys.argv[1], baudrate=19200, parity='N', stopbits=1, timeout=1)
assert client.connect()
def regs(r):
    assert not r.isError(), str(r)
    return r.registers
u1 = struct.unpack('>f', struct.pack('>HH', *regs(client.read_input_registers(0, 2, slave=1))))[0]
energy = regs(client.read_holding_registers(100, 4, slave=1))
ident = regs(client.read_holding_registers(500, 16, slave=1))
text = b''.join(struct.pack('>H', r) for r in ident)
denied = client.read_holding_registers(400, 2, slave=1)
client.close()
print(json.dumps({'u1': u1, 'energy': energy, 'serial': text[:16].rstrip(b'\\0').decode(),
  'version': text[16:].rstrip(b'\\0').decode(), 'denied': getattr(denied, 'exception_code', None)}))
`;
    const { stdout } = await run(PYTHON, ['-c', script, pty.client], {
      timeout: 15_000,
      killSignal: 'SIGKILL',
    });
    const result = JSON.parse(stdout) as {
      u1: number;
      energy: number[];
      serial: string;
      version: string;
      denied: number | null;
    };
    assert.ok(result.u1 > 200 && result.u1 < 260, `U1N ${result.u1}`);
    assert.equal(result.energy.length, 4);
    assert.equal(result.serial, TEST_SERIAL_NUMBER);
    assert.equal(result.version, FIRMWARE_VERSION);
    // anonymous lacks config.read: the VT ratio is refused with 0x01.
    assert.equal(result.denied, 0x01);
  });

  it('drops CRC errors, noise, other units and broadcasts without answering or executing them', async (t) => {
    await device.actAsNewApiKey('all-except-security', 'rtu_scada');
    const client = await rawClient(t);
    const resetAt = () => device.metering.readUnchecked().meters().resetAt;
    const vtRatio = () => device.metering.config.vtRatio;
    assert.equal(resetAt(), null);
    assert.equal(vtRatio(), 1);

    const good = await client.request(1, readPdu(3, 0, 2));
    assert.ok(good !== null && good[0] === 0x03 && good[1] === 4);

    const before = device.server.counters();
    const handledBefore = device.handled.length;
    const reset = writeSinglePdu(300, RESET_MAGIC);
    const badCrc = withCrc(Uint8Array.of(1, ...reset));
    badCrc[badCrc.length - 1] = (badCrc[badCrc.length - 1] as number) ^ 0x01;
    await assertNoAnswer(client, badCrc, 'a reset with a bad CRC');
    await assertNoAnswer(client, Uint8Array.of(0x01, 0x03, 0x00), 'a 3-byte frame');
    await assertNoAnswer(client, Uint8Array.of(0xff), 'a single noise byte');
    await assertNoAnswer(client, Uint8Array.from([0x3c, 0xa1, 0x00, 0xff, 0x17, 0x42, 0x99]), 'noise');
    await assertNoAnswer(client, new Uint8Array(300).fill(0x55), '300 bytes of noise');
    await assertNoAnswer(client, withCrc(Uint8Array.of(7, ...reset)), 'a reset for unit 7');
    await assertNoAnswer(client, withCrc(Uint8Array.of(7, ...readPdu(3, 0, 2))), 'a read for unit 7');
    await assertNoAnswer(client, withCrc(Uint8Array.of(0, ...reset)), 'a broadcast reset (FC6)');
    // FC16 broadcast: meters reset and VT ratio 100 (0x42C80000) in one request.
    const fc16 = Uint8Array.of(0x10, 0x01, 0x2c, 0x00, 0x01, 0x02, 0x5a, 0xa5);
    await assertNoAnswer(client, withCrc(Uint8Array.of(0, ...fc16)), 'a broadcast reset (FC16)');
    const vt = Uint8Array.of(0x10, 0x01, 0x90, 0x00, 0x02, 0x04, 0x42, 0xc8, 0x00, 0x00);
    await assertNoAnswer(client, withCrc(Uint8Array.of(0, ...vt)), 'a broadcast VT ratio write');

    const after = device.server.counters();
    assert.equal(after.commErrors - before.commErrors, 5, 'CRC error, short frame and noise dropped');
    assert.equal(after.otherUnit - before.otherUnit, 2);
    assert.equal(after.broadcasts - before.broadcasts, 3);
    assert.equal(after.answered, before.answered);
    assert.equal(device.handled.length, handledBefore, 'the handler never saw any of them');
    assert.equal(resetAt(), null, 'meters were not reset');
    assert.equal(vtRatio(), 1, 'VT ratio unchanged');

    // The line still serves, and the acting slot could have reset: the refusal above was the framing's.
    const answer = await client.request(1, readPdu(4, 0, 2));
    assert.ok(answer !== null);
    const [high, low] = registersOf(answer);
    const u1 = floatOf(high as number, low as number);
    assert.ok(u1 > 200 && u1 < 260, `U1N ${u1}`);
    assert.deepEqual(await client.request(1, reset), reset, 'a unit-1 reset is echoed');
    assert.notEqual(resetAt(), null, 'and it did reset the meters');
  });

  it('answers refusals with exceptions on the wire: 0x01 not permitted, 0x02 unmapped, 0x03 value', async (t) => {
    await device.actAs(ANONYMOUS_SLOT);
    const client = await rawClient(t);
    const resetAt = device.metering.readUnchecked().meters().resetAt;
    // anonymous (measurements.read, meters.read) may not reset, read or write the configuration.
    assert.deepEqual(await client.request(1, writeSinglePdu(300, RESET_MAGIC)), Uint8Array.of(0x86, 0x01));
    assert.deepEqual(await client.request(1, readPdu(3, 400, 2)), Uint8Array.of(0x83, 0x01));
    assert.deepEqual(await client.request(1, writeSinglePdu(404, 1)), Uint8Array.of(0x86, 0x01));
    assert.equal(device.metering.readUnchecked().meters().resetAt, resetAt, 'refused reset did nothing');
    assert.deepEqual(await client.request(1, readPdu(3, 22, 2)), Uint8Array.of(0x83, 0x02));
    assert.deepEqual(await client.request(1, readPdu(3, 0, 126)), Uint8Array.of(0x83, 0x03));
    assert.deepEqual(await client.request(1, Uint8Array.of(0x01, 0, 0, 0, 1)), Uint8Array.of(0x81, 0x01));

    // A permission change of the acting slot applies to the very next request.
    await device.actAsNewApiKey('all-except-security', 'rtu_engineer');
    assert.deepEqual(await client.request(1, writeSinglePdu(404, 7)), Uint8Array.of(0x86, 0x03));
    assert.deepEqual(await client.request(1, writeSinglePdu(0, 1)), Uint8Array.of(0x86, 0x01));
    const vt = await client.request(1, readPdu(3, 400, 2));
    assert.ok(vt !== null);
    assert.equal(floatOf(...(registersOf(vt) as [number, number])), 1);
  });

  it('serves FC 43 / MEI 14 device identification (public)', async (t) => {
    await device.actAs(ANONYMOUS_SLOT);
    const client = await rawClient(t);
    const answer = await client.request(1, Uint8Array.of(0x2b, 0x0e, 0x01, 0x00));
    assert.ok(answer !== null);
    assert.deepEqual([...answer.subarray(0, 2)], [0x2b, 0x0e]);
    assert.equal(answer[3], 0x81, 'conformity: basic objects, stream and individual access');
    assert.equal(answer[6], 3, 'three basic objects');
    assert.match(Buffer.from(answer).toString('latin1'), new RegExp(FIRMWARE_VERSION.replace(/\./g, '\\.')));
    const one = await client.request(1, Uint8Array.of(0x2b, 0x0e, 0x04, 0x02));
    assert.ok(one !== null);
    assert.equal(Buffer.from(one.subarray(9)).toString('latin1'), FIRMWARE_VERSION, 'object 2 alone');
    assert.deepEqual(
      await client.request(1, Uint8Array.of(0x2b, 0x0e, 0x04, 0x03)),
      Uint8Array.of(0xab, 0x02),
    );
    // MEI type 13 (CANopen) is a function this device does not have.
    assert.deepEqual(
      await client.request(1, Uint8Array.of(0x2b, 0x0d, 0x01, 0x00)),
      Uint8Array.of(0xab, 0x01),
    );
  });

  it('reads the unit id at each request', async (t) => {
    await device.actAs(ANONYMOUS_SLOT);
    const client = await rawClient(t);
    const ctx = { interface: 'system' } as const;
    device.metering.updateConfig(device.admin(), { unitId: 42 }, ctx);
    try {
      assert.equal(await client.request(1, readPdu(3, 0, 2), 150), null);
      const answer = await client.request(42, readPdu(3, 0, 2));
      assert.ok(answer !== null && answer[0] === 0x03);
    } finally {
      device.metering.updateConfig(device.admin(), { unitId: 1 }, ctx);
    }
  });
});

describe('Modbus RTU server: the serial port', () => {
  it('holds the port until close(), then releases it', async (t) => {
    const pair = await startPtyPair(t);
    const options = {
      path: pair.device,
      baudRate: 19200,
      parity: 'even' as const,
      stopBits: 1 as const,
      handle: () => Uint8Array.of(0x83, 0x04),
      access: () => ({ actor: () => null, context: { interface: 'modbus-rtu' as const } }),
      unitId: () => 1,
      log: () => {},
    };
    const first = await startModbusRtuServer(options);
    await assert.rejects(startModbusRtuServer(options), /lock/i, 'a second server cannot open a held port');
    await first.close();
    await first.close();
    const second = await startModbusRtuServer(options);
    await second.close();
  });

  it('rejects at start when the serial device does not exist', async () => {
    await assert.rejects(
      startModbusRtuServer({
        path: '/dev/metergate-no-such-tty',
        baudRate: 9600,
        parity: 'none',
        stopBits: 2,
        handle: () => new Uint8Array(0),
        access: () => ({ actor: () => null, context: { interface: 'modbus-rtu' } }),
        unitId: () => 1,
        log: () => {},
      }),
      /ENOENT|No such file/,
    );
  });

  it('logs a dead line once and closes cleanly', async (t) => {
    const pair = await startPtyPair(t);
    const dev = await startRtuDevice(t, { path: pair.device });
    const client = await openRawClient(t, pair.client);
    assert.ok(await client.request(1, readPdu(3, 500, 8)));
    await client.close();
    process.kill(pair.pid, 'SIGKILL');
    const deadline = Date.now() + 3000;
    while (dev.logs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(dev.logs.length, 1, `logged once: ${JSON.stringify(dev.logs)}`);
    assert.match(dev.logs[0] as string, /Modbus RTU/);
    await dev.server.close();
  });
});
