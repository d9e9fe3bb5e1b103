/**
 * Test fixture for Modbus RTU over a real serial line: a socat pty pair (one end for the device, one
 * for the client), the device's object graph as its own factory builds it (sim/build-sim-device.ts)
 * on a temp NOR flash image, the RTU server on the device end, and a raw client on the other
 * end that writes frames and reads answers framed by their length. Processes and ports are released
 * when the test ends; socat is killed by its PID.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import { DEFAULT_DEVICE_CONFIG, type Parity } from '../../firmware/core/device-config.ts';
import type { PresetName } from '../../firmware/core/permission-table.ts';
import { ADMIN_SLOT } from '../../firmware/core/slots.ts';
import type { Actor } from '../../firmware/core/user-table.ts';
import { hasValidCrc, withCrc } from '../../firmware/modbus/modbus-crc.ts';
import type { ModbusDeps } from '../../firmware/modbus/modbus-gate.ts';
import { type RtuServer, startModbusRtuServer } from '../../firmware/modbus/modbus-rtu-server.ts';
import type { MeteringService } from '../../firmware/services/metering-service.ts';
import type { RequestContext } from '../../firmware/services/request-context.ts';
import type { SecurityService } from '../../firmware/services/security-service.ts';
import { buildSimDevice } from '../../sim/build-sim-device.ts';
import { tempDataDir } from './store-fixture.ts';

type TestContext = { after(fn: () => void | Promise<void>): void };

export const TEST_SERIAL_NUMBER = 'MG-RTU-000042';
/** The admin password the fixture sets (the factory password may do nothing else). */
export const ADMIN_PASSWORD = 'Quartz-Meter-7731';

export interface PtyPair {
  /** The device's end. */
  readonly device: string;
  /** The client's end. */
  readonly client: string;
  readonly pid: number;
}

