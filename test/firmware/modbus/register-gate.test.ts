/**
 * The Modbus gate (modbus-gate.ts) against the real metering service and stores. The
 * permission matrix is generated from REGISTER_MAP: for every block, FC3 and FC4 with and without its
 * read permission give data or 0x01, FC6/FC16 with and without its write permission write (with the
 * block's declared effect) or answer 0x01 and change nothing; read-only blocks answer 0x01 even with
 * every permission. Also: unmapped addresses and reads running past a block are 0x02; a request over
 * blocks of different permissions is refused whole; bad values are 0x03 and half a float 0x02; a
 * refused multi-register write changes nothing; a VT write persists on flash and is logged with slot
 * and interface; CDAB word order; the reset commands; strings; FC 43/14; unknown function codes;
 * principals that must change their password or have none; and 5000 seeded random and mutated PDUs
 * that never throw and always get a well-formed answer.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  ALL_PERMISSIONS,
  type PermissionSet,
  permissionBit,
} from '../../../firmware/core/permission-table.ts';
import { ADMIN_SLOT } from '../../../firmware/core/slots.ts';
import type { Actor } from '../../../firmware/core/user-table.ts';
import { EXCEPTION, handleModbusPdu } from '../../../firmware/modbus/modbus-gate.ts';
import {
  blockAt,
  COMMAND_MAGIC,
  encodeBlock,
  REGISTER_MAP,
  type RegisterBlock,
  type RegisterSnapshot,
} from '../../../firmware/modbus/register-map.ts';
import { DEVICE_MODEL, FIRMWARE_VERSION } from '../../../firmware/version.ts';
import {
  assertException,
  deviceIdPdu,
  float32Of,
  float32Registers,
  hex,
  type ModbusDevice,
  readPdu,
  registersOf,
  startModbusDevice,
  stringOf,
  suiteScope,
  TEST_SERIAL_NUMBER,
  TEST_VENDOR,
  uint64Of,
  writeMultiplePdu,
  writeSinglePdu,
} from '../../support/modbus-fixture.ts';
import { fuzzSeed, seededRandom } from '../../support/seeded-random.ts';

const HOUR = 3600_000;
const IMPLEMENTED = [0x03, 0x04, 0x06, 0x10, 0x2b];

const actor = (permissions: PermissionSet, mustChangePassword = false, localOnly = false): Actor => ({
  slot: 5,
  permissions,
  mustChangePassword,
  localOnly,
});
const EVERYTHING = actor(ALL_PERMISSIONS);
const NOTHING = actor(0);
const only = (...names: string[]) => actor(names.reduce((set, name) => set | permissionBit(name), 0));
const allBut = (name: string) => actor(ALL_PERMISSIONS & ~permissionBit(name));

const end = (block: RegisterBlock) => block.address + block.count;
const describeBlock = (block: RegisterBlock) => `${block.address}+${block.count} (${block.name})`;

/** What a write may change: the configuration and when meters and min/max were last reset. */
function observable(device: ModbusDevice) {
  return {
    config: device.metering.config,
    metersResetAt: device.meter.meters(device.now()).resetAt,
    minMaxSince: device.meter.minMax(device.now()).since,
  };
}

/** A value the block accepts (its range's upper end, a float inside it), or 0 for read-only blocks. */
function acceptedValue(block: RegisterBlock): number {
  if (!block.range) return 0;
  return block.type === 'float32' ? Math.min(block.range.max, block.range.min + 1.5) : block.range.max;
}

/** The write PDUs for `registers` at the block: FC16 always, FC6 for one-register blocks. */
function writePdus(block: RegisterBlock, registers: readonly number[]): Uint8Array[] {
  const pdus = [writeMultiplePdu(block.address, registers)];
  if (block.count === 1) pdus.push(writeSinglePdu(block.address, registers[0] as number));
  return pdus;
}

function assertWritten(answer: Uint8Array, request: Uint8Array, context: string): void {
  const expected = request[0] === 0x06 ? request : request.subarray(0, 5);
  assert.deepEqual([...answer], [...expected], `${context}: write answer ${hex(answer)}`);
}

