/**
 * Test fixture for the Modbus gate and the TCP/TLS listeners: the device's object graph as its own
 * factory builds it (sim/build-sim-device.ts) on a temp NOR flash image, with a clock the test moves;
 * accesses acting as a given actor or as the configured Modbus slot; and request/answer PDU builders
 * and decoders (float32 in either word order, uint64, strings).
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import type { WordOrder } from '../../firmware/core/device-config.ts';
import { ADMIN_SLOT } from '../../firmware/core/slots.ts';
import type { Actor } from '../../firmware/core/user-table.ts';
import type { ModbusAccess, ModbusDeps } from '../../firmware/modbus/modbus-gate.ts';
import type { MeteringService } from '../../firmware/services/metering-service.ts';
import type { InterfaceName, RequestContext } from '../../firmware/services/request-context.ts';
import type { SecurityService } from '../../firmware/services/security-service.ts';
import { ConfigStore } from '../../firmware/store/config-store.ts';
import type { SecureStore } from '../../firmware/store/secure-store.ts';
import { buildSimDevice } from '../../sim/build-sim-device.ts';
import { NorFlash } from '../../sim/nor-flash.ts';
import { SimMeter } from '../../sim/sim-meter.ts';
import { type DataDir, FIXED_TIME, tempDataDir } from './store-fixture.ts';

type TestContext = { after(fn: () => void | Promise<void>): void };

/**
 * A cleanup scope for fixtures started in a suite's `before` hook (a suite context has no `after`):
 * call in the describe body; what is registered runs after the suite, last first.
 */