/** Starts `socat` joining two ptys (links in a temp dir); waits until both links exist. */
export async function startPtyPair(t: TestContext): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-pty-'));
  const device = join(dir, 'dev');
  const client = join(dir, 'client');
  const socat: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${client}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  socat.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => socat.once('exit', () => resolve()));
  t.after(async () => {
    if (socat.pid !== undefined && socat.exitCode === null && socat.signalCode === null) {
      process.kill(socat.pid, 'SIGTERM');
      await Promise.race([exited, sleep(2000)]);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 5000;
  while (!(existsSync(device) && existsSync(client))) {
    if (socat.exitCode !== null || Date.now() > deadline) {
      assert.fail(`socat did not create the pty pair: ${stderr || `exit ${socat.exitCode}`}`);
    }
    await sleep(10);
  }
  assert.ok(socat.pid !== undefined);
  return { device, client, pid: socat.pid };
}

export interface RtuDevice {
  readonly server: RtuServer;
  readonly metering: MeteringService;
  readonly security: SecurityService;
  readonly deps: ModbusDeps;
  /** What the server logged. */
  readonly logs: string[];
  /** Every PDU the server handed to the request handler, in order. */
  readonly handled: Uint8Array[];
  /** The admin, after the fixture set its password. */
  admin(): Actor;
  /** Makes RTU requests act as `slot`. */
  actAs(slot: number): Promise<void>;
  /** Creates an API key with `preset` and makes RTU requests act as its slot; returns the slot. */
  actAsNewApiKey(preset: PresetName, name?: string): Promise<number>;
}

export interface RtuDeviceOptions {
  readonly path: string;
  readonly baudRate?: number;
  readonly parity?: Parity;
  readonly stopBits?: 1 | 2;
}

const SYSTEM: RequestContext = { interface: 'system' };

/**
 * A device on a fresh data dir, serving RTU on `path` as boot wires it: the configured RTU slot
 * (factory: anonymous) looked up per request, the configured unit id (factory: 1). Line settings
 * default to the factory 19200 8E1.
 */
export async function startRtuDevice(t: TestContext, options: RtuDeviceOptions): Promise<RtuDevice> {
  const data = tempDataDir(t);
  const device = await buildSimDevice({
    dataDir: data.dir,
    serialNumber: TEST_SERIAL_NUMBER,
    kdfIterations: MIN_KDF_ITERATIONS,
  });
  t.after(() => device.close());
  const { security, metering, modbus } = device.graph;
  const logs: string[] = [];
  const handled: Uint8Array[] = [];
  const { rtu } = DEFAULT_DEVICE_CONFIG;
  const server = await startModbusRtuServer({
    path: options.path,
    baudRate: options.baudRate ?? rtu.baudRate,
    parity: options.parity ?? rtu.parity,
    stopBits: options.stopBits ?? rtu.stopBits,
    handle: (pdu, access) => {
      handled.push(pdu.slice());
      return modbus.handle(pdu, access);
    },
    access: () => modbus.slotAccess('rtuPrincipal', 'modbus-rtu', options.path),
    unitId: () => metering.config.unitId,
    log: (message) => logs.push(message),
  });
  t.after(() => server.close());

  await security.changeOwnPassword(security.actorFor(ADMIN_SLOT), true, ADMIN_PASSWORD, SYSTEM);
  const admin = () => security.actorFor(ADMIN_SLOT);
  const actAs = (slot: number) =>
    security.updateCommunication(admin(), { modbusRtu: true, rtuSlot: slot }, SYSTEM);
  return {
    server,
    metering,
    security,
    deps: modbus.deps,
    logs,
    handled,
    admin,
    actAs,
    async actAsNewApiKey(preset, name = `rtu_${preset.replace(/-/g, '_')}`) {
      const { slot } = await security.addApiKey(admin(), { name, preset }, SYSTEM);
      await actAs(slot);
      return slot;
    },
  };
}

/**
 * The length of the Modbus RTU answer that `bytes` starts with, from its function code, or null while
 * too few bytes have arrived to tell. Knows the answers metergate gives: exceptions, FC 3/4/6/16/43.
 */
export function rtuAnswerLength(bytes: Uint8Array): number | null {
  if (bytes.length < 3) return null;
  const functionCode = bytes[1] as number;
  if (functionCode & 0x80) return 5;
  switch (functionCode) {
    case 0x03:
    case 0x04:
      return 5 + (bytes[2] as number);
    case 0x06:
    case 0x10:
      return 8;
    case 0x2b: {
      // unit, 0x2B, 0x0E, code, conformity, more, next, count, then per object: id, length, bytes.
      if (bytes.length < 8) return null;
      let offset = 8;
      for (let i = 0; i < (bytes[7] as number); i++) {
        if (bytes.length < offset + 2) return null;
        offset += 2 + (bytes[offset + 1] as number);
      }
      return offset + 2;
    }
    default:
      throw new Error(`unexpected function code 0x${functionCode.toString(16)} in an answer`);
  }
}

export interface RawRtuClient {
  /** Writes raw bytes to the line (a frame, noise, anything). */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Writes `unit + pdu + CRC` and resolves with the answer's PDU once the whole answer has arrived
   * (checked: CRC valid, same unit id), or null when nothing arrives within `timeoutMs`.
   */
  request(unit: number, pdu: Uint8Array, timeoutMs?: number): Promise<Uint8Array | null>;
  /** Resolves with the answer frame (unit + PDU + CRC) to the next request, or null after `timeoutMs`. */
  nextAnswer(timeoutMs?: number): Promise<Uint8Array | null>;
  /** Everything received and not yet consumed by `request`/`nextAnswer`; clears it. */
  drain(): Uint8Array;
  close(): Promise<void>;
}

/** Opens the client end of the line with serialport (8 data bits; parity and stop bits as given). */
export async function openRawClient(
  t: TestContext,
  path: string,
  line: { baudRate?: number; parity?: Parity; stopBits?: 1 | 2 } = {},
): Promise<RawRtuClient> {
  const port = new SerialPort({
    path,
    baudRate: line.baudRate ?? 19200,
    parity: line.parity ?? 'even',
    stopBits: line.stopBits ?? 1,
    dataBits: 8,
    autoOpen: false,
  });
  port.on('error', () => {});
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  let received = Buffer.alloc(0);
  let waiter: (() => void) | null = null;
  port.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    waiter?.();
  });
  const close = () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  t.after(close);

  const write = (bytes: Uint8Array) =>
    new Promise<void>((resolve, reject) =>
      port.write(Buffer.from(bytes), (error) => (error ? reject(error) : resolve())),
    );
  const nextAnswer = async (timeoutMs = 1000): Promise<Uint8Array | null> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const length = rtuAnswerLength(received);
      if (length !== null && received.length >= length) {
        const frame = new Uint8Array(received.subarray(0, length));
        received = received.subarray(length);
        return frame;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        if (received.length > 0) assert.fail(`incomplete answer: ${hex(received)}`);
        return null;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      waiter = null;
    }
  };
  return {
    write,
    nextAnswer,
    async request(unit, pdu, timeoutMs) {
      await write(withCrc(Uint8Array.of(unit, ...pdu)));
      const frame = await nextAnswer(timeoutMs);
      if (frame === null) return null;
      assert.ok(hasValidCrc(frame), `answer CRC: ${hex(frame)}`);
      assert.equal(frame[0], unit, 'answer unit id');
      return frame.subarray(1, frame.length - 2);
    },
    drain() {
      const bytes = new Uint8Array(received);
      received = Buffer.alloc(0);
      return bytes;
    },
    close,
  };
}

/** Waits until the server has seen `count` frames in total (a frame ends only after a silence). */
export async function waitForFrames(server: RtuServer, count: number, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (server.counters().busMessages < count) {
    if (Date.now() > deadline) {
      assert.fail(`server saw ${server.counters().busMessages} frames, expected ${count}`);
    }
    await sleep(1);
  }
}

/** A read-holding/input-registers request PDU. */
export function readPdu(functionCode: 3 | 4, address: number, count: number): Uint8Array {
  return Uint8Array.of(functionCode, address >> 8, address & 0xff, count >> 8, count & 0xff);
}

/** A write-single-register request PDU. */
export function writeSinglePdu(address: number, value: number): Uint8Array {
  return Uint8Array.of(0x06, address >> 8, address & 0xff, value >> 8, value & 0xff);
}

/** The registers of a read answer PDU. */
export function registersOf(pdu: Uint8Array): number[] {
  const view = new DataView(pdu.buffer, pdu.byteOffset, pdu.byteLength);
  return Array.from({ length: (pdu[1] as number) / 2 }, (_, i) => view.getUint16(2 + i * 2));
}

/** Two registers (high word first) as an IEEE 754 float. */
export function floatOf(high: number, low: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint16(0, high);
  view.setUint16(2, low);
  return view.getFloat32(0);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)/g, '$1 ').trim();
}