describe('register gate: permission matrix generated from REGISTER_MAP', () => {
  const scope = suiteScope();
  let device: ModbusDevice;
  before(async () => {
    device = await startModbusDevice(scope);
    device.advance(HOUR);
  });
  const ask = (pdu: Uint8Array, who: Actor | null) => handleModbusPdu(pdu, device.accessAs(who), device.deps);

  for (const block of REGISTER_MAP) {
    it(`${describeBlock(block)}: reading needs ${block.read}`, () => {
      const permitted = block.read === 'public' ? [NOTHING, EVERYTHING] : [only(block.read), EVERYTHING];
      const forbidden = block.read === 'public' ? [] : [allBut(block.read), NOTHING];
      for (const functionCode of [3, 4]) {
        const request = readPdu(functionCode, block.address, block.count);
        for (const who of permitted) {
          const registers = registersOf(ask(request, who), functionCode);
          assert.equal(registers.length, block.count);
          const values = device.metering.readUnchecked();
          const snapshot: RegisterSnapshot = {
            measurements: values.measurements(),
            meters: values.meters(),
            minMax: values.minMax(),
            config: device.metering.config,
            serialNumber: TEST_SERIAL_NUMBER,
            firmwareVersion: FIRMWARE_VERSION,
          };
          const wordOrder = device.metering.config.wordOrder;
          assert.deepEqual(registers, encodeBlock(block, block.value(snapshot), wordOrder));
        }
        for (const who of forbidden) {
          assertException(ask(request, who), functionCode, EXCEPTION.ILLEGAL_FUNCTION, `FC${functionCode}`);
        }
      }
    });

    it(`${describeBlock(block)}: writing needs ${block.write ?? 'nothing: read-only'}`, () => {
      device.advance(60_000);
      const registers = () => encodeBlock(block, acceptedValue(block), device.metering.config.wordOrder);
      const forbidden = block.write === null ? [EVERYTHING, NOTHING] : [allBut(block.write), NOTHING];
      for (const who of forbidden) {
        for (const request of writePdus(block, registers())) {
          const before = observable(device);
          assertException(ask(request, who), request[0] as number, EXCEPTION.ILLEGAL_FUNCTION, hex(request));
          assert.deepEqual(observable(device), before, `refused ${hex(request)} changed nothing`);
        }
      }
      if (block.write === null) return;
      for (const request of writePdus(block, registers())) {
        device.advance(1000);
        assertWritten(ask(request, only(block.write)), request, describeBlock(block));
        const action = block.onWrite?.(acceptedValue(block));
        assert.ok(action, 'a writable block declares what a write does');
        const now = observable(device);
        if (action.kind === 'config') {
          for (const [key, value] of Object.entries(action.patch)) {
            assert.deepEqual(now.config[key as keyof typeof now.config], value, key);
          }
        } else if (action.command === 'meters.reset') {
          assert.equal(now.metersResetAt, device.now());
        } else {
          assert.equal(now.minMaxSince, device.now());
        }
      }
    });
  }

  it('a read spanning a permitted and a forbidden block: 0x01 and no data (a map that has such blocks)', () => {
    // The v1 map has no adjacent blocks of different read permissions, so the gate is given one here:
    // the voltage of L1 (measurements.read) right before an energy meter (meters.read).
    const [voltage, energy] = [REGISTER_MAP[0], REGISTER_MAP.find((b) => b.address === 100)] as const;
    assert.ok(voltage && energy);
    const map = [voltage, { ...energy, address: voltage.address + voltage.count }];
    const deps = { ...device.deps, map };
    const read = (who: Actor) => handleModbusPdu(readPdu(3, 0, 6), device.accessAs(who), deps);
    for (const who of [only('measurements.read'), only('meters.read')]) {
      assert.deepEqual(
        [...read(who)],
        [0x83, EXCEPTION.ILLEGAL_FUNCTION],
        'refused whole, no register returned',
      );
    }
    const both = read(only('measurements.read', 'meters.read'));
    assert.equal(both[0], 0x03);
    assert.equal(registersOf(both).length, 6);
  });

  it('refuses a request over adjacent blocks of different permissions whole', (t) => {
    const pairs = REGISTER_MAP.flatMap((a) => {
      const b = blockAt(end(a));
      return b && b.address === end(a) ? [[a, b] as const] : [];
    });
    let reads = 0;
    let writes = 0;
    for (const [a, b] of pairs) {
      const count = a.count + b.count;
      if (a.read !== b.read) {
        for (const [permitted, other] of [
          [a.read, b.read],
          [b.read, a.read],
        ] as const) {
          if (permitted === 'public' || other === 'public') continue;
          reads++;
          const answer = ask(readPdu(3, a.address, count), only(permitted));
          assertException(
            answer,
            3,
            EXCEPTION.ILLEGAL_FUNCTION,
            `${a.address}+${count} with ${permitted} only`,
          );
        }
      }
      if (a.write !== null && b.write !== null && a.write !== b.write) {
        const registers = [
          ...encodeBlock(a, acceptedValue(a), 'ABCD'),
          ...encodeBlock(b, acceptedValue(b), 'ABCD'),
        ];
        for (const permitted of [a.write, b.write]) {
          writes++;
          device.advance(1000);
          const before = observable(device);
          const answer = ask(writeMultiplePdu(a.address, registers), only(permitted));
          assertException(
            answer,
            0x10,
            EXCEPTION.ILLEGAL_FUNCTION,
            `${a.address}+${count} with ${permitted}`,
          );
          assert.deepEqual(observable(device), before, 'no partial write');
        }
        device.advance(1000);
        const request = writeMultiplePdu(a.address, registers);
        assertWritten(ask(request, only(a.write, b.write)), request, 'with both permissions');
      }
    }
    // The v1 map has adjacent blocks of different write permissions (300/301) but none of different
    // read permissions; when a new block makes one, this test covers it without a change.
    assert.ok(writes > 0, 'the map has adjacent blocks of different write permissions');
    t.diagnostic(`${reads} mixed reads, ${writes} mixed writes`);
  });

  it('reads the command registers as 0 for anyone', () => {
    const mustChange = actor(ALL_PERMISSIONS, true);
    for (const block of REGISTER_MAP.filter((b) => b.onWrite?.(COMMAND_MAGIC).kind === 'command')) {
      for (const who of [NOTHING, EVERYTHING, mustChange, only(block.write as string)]) {
        for (const functionCode of [3, 4]) {
          assert.deepEqual(registersOf(ask(readPdu(functionCode, block.address, 1), who)), [0]);
        }
      }
    }
    assert.deepEqual(registersOf(ask(readPdu(3, 300, 2), NOTHING)), [0, 0]);
  });
});

