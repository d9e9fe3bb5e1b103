/**
 * The Modbus RTU listener on a serial line (RS-485 adapter, UART or pty): framing only. A frame ends
 * after 3.5 character times of silence (11 bits a character; a fixed 1.75 ms above 19200 baud, as the
 * Modbus serial line spec says) and is unit id + PDU + CRC-16 (low byte first). Frames with a bad CRC,
 * shorter than 4 or longer than 256 bytes (noise) are dropped silently; frames for another unit id are
 * ignored; broadcasts (unit 0) are neither answered nor executed: the handler is never called for them.
 * Every decision about registers is the Modbus gate's (modbus-gate.ts).
 */
import { hasValidCrc, withCrc } from './modbus-crc.ts';
import { EXCEPTION, exception } from './modbus-gate.ts';
import type { ModbusRtuOptions, ModbusRtuServer } from './modbus-transport.ts';

/** The longest RTU frame (serial line spec: 256 bytes = address + 253-byte PDU + CRC). */
export const MAX_RTU_FRAME = 256;
/** The shortest frame that can carry a request: unit id, function code, CRC. */
export const MIN_RTU_FRAME = 4;
export const BROADCAST_UNIT = 0;

/** Serial-line diagnostics, named after the counters of Modbus FC 8 (serial line spec §6.1). */
export interface RtuCounters {
  /** Frames seen on the line, whatever their fate. */
  busMessages: number;
  /** Frames dropped for a bad CRC, a length out of 4–256 bytes, or an overrun. */
  commErrors: number;
  /** Broadcasts received (never executed, never answered). */
  broadcasts: number;
  /** Well-formed frames for another unit id. */
  otherUnit: number;
  /** Frames addressed to this device and answered. */
  answered: number;
  /** Of those, answers that were exceptions. */
  exceptions: number;
}

export interface RtuServer extends ModbusRtuServer {
  /** A copy of the line counters since start. */
  counters(): RtuCounters;
}

/** The silence in ms that ends a frame at `baudRate`: 3.5 characters of 11 bits, 1.75 ms above 19200 baud. */
export function rtuFrameSilenceMs(baudRate: number): number {
  if (baudRate > 19200) return 1.75;
  return (3.5 * 11 * 1000) / baudRate;
}

/**
 * Opens the serial line and serves it until `close()`. Rejects when the port cannot be opened. A
 * later serial error is logged once; if it closes the line, the server stays closed (the controller
 * may start a new one) and `close()` still resolves.
 */
export async function startModbusRtuServer(options: ModbusRtuOptions): Promise<RtuServer> {
  const log = options.log ?? ((message: string) => console.error(message));
  // Loaded when a line is opened: a device without RTU never pays its ~12 MB.
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({
    path: options.path,
    baudRate: options.baudRate,
    dataBits: 8,
    parity: options.parity,
    stopBits: options.stopBits,
    autoOpen: false,
  });
  let errorLogged = false;
  let closing = false;
  const logError = (message: string) => {
    if (errorLogged || closing) return;
    errorLogged = true;
    log(`Modbus RTU ${options.path}: ${message}`);
  };
  // Registered first and never removed: an 'error' without a listener would crash the process.
  port.on('error', (error: Error) => logError(error.message));
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));

  const counters: RtuCounters = {
    busMessages: 0,
    commErrors: 0,
    broadcasts: 0,
    otherUnit: 0,
    answered: 0,
    exceptions: 0,
  };

  const onFrame = (frame: Uint8Array) => {
    counters.busMessages++;
    if (frame.length < MIN_RTU_FRAME || frame.length > MAX_RTU_FRAME || !hasValidCrc(frame)) {
      counters.commErrors++;
      return;
    }
    const unit = frame[0] as number;
    if (unit === BROADCAST_UNIT) {
      counters.broadcasts++;
      return;
    }
    if (unit !== options.unitId()) {
      counters.otherUnit++;
      return;
    }
    const pdu = frame.slice(1, frame.length - 2);
    let response: Uint8Array;
    try {
      response = options.handle(pdu, options.access());
    } catch {
      // The handler promises not to throw; should it anyway, the client still gets an answer.
      response = exception(pdu[0] as number, EXCEPTION.SERVER_DEVICE_FAILURE);
    }
    const body = new Uint8Array(1 + response.length);
    body[0] = unit;
    body.set(response, 1);
    counters.answered++;
    if (((response[0] ?? 0) & 0x80) !== 0) counters.exceptions++;
    if (port.isOpen && !closing) port.write(Buffer.from(withCrc(body)));
  };

  // Bytes of the frame being received; `overrun` once it is longer than any frame can be (noise).
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let overrun = false;
  const endOfFrame = () => {
    const frame = overrun ? null : Buffer.concat(pending, pendingLength);
    pending = [];
    pendingLength = 0;
    overrun = false;
    if (frame === null) {
      counters.busMessages++;
      counters.commErrors++;
      return;
    }
    try {
      onFrame(frame);
    } catch (error) {
      logError(`dropped a frame: ${(error as Error).message}`);
    }
  };
  // Timers have millisecond resolution: round up, never end a frame early.
  const silence = Math.ceil(rtuFrameSilenceMs(options.baudRate));
  let timer: NodeJS.Timeout | undefined;

  port.on('data', (chunk: Buffer) => {
    if (closing) return;
    if (!overrun) {
      if (pendingLength + chunk.length > MAX_RTU_FRAME) {
        overrun = true;
        pending = [];
        pendingLength = 0;
      } else {
        pending.push(chunk);
        pendingLength += chunk.length;
      }
    }
    clearTimeout(timer);
    timer = setTimeout(endOfFrame, silence);
  });

  let closed: Promise<void> | null = null;
  port.on('close', (error: (Error & { disconnected?: boolean }) | null) => {
    clearTimeout(timer);
    if (!closing) logError(`line closed${error ? `: ${error.message}` : ''}; Modbus RTU stopped`);
    closed ??= Promise.resolve();
  });

  return {
    counters: () => ({ ...counters }),
    close() {
      closing = true;
      clearTimeout(timer);
      closed ??= new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      });
      return closed;
    },
  };
}