export function suiteScope(): TestContext {
  const cleanups: (() => void | Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return { after: (fn) => void cleanups.push(fn) };
}

export const TEST_SERIAL_NUMBER = 'MG-TCP-0000042';
export const TEST_VENDOR = 'metergate';
/** The admin password the fixture sets when asked (the factory password may do nothing else). */
export const ADMIN_PASSWORD = 'Quartz-Meter-7731';

const SYSTEM: RequestContext = { interface: 'system' };

export interface ModbusDevice {
  readonly data: DataDir;
  readonly flash: NorFlash;
  readonly rootKey: Uint8Array;
  readonly store: SecureStore;
  readonly configStore: ConfigStore;
  readonly security: SecurityService;
  readonly metering: MeteringService;
  readonly meter: SimMeter;
  readonly deps: ModbusDeps;
  /** The device clock (starts at FIXED_TIME). */
  now(): number;
  advance(ms: number): void;
  /** An access acting as `actor` (or whatever the function returns at each request). */
  accessAs(actor: Actor | null | (() => Actor | null), iface?: InterfaceName, source?: string): ModbusAccess;
  /** An access acting as the configured Modbus TCP slot (factory: anonymous), looked up per request. */
  slotAccess(iface?: InterfaceName, source?: string): ModbusAccess;
  /** The handler bound to the device, for `startModbusTcpServer`'s `handle`. */
  handle(pdu: Uint8Array, access: ModbusAccess): Uint8Array;
  /** Sets the admin password (once) and returns the admin, who may then do everything. */
  admin(): Promise<Actor>;
  /** The configuration record read anew from the flash image file, as after a power cycle. */
  reopenConfig(): ConfigStore;
}

/** A device on a fresh temp data dir; everything is closed and removed when the test ends. */
export async function startModbusDevice(t: TestContext): Promise<ModbusDevice> {
  const data = tempDataDir(t);
  let time = FIXED_TIME;
  const now = () => time;
  const meter = new SimMeter(now());
  const device = await buildSimDevice({
    dataDir: data.dir,
    now,
    meter,
    serialNumber: TEST_SERIAL_NUMBER,
    kdfIterations: MIN_KDF_ITERATIONS,
  });
  t.after(() => device.close());
  const { store, rootKey, configStore, security, metering, modbus } = device.graph;
  const accessAs: ModbusDevice['accessAs'] = (actor, iface = 'modbus-tcp', source = '127.0.0.1') => ({
    context: { interface: iface, source },
    actor: typeof actor === 'function' ? actor : () => actor,
  });
  let adminReady = false;
  return {
    data,
    flash: device.flash,
    rootKey,
    store,
    configStore,
    security,
    metering,
    meter,
    deps: modbus.deps,
    now,
    advance: (ms) => {
      time += ms;
    },
    accessAs,
    slotAccess: (iface = 'modbus-tcp', source = '127.0.0.1') =>
      modbus.slotAccess('modbusPrincipal', iface, source),
    handle: (pdu, access) => modbus.handle(pdu, access),
    async admin() {
      if (!adminReady) {
        await security.changeOwnPassword(security.actorFor(ADMIN_SLOT), true, ADMIN_PASSWORD, SYSTEM);
        adminReady = true;
      }
      return security.actorFor(ADMIN_SLOT);
    },
    reopenConfig() {
      const flash = NorFlash.open({ path: data.imagePath });
      try {
        return ConfigStore.open(flash, rootKey, store, { readOnly: true });
      } finally {
        flash.close();
      }
    },
  };
}

/** A read-holding (3) or read-input (4) registers request PDU. */
export function readPdu(functionCode: number, address: number, count: number): Uint8Array {
  return Uint8Array.of(functionCode, address >> 8, address & 0xff, count >> 8, count & 0xff);
}

/** A write-single-register (FC6) request PDU. */
export function writeSinglePdu(address: number, value: number): Uint8Array {
  return Uint8Array.of(0x06, address >> 8, address & 0xff, (value >> 8) & 0xff, value & 0xff);
}

/** A write-multiple-registers (FC16) request PDU. */
export function writeMultiplePdu(address: number, values: readonly number[]): Uint8Array {
  const pdu = new Uint8Array(6 + values.length * 2);
  const view = new DataView(pdu.buffer);
  pdu[0] = 0x10;
  view.setUint16(1, address);
  view.setUint16(3, values.length);
  pdu[5] = values.length * 2;
  for (const [i, value] of values.entries()) view.setUint16(6 + i * 2, value);
  return pdu;
}

/** FC 43 / MEI 14: read device identification. */
export function deviceIdPdu(code: number, objectId: number): Uint8Array {
  return Uint8Array.of(0x2b, 0x0e, code, objectId);
}

/** The registers of a normal FC3/FC4 answer (asserted to be one). */
export function registersOf(pdu: Uint8Array, functionCode = pdu[0] as number): number[] {
  assert.equal(pdu[0], functionCode, `expected a normal FC${functionCode} answer, got ${hex(pdu)}`);
  assert.equal(pdu.length, 2 + (pdu[1] as number), `answer length: ${hex(pdu)}`);
  const view = new DataView(pdu.buffer, pdu.byteOffset, pdu.byteLength);
  return Array.from({ length: (pdu[1] as number) / 2 }, (_, i) => view.getUint16(2 + i * 2));
}

/** The two registers of a float32 in `order`. */
export function float32Registers(value: number, order: WordOrder = 'ABCD'): [number, number] {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const high = view.getUint16(0);
  const low = view.getUint16(2);
  return order === 'CDAB' ? [low, high] : [high, low];
}

/** A float32 from two registers in `order`. */
export function float32Of(registers: readonly number[], order: WordOrder = 'ABCD'): number {
  const [a, b] = registers as [number, number];
  const [high, low] = order === 'CDAB' ? [b, a] : [a, b];
  const view = new DataView(new ArrayBuffer(4));
  view.setUint16(0, high);
  view.setUint16(2, low);
  return view.getFloat32(0);
}

/** A uint64 from four registers, most significant first. */
export function uint64Of(registers: readonly number[]): bigint {
  return registers.slice(0, 4).reduce((value, word) => (value << 16n) | BigInt(word), 0n);
}

/** An ASCII string from registers (two characters each, zero-padded). */
export function stringOf(registers: readonly number[]): string {
  return String.fromCharCode(...registers.flatMap((word) => [word >> 8, word & 0xff])).replace(/\0+$/, '');
}

/** Asserts that `pdu` is the exception `code` to `functionCode`. */
export function assertException(pdu: Uint8Array, functionCode: number, code: number, context = ''): void {
  assert.deepEqual(
    [...pdu],
    [(functionCode | 0x80) & 0xff, code],
    `${context}: expected exception 0x${code.toString(16).padStart(2, '0')}, got ${hex(pdu)}`,
  );
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)/g, '$1 ').trim();
}