describe('register gate: addresses', () => {
  const scope = suiteScope();
  let device: ModbusDevice;
  before(async () => {
    device = await startModbusDevice(scope);
  });
  const ask = (pdu: Uint8Array, who: Actor | null = EVERYTHING) =>
    handleModbusPdu(pdu, device.accessAs(who), device.deps);

  it('answers 0x02 for unmapped addresses, reading and writing', () => {
    const gaps = REGISTER_MAP.flatMap((block) => [block.address - 1, end(block)]).filter(
      (address) => address >= 0 && !blockAt(address),
    );
    for (const address of [22, 99, 116, 206, 302, 405, 516]) assert.ok(gaps.includes(address), `${address}`);
    for (const address of [...new Set([...gaps, 1000, 0xffff])]) {
      for (const request of [
        readPdu(3, address, 1),
        readPdu(4, address, 1),
        writeSinglePdu(address, COMMAND_MAGIC),
        writeMultiplePdu(address, [COMMAND_MAGIC]),
      ]) {
        assertException(ask(request), request[0] as number, EXCEPTION.ILLEGAL_DATA_ADDRESS, `${address}`);
      }
    }
  });

  it('answers 0x02 for a read running past a block into unmapped space', () => {
    for (const block of REGISTER_MAP) {
      if (!blockAt(end(block))) {
        assertException(ask(readPdu(3, block.address, block.count + 1)), 3, 2, `past ${block.address}`);
        assertException(ask(readPdu(4, end(block) - 1, 2)), 4, 2, `last register of ${block.address} and on`);
      }
      if (block.address > 0 && !blockAt(block.address - 1)) {
        assertException(ask(readPdu(3, block.address - 1, block.count + 1)), 3, 2, `into ${block.address}`);
      }
    }
    assertException(ask(readPdu(3, 0, 125)), 3, EXCEPTION.ILLEGAL_DATA_ADDRESS, '0..124');
    assertException(ask(readPdu(3, 0xffff, 2)), 3, EXCEPTION.ILLEGAL_DATA_ADDRESS, 'past 0xffff');
  });

  it('answers 0x03 for a read count of 0 or over 125, and for malformed PDUs', () => {
    assertException(ask(readPdu(3, 0, 0)), 3, EXCEPTION.ILLEGAL_DATA_VALUE);
    assertException(ask(readPdu(3, 0, 126)), 3, EXCEPTION.ILLEGAL_DATA_VALUE);
    assertException(ask(Uint8Array.of(3, 0, 0, 0)), 3, EXCEPTION.ILLEGAL_DATA_VALUE);
    assertException(ask(Uint8Array.of(6, 1, 0x2c, 0x5a)), 6, EXCEPTION.ILLEGAL_DATA_VALUE);
    const short = writeMultiplePdu(400, [1, 2]);
    assertException(ask(short.subarray(0, short.length - 1)), 0x10, EXCEPTION.ILLEGAL_DATA_VALUE);
    const wrongByteCount = writeMultiplePdu(400, [1, 2]);
    wrongByteCount[5] = 2;
    assertException(ask(wrongByteCount), 0x10, EXCEPTION.ILLEGAL_DATA_VALUE);
  });

  it('reads 22 measurement registers in one request, and half a float', () => {
    const registers = registersOf(ask(readPdu(3, 0, 22)));
    assert.equal(registers.length, 22);
    assert.deepEqual(registersOf(ask(readPdu(3, 1, 1))), registers.slice(1, 2));
  });
});

describe('register gate: values and effects', () => {
  it('answers 0x03 for values out of range and 0x02 for half a float, and writes nothing', async (t) => {
    const device = await startModbusDevice(t);
    const ask = (pdu: Uint8Array) => handleModbusPdu(pdu, device.accessAs(EVERYTHING), device.deps);
    const before = observable(device);
    const outOfRange: [string, Uint8Array][] = [
      ['VT 0', writeMultiplePdu(400, float32Registers(0))],
      ['VT 10001', writeMultiplePdu(400, float32Registers(10001))],
      ['VT -5', writeMultiplePdu(400, float32Registers(-5))],
      ['VT NaN', writeMultiplePdu(400, float32Registers(Number.NaN))],
      ['VT Infinity', writeMultiplePdu(400, float32Registers(Number.POSITIVE_INFINITY))],
      ['CT 0.5', writeMultiplePdu(402, float32Registers(0.5))],
      ['word order 2', writeSinglePdu(404, 2)],
      ['word order 2 (FC16)', writeMultiplePdu(404, [2])],
      ['command 0x1234 to 300', writeSinglePdu(300, 0x1234)],
      ['command 0x1234 to 301', writeMultiplePdu(301, [0x1234])],
      ['command 0 to 300', writeSinglePdu(300, 0)],
    ];
    for (const [what, request] of outOfRange) {
      assertException(ask(request), request[0] as number, EXCEPTION.ILLEGAL_DATA_VALUE, what);
    }
    const halves: [string, Uint8Array][] = [
      ['FC6 to 400', writeSinglePdu(400, 0x4120)],
      ['FC6 to 401', writeSinglePdu(401, 0)],
      ['FC16 400, one register', writeMultiplePdu(400, [0x4120])],
      ['FC16 401..402', writeMultiplePdu(401, [0, 0x4120])],
      ['FC16 400..402', writeMultiplePdu(400, [0x4120, 0, 0x4120])],
    ];
    for (const [what, request] of halves) {
      assertException(ask(request), request[0] as number, EXCEPTION.ILLEGAL_DATA_ADDRESS, what);
    }
    assert.deepEqual(observable(device), before);
  });

  it('changes nothing when a multi-register write is refused', async (t) => {
    const device = await startModbusDevice(t);
    device.advance(HOUR);
    const ask = (pdu: Uint8Array, who: Actor) => handleModbusPdu(pdu, device.accessAs(who), device.deps);
    const before = observable(device);
    const stored = device.reopenConfig().config;
    const vt = float32Registers(100);
    const ct = float32Registers(5);
    assertException(
      ask(writeMultiplePdu(400, [...vt, ...ct, 2]), EVERYTHING),
      0x10,
      EXCEPTION.ILLEGAL_DATA_VALUE,
    );
    assertException(ask(writeMultiplePdu(400, [...vt, ...ct, 1, 0]), EVERYTHING), 0x10, 2, 'runs into 405');
    assertException(
      ask(writeMultiplePdu(400, [...vt, ...ct, 1]), allBut('config.write')),
      0x10,
      EXCEPTION.ILLEGAL_FUNCTION,
    );
    assertException(
      ask(writeMultiplePdu(300, [COMMAND_MAGIC, COMMAND_MAGIC]), only('meters.reset')),
      0x10,
      EXCEPTION.ILLEGAL_FUNCTION,
    );
    assertException(ask(writeMultiplePdu(300, [COMMAND_MAGIC, 0x1234]), EVERYTHING), 0x10, 3);
    assert.deepEqual(observable(device), before, 'no reset happened, configuration unchanged');
    assert.equal(before.metersResetAt, null);
    assert.deepEqual(device.reopenConfig().config, stored, 'flash unchanged');

    const request = writeMultiplePdu(400, [...vt, ...ct, 1]);
    assertWritten(ask(request, EVERYTHING), request, 'VT, CT and word order at once');
    assert.deepEqual(
      { vt: device.metering.config.vtRatio, ct: device.metering.config.ctRatio },
      { vt: 100, ct: 5 },
    );
    assert.equal(device.metering.config.wordOrder, 'CDAB');
  });

  it('persists a VT write on flash and logs it with slot and interface', async (t) => {
    const device = await startModbusDevice(t);
    const admin = await device.admin();
    const access = device.accessAs(admin, 'modbus-tcp', '192.0.2.7');
    const request = writeMultiplePdu(400, float32Registers(120));
    assertWritten(handleModbusPdu(request, access, device.deps), request, 'VT 120');
    assert.equal(device.metering.config.vtRatio, 120);
    assert.equal(device.reopenConfig().config.vtRatio, 120, 'read back from the flash image');
    assert.equal(float32Of(registersOf(handleModbusPdu(readPdu(3, 400, 2), access, device.deps))), 120);
    const event = device.store.log.readAll().findLast((e) => e.type === 'config.change');
    assert.ok(event, 'a config.change event');
    assert.deepEqual(
      { result: event.result, interface: event.interface, slot: event.slot, source: event.source },
      { result: 'ok', interface: 'modbus-tcp', slot: ADMIN_SLOT, source: '192.0.2.7' },
    );
    assert.match(event.detail ?? '', /vtRatio/);
  });

  it('encodes floats low word first after word order 1 (CDAB), and decodes writes so', async (t) => {
    const device = await startModbusDevice(t);
    const ask = (pdu: Uint8Array) => handleModbusPdu(pdu, device.accessAs(EVERYTHING), device.deps);
    const abcd = registersOf(ask(readPdu(3, 0, 22)));
    const u1 = float32Of(abcd.slice(0, 2));
    assertWritten(ask(writeSinglePdu(404, 1)), writeSinglePdu(404, 1), 'word order 1');
    assert.deepEqual(registersOf(ask(readPdu(3, 404, 1))), [1]);
    const cdab = registersOf(ask(readPdu(3, 0, 22)));
    for (let i = 0; i < 22; i += 2)
      assert.deepEqual(cdab.slice(i, i + 2), [abcd[i + 1], abcd[i]], `register ${i}`);
    assert.equal(float32Of(cdab.slice(0, 2), 'CDAB'), u1);
    assert.notEqual(float32Of(cdab.slice(0, 2), 'ABCD'), u1);
    const request = writeMultiplePdu(400, float32Registers(250, 'CDAB'));
    assertWritten(ask(request), request, 'VT 250 in CDAB');
    assert.equal(device.metering.config.vtRatio, 250);
  });

  it('resets energy meters with 0x5AA5 to 300 and min/max with 0x5AA5 to 301', async (t) => {
    const device = await startModbusDevice(t);
    const ask = (pdu: Uint8Array, who: Actor) => handleModbusPdu(pdu, device.accessAs(who), device.deps);
    device.advance(2 * HOUR);
    const energy = uint64Of(registersOf(ask(readPdu(3, 100, 4), EVERYTHING)));
    assert.ok(energy > 100n, `active import after 2 h: ${energy} Wh`);
    const sinceBefore = device.meter.minMax(device.now()).since;

    device.advance(1000);
    assertWritten(
      ask(writeSinglePdu(300, COMMAND_MAGIC), only('meters.reset')),
      writeSinglePdu(300, COMMAND_MAGIC),
      '',
    );
    assert.equal(device.meter.meters(device.now()).resetAt, device.now());
    assert.equal(uint64Of(registersOf(ask(readPdu(3, 100, 4), EVERYTHING))), 0n);
    assert.equal(device.meter.minMax(device.now()).since, sinceBefore, 'min/max untouched');

    device.advance(1000);
    const resetMinMax = writeMultiplePdu(301, [COMMAND_MAGIC]);
    assertWritten(ask(resetMinMax, only('minmax.reset')), resetMinMax, '');
    assert.equal(device.meter.minMax(device.now()).since, device.now());
    const types = device.store.log.readAll().map((e) => `${e.type} ${e.result}`);
    assert.ok(types.includes('meters.reset ok') && types.includes('minmax.reset ok'), types.join(', '));
  });

  it('serves serial number and firmware version as strings, and FC 43/14 identification', async (t) => {
    const device = await startModbusDevice(t);
    const ask = (pdu: Uint8Array) => handleModbusPdu(pdu, device.accessAs(NOTHING), device.deps);
    assert.equal(stringOf(registersOf(ask(readPdu(3, 500, 8)))), TEST_SERIAL_NUMBER);
    assert.equal(stringOf(registersOf(ask(readPdu(4, 508, 8)))), FIRMWARE_VERSION);
    assert.equal(stringOf(registersOf(ask(readPdu(3, 500, 16))).slice(0, 8)), TEST_SERIAL_NUMBER);

    const objects = (answer: Uint8Array) => {
      assert.deepEqual([...answer.subarray(0, 2)], [0x2b, 0x0e], hex(answer));
      const found: Record<number, string> = {};
      let offset = 7;
      for (let i = 0; i < (answer[6] as number); i++) {
        const length = answer[offset + 1] as number;
        found[answer[offset] as number] = new TextDecoder().decode(
          answer.subarray(offset + 2, offset + 2 + length),
        );
        offset += 2 + length;
      }
      assert.equal(offset, answer.length, 'nothing after the objects');
      return found;
    };
    const basic = ask(deviceIdPdu(1, 0));
    assert.deepEqual(objects(basic), { 0: TEST_VENDOR, 1: DEVICE_MODEL, 2: FIRMWARE_VERSION });
    assert.equal(basic[2], 1, 'read device id code echoed');
    assert.equal(basic[3], 0x81, 'conformity: basic identification, stream and individual access');
    assert.deepEqual(objects(ask(deviceIdPdu(4, 2))), { 2: FIRMWARE_VERSION });
    assertException(ask(deviceIdPdu(4, 3)), 0x2b, EXCEPTION.ILLEGAL_DATA_ADDRESS);
    assertException(ask(deviceIdPdu(5, 0)), 0x2b, EXCEPTION.ILLEGAL_DATA_VALUE);
  });

  it('answers 0x01 to every function code it does not implement', async (t) => {
    const device = await startModbusDevice(t);
    for (let functionCode = 0; functionCode < 0x80; functionCode++) {
      if (IMPLEMENTED.includes(functionCode)) continue;
      for (const pdu of [Uint8Array.of(functionCode), Uint8Array.of(functionCode, 0, 0, 0, 1)]) {
        const answer = handleModbusPdu(pdu, device.accessAs(EVERYTHING), device.deps);
        assertException(answer, functionCode, EXCEPTION.ILLEGAL_FUNCTION, `FC ${functionCode}`);
      }
    }
  });
});

describe('register gate: principals', () => {
  it('lets a principal that must change its password read public blocks only', async (t) => {
    const device = await startModbusDevice(t);
    const factoryAdmin = device.security.actorFor(ADMIN_SLOT);
    assert.equal(factoryAdmin.mustChangePassword, true);
    assert.equal(factoryAdmin.permissions, ALL_PERMISSIONS);
    const ask = (pdu: Uint8Array) => handleModbusPdu(pdu, device.accessAs(factoryAdmin), device.deps);
    const before = observable(device);
    for (const block of REGISTER_MAP) {
      const read = ask(readPdu(3, block.address, block.count));
      if (block.read === 'public') assert.equal(registersOf(read).length, block.count);
      else assertException(read, 3, EXCEPTION.ILLEGAL_FUNCTION, describeBlock(block));
      for (const request of writePdus(block, encodeBlock(block, acceptedValue(block), 'ABCD'))) {
        assertException(ask(request), request[0] as number, EXCEPTION.ILLEGAL_FUNCTION, describeBlock(block));
      }
    }
    assert.equal(ask(deviceIdPdu(1, 0))[0], 0x2b, 'identification is public');
    assert.deepEqual(observable(device), before);
  });

  it('answers 0x01 to everything when there is no principal', async (t) => {
    const device = await startModbusDevice(t);
    const ask = (pdu: Uint8Array) => handleModbusPdu(pdu, device.accessAs(null), device.deps);
    const before = observable(device);
    const requests = [
      ...REGISTER_MAP.flatMap((block) => [
        readPdu(3, block.address, block.count),
        readPdu(4, block.address, block.count),
        ...writePdus(block, encodeBlock(block, acceptedValue(block), 'ABCD')),
      ]),
      readPdu(3, 22, 1),
      readPdu(3, 0, 0),
      deviceIdPdu(1, 0),
      Uint8Array.of(0x11),
    ];
    for (const request of requests) {
      assertException(ask(request), request[0] as number, EXCEPTION.ILLEGAL_FUNCTION, hex(request));
    }
    assert.deepEqual(observable(device), before);
  });

  it('answers 0x01 to everything, public blocks included, for a local-only principal on every transport', async (t) => {
    const device = await startModbusDevice(t);
    const localOnly = actor(ALL_PERMISSIONS, false, true);
    const before = observable(device);
    for (const via of ['modbus-tcp', 'modbus-rtu', 'modbus-tls'] as const) {
      const ask = (pdu: Uint8Array) => handleModbusPdu(pdu, device.accessAs(localOnly, via), device.deps);
      const requests = [
        ...REGISTER_MAP.flatMap((block) => [
          readPdu(3, block.address, block.count),
          ...writePdus(block, encodeBlock(block, acceptedValue(block), 'ABCD')),
        ]),
        deviceIdPdu(1, 0),
      ];
      for (const request of requests) {
        assertException(
          ask(request),
          request[0] as number,
          EXCEPTION.ILLEGAL_FUNCTION,
          `${via} ${hex(request)}`,
        );
      }
    }
    assert.deepEqual(observable(device), before);
    // The same rights without the flag are served: the refusal is the local-only rule.
    const served = handleModbusPdu(readPdu(3, 400, 2), device.accessAs(actor(ALL_PERMISSIONS)), device.deps);
    assert.equal(registersOf(served).length, 2);
  });

  it('acts as the slot configured for Modbus, looked up at each request', async (t) => {
    const device = await startModbusDevice(t);
    const access = device.slotAccess();
    assert.equal(registersOf(handleModbusPdu(readPdu(3, 0, 2), access, device.deps)).length, 2);
    assertException(
      handleModbusPdu(readPdu(3, 400, 2), access, device.deps),
      3,
      1,
      'anonymous: no config.read',
    );
    const admin = await device.admin();
    await device.security.updateCommunication(admin, { modbusSlot: ADMIN_SLOT }, { interface: 'system' });
    assert.equal(registersOf(handleModbusPdu(readPdu(3, 400, 2), access, device.deps)).length, 2);
  });
});

describe('register gate: fuzz', () => {
  it('never throws and always answers well-formed, for 5000 random and mutated PDUs', async (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`seed ${seed} (rerun with MODBUS_FUZZ_SEED=${seed})`);
    const random = seededRandom(seed);
    const device = await startModbusDevice(t);
    const principals: (Actor | null)[] = [
      EVERYTHING,
      NOTHING,
      null,
      actor(ALL_PERMISSIONS, true),
      only('measurements.read', 'meters.read'),
    ];
    const edges = REGISTER_MAP.flatMap((b) => [b.address - 1, b.address, b.address + 1, end(b) - 1, end(b)]);
    const address = () => (random() < 0.8 ? random.pick(edges) & 0xffff : random.int(0x10000));
    const valid = (): Uint8Array => {
      switch (random.int(6)) {
        case 0:
          return readPdu(random.pick([3, 4]), address(), random.pick([1, 2, 4, 8, 16, 22, 125, 126, 0]));
        case 1:
          return writeSinglePdu(address(), random.pick([0, 1, 2, COMMAND_MAGIC, random.int(0x10000)]));
        case 2: {
          const values = Array.from({ length: random.pick([1, 2, 3, 4, 5]) }, () =>
            random.pick([0, 1, COMMAND_MAGIC, 0x3f80, 0x4120, 0x42c8, random.int(0x10000)]),
          );
          return writeMultiplePdu(address(), values);
        }
        case 3:
          return deviceIdPdu(random.int(6), random.int(5));
        case 4:
          return Uint8Array.of(random.int(256), ...random.bytes(random.int(8)));
        default:
          return random.bytes(random.int(254));
      }
    };
    const mutate = (pdu: Uint8Array): Uint8Array => {
      const bytes = [...pdu];
      for (let n = 1 + random.int(3); n > 0; n--) {
        const choice = random.int(4);
        if (choice === 0 && bytes.length > 0) bytes[random.int(bytes.length)] = random.int(256);
        else if (choice === 1) bytes.splice(random.int(bytes.length + 1), 0, random.int(256));
        else if (choice === 2 && bytes.length > 0) bytes.splice(random.int(bytes.length), 1);
        else bytes.length = random.int(bytes.length + 1);
      }
      return Uint8Array.from(bytes);
    };
    const counts = { normal: 0, exceptions: 0 };
    for (let i = 0; i < 5000; i++) {
      device.advance(random.int(2000));
      let pdu = valid();
      if (random() < 0.5) pdu = mutate(pdu);
      const functionCode = pdu[0] ?? 0;
      let answer: Uint8Array;
      try {
        answer = handleModbusPdu(pdu, device.accessAs(random.pick(principals)), device.deps);
      } catch (error) {
        assert.fail(`threw for ${hex(pdu)} (seed ${seed}, #${i}): ${(error as Error).message}`);
      }
      const context = `#${i} ${hex(pdu)} → ${hex(answer)} (seed ${seed})`;
      if (answer[0] === ((functionCode | 0x80) & 0xff) && answer.length === 2) {
        assert.ok([1, 2, 3].includes(answer[1] as number), `exception code: ${context}`);
        counts.exceptions++;
        continue;
      }
      assert.ok(IMPLEMENTED.includes(functionCode), `a normal answer to an unknown FC: ${context}`);
      assert.equal(answer[0], functionCode, context);
      if (functionCode === 3 || functionCode === 4) {
        assert.equal(answer[1], 2 * (((pdu[3] as number) << 8) | (pdu[4] as number)), context);
        assert.equal(answer.length, 2 + (answer[1] as number), context);
      } else if (functionCode === 6) {
        assert.deepEqual([...answer], [...pdu], context);
      } else if (functionCode === 0x10) {
        assert.deepEqual([...answer], [...pdu.subarray(0, 5)], context);
      } else {
        assert.equal(answer[1], 0x0e, context);
      }
      assert.ok(answer.length <= 253, context);
      counts.normal++;
    }
    t.diagnostic(`${counts.normal} normal answers, ${counts.exceptions} exceptions`);
    assert.ok(counts.normal > 100, 'the generator reaches the registers');
    const { vtRatio, ctRatio } = device.reopenConfig().config;
    assert.ok(vtRatio >= 1 && vtRatio <= 10000 && ctRatio >= 1 && ctRatio <= 10000);
  });
});
