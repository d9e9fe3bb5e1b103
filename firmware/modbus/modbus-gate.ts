/**
 * The Modbus gate: one request PDU in, one response PDU out, for TCP, TLS and RTU alike. Before
 * anything is read or written, every register the request touches must be mapped (else 0x02) and
 * permitted to the acting principal through this interface (else 0x01, as Modbus/TCP Security
 * specifies); writable values are range-checked (else 0x03). A refused request reads and writes
 * nothing. Whether the principal may act is access.ts's decision (a local-only principal may not act
 * here at all); this file only maps its refusals to exception 0x01.
 */
import { allows } from '../core/access.ts';
import { CoreError } from '../core/core-error.ts';
import type { DeviceConfig } from '../core/device-config.ts';
import type { Actor } from '../core/user-table.ts';
import type { MeteringService } from '../services/metering-service.ts';
import type { RequestContext } from '../services/request-context.ts';
import {
  blockAt,
  decodeBlock,
  encodeBlock,
  type RegisterBlock,
  type RegisterSnapshot,
  type WriteAction,
} from './register-map.ts';

export const EXCEPTION = {
  ILLEGAL_FUNCTION: 0x01,
  ILLEGAL_DATA_ADDRESS: 0x02,
  ILLEGAL_DATA_VALUE: 0x03,
  SERVER_DEVICE_FAILURE: 0x04,
  /** The upstream meter's values are not current (stale, never read); also a foreign TCP unit id. */
  GATEWAY_TARGET_FAILED: 0x0b,
} as const;

/** Who a Modbus request acts as, looked up per request so a permission change applies at once. */
export interface ModbusAccess {
  /** The acting principal, or null when the connection has none (a TLS certificate without a valid role). */
  actor(): Actor | null;
  readonly context: RequestContext;
}

export interface ModbusDeps {
  readonly metering: MeteringService;
  readonly serialNumber: string;
  readonly firmwareVersion: string;
  readonly vendorName: string;
  readonly productCode: string;
  /** The register map served; the published REGISTER_MAP unless a test gives another. */
  readonly map?: readonly RegisterBlock[];
  /** Told about every write the gate refuses for want of a permission (for the security log). */
  readonly onWriteDenied?: (actor: Actor, context: RequestContext, detail: string) => void;
}

const MAX_READ = 125;
const MAX_WRITE = 123;

/** Handles one request PDU (function code + data); returns the response PDU. Never throws. */
export function handleModbusPdu(pdu: Uint8Array, access: ModbusAccess, deps: ModbusDeps): Uint8Array {
  const functionCode = pdu[0] ?? 0;
  try {
    const actor = access.actor();
    // No principal, or one that may not act through this interface: no rights, whatever is asked.
    if (actor === null || !allows(actor, 'public', access.context.interface))
      return exception(functionCode, EXCEPTION.ILLEGAL_FUNCTION);
    const view = new DataView(pdu.buffer, pdu.byteOffset, pdu.byteLength);
    switch (functionCode) {
      case 0x03:
      case 0x04:
        return readRegisters(functionCode, view, actor, access.context, deps);
      case 0x06:
        return writeSingle(view, actor, access.context, deps);
      case 0x10:
        return writeMultiple(view, actor, access.context, deps);
      case 0x2b:
        return readDeviceIdentification(view, deps);
      default:
        return exception(functionCode, EXCEPTION.ILLEGAL_FUNCTION);
    }
  } catch (error) {
    if (
      error instanceof CoreError &&
      (error.code === 'permission-denied' ||
        error.code === 'password-change-required' ||
        error.code === 'local-only')
    ) {
      return exception(functionCode, EXCEPTION.ILLEGAL_FUNCTION);
    }
    if (error instanceof CoreError && error.code === 'invalid-setting') {
      return exception(functionCode, EXCEPTION.ILLEGAL_DATA_VALUE);
    }
    if (error instanceof CoreError && error.code === 'meter-unavailable') {
      return exception(functionCode, EXCEPTION.GATEWAY_TARGET_FAILED);
    }
    return exception(functionCode, EXCEPTION.SERVER_DEVICE_FAILURE);
  }
}

export function exception(functionCode: number, code: number): Uint8Array {
  return Uint8Array.of((functionCode | 0x80) & 0xff, code);
}

/** A register block's declaration put to access.ts; null (not writable) is never allowed. */
function allowed(
  actor: Actor,
  permission: RegisterBlock['read'] | RegisterBlock['write'],
  ctx: RequestContext,
): boolean {
  return permission !== null && allows(actor, permission, ctx.interface);
}

/** The blocks covering [start, start+count), or an exception code when one address is unmapped. */
function blocksCovering(
  map: readonly RegisterBlock[] | undefined,
  start: number,
  count: number,
): RegisterBlock[] | number {
  const blocks: RegisterBlock[] = [];
  for (let address = start; address < start + count; ) {
    const block = blockAt(address, map);
    if (!block) return EXCEPTION.ILLEGAL_DATA_ADDRESS;
    blocks.push(block);
    address = block.address + block.count;
  }
  return blocks;
}

function readRegisters(
  functionCode: number,
  view: DataView,
  actor: Actor,
  ctx: RequestContext,
  deps: ModbusDeps,
): Uint8Array {
  if (view.byteLength !== 5) return exception(functionCode, EXCEPTION.ILLEGAL_DATA_VALUE);
  const start = view.getUint16(1);
  const count = view.getUint16(3);
  if (count < 1 || count > MAX_READ) return exception(functionCode, EXCEPTION.ILLEGAL_DATA_VALUE);
  const blocks = blocksCovering(deps.map, start, count);
  if (typeof blocks === 'number') return exception(functionCode, blocks);
  if (!blocks.every((block) => allowed(actor, block.read, ctx)))
    return exception(functionCode, EXCEPTION.ILLEGAL_FUNCTION);
  // Permitted, but the meter's values are not current: as a gateway whose target does not answer.
  if (blocks.some((block) => block.fromMeter) && deps.metering.status().state !== 'fresh')
    return exception(functionCode, EXCEPTION.GATEWAY_TARGET_FAILED);

  const snapshot = new LazySnapshot(actor, ctx, deps);
  const wordOrder = snapshot.config.wordOrder;
  const response = new Uint8Array(2 + count * 2);
  response[0] = functionCode;
  response[1] = count * 2;
  const out = new DataView(response.buffer);
  let written = 0;
  for (const block of blocks) {
    const registers = encodeBlock(block, block.value(snapshot), wordOrder);
    for (let i = 0; i < block.count; i++) {
      const address = block.address + i;
      if (address < start || address >= start + count) continue;
      out.setUint16(2 + written * 2, registers[i] as number);
      written++;
    }
  }
  return response;
}

function writeSingle(view: DataView, actor: Actor, ctx: RequestContext, deps: ModbusDeps): Uint8Array {
  if (view.byteLength !== 5) return exception(0x06, EXCEPTION.ILLEGAL_DATA_VALUE);
  const address = view.getUint16(1);
  const value = view.getUint16(3);
  const refused = applyWrites(address, [value], actor, ctx, deps);
  if (refused !== null) return exception(0x06, refused);
  return new Uint8Array(view.buffer, view.byteOffset, 5).slice();
}

function writeMultiple(view: DataView, actor: Actor, ctx: RequestContext, deps: ModbusDeps): Uint8Array {
  if (view.byteLength < 6) return exception(0x10, EXCEPTION.ILLEGAL_DATA_VALUE);
  const start = view.getUint16(1);
  const count = view.getUint16(3);
  const byteCount = view.getUint8(5);
  if (count < 1 || count > MAX_WRITE || byteCount !== count * 2 || view.byteLength !== 6 + byteCount) {
    return exception(0x10, EXCEPTION.ILLEGAL_DATA_VALUE);
  }
  const values = Array.from({ length: count }, (_, i) => view.getUint16(6 + i * 2));
  const refused = applyWrites(start, values, actor, ctx, deps);
  if (refused !== null) return exception(0x10, refused);
  const response = new Uint8Array(5);
  response[0] = 0x10;
  new DataView(response.buffer).setUint16(1, start);
  new DataView(response.buffer).setUint16(3, count);
  return response;
}

/**
 * Checks a write of `values` at `start` completely (mapped, whole blocks, permitted, in range), then
 * performs it: configuration changes as one commit, commands in order. Returns an exception code, or
 * null when done.
 */
function applyWrites(
  start: number,
  values: readonly number[],
  actor: Actor,
  ctx: RequestContext,
  deps: ModbusDeps,
): number | null {
  const blocks = blocksCovering(deps.map, start, values.length);
  if (typeof blocks === 'number') return blocks;
  const forbidden = blocks.find((block) => !allowed(actor, block.write, ctx));
  if (forbidden) {
    deps.onWriteDenied?.(
      actor,
      ctx,
      `write ${start}+${values.length} needs ${forbidden.write ?? 'a writable register'}`,
    );
    return EXCEPTION.ILLEGAL_FUNCTION;
  }
  const first = blocks[0] as RegisterBlock;
  const last = blocks.at(-1) as RegisterBlock;
  // A write must cover whole blocks: half a float is not a value.
  if (first.address !== start || last.address + last.count !== start + values.length)
    return EXCEPTION.ILLEGAL_DATA_ADDRESS;

  const wordOrder = deps.metering.config.wordOrder;
  const actions: WriteAction[] = [];
  for (const block of blocks) {
    const offset = block.address - start;
    const value = decodeBlock(block, values.slice(offset, offset + block.count), wordOrder);
    if (
      !Number.isFinite(value) ||
      !block.range ||
      value < block.range.min ||
      value > block.range.max ||
      !block.onWrite
    ) {
      return EXCEPTION.ILLEGAL_DATA_VALUE;
    }
    actions.push(block.onWrite(value));
  }
  const patch: Partial<DeviceConfig> = Object.assign(
    {},
    ...actions.map((a) => (a.kind === 'config' ? a.patch : {})),
  );
  if (Object.keys(patch).length > 0) deps.metering.updateConfig(actor, patch, ctx);
  for (const action of actions) {
    if (action.kind !== 'command') continue;
    if (action.command === 'meters.reset') deps.metering.resetMeters(actor, ctx);
    else deps.metering.resetMinMax(actor, ctx);
  }
  return null;
}

/** FC 43 / MEI 14, basic objects: vendor name, product code, revision. Public, like registers 500–515. */
function readDeviceIdentification(view: DataView, deps: ModbusDeps): Uint8Array {
  // Another MEI type (13: CANopen) is a function this device does not have; a bad length a bad value.
  if (view.byteLength < 2 || view.getUint8(1) !== 0x0e) return exception(0x2b, EXCEPTION.ILLEGAL_FUNCTION);
  if (view.byteLength !== 4) return exception(0x2b, EXCEPTION.ILLEGAL_DATA_VALUE);
  const code = view.getUint8(2);
  const objectId = view.getUint8(3);
  if (code < 1 || code > 4) return exception(0x2b, EXCEPTION.ILLEGAL_DATA_VALUE);
  const objects = [deps.vendorName, deps.productCode, deps.firmwareVersion].map((text) =>
    new TextEncoder().encode(text),
  );
  let ids = [0, 1, 2];
  if (code === 4) {
    if (objectId > 2) return exception(0x2b, EXCEPTION.ILLEGAL_DATA_ADDRESS);
    ids = [objectId];
  } else if (objectId > 2) {
    ids = [0, 1, 2];
  } else {
    ids = ids.filter((id) => id >= objectId);
  }
  const body = ids.flatMap((id) => [id, (objects[id] as Uint8Array).length, ...(objects[id] as Uint8Array)]);
  // Conformity 0x81: basic objects, by stream (codes 1–3) and individually (code 4).
  return Uint8Array.of(0x2b, 0x0e, code, 0x81, 0x00, 0x00, ids.length, ...body);
}

/**
 * Reads each part of the device state only if a block of the request needs it, through the metering
 * service's checked readers (the blocks were decided already; the service decides again for itself).
 * A class rather than an object of getters and closures: one small allocation per request (issue 18).
 */
class LazySnapshot implements RegisterSnapshot {
  private measured?: RegisterSnapshot['measurements'];
  private metered?: RegisterSnapshot['meters'];
  private extremes?: RegisterSnapshot['minMax'];

  constructor(
    private readonly actor: Actor,
    private readonly ctx: RequestContext,
    private readonly deps: ModbusDeps,
  ) {}

  get measurements() {
    this.measured ??= this.deps.metering.measurements(this.actor, this.ctx);
    return this.measured;
  }
  get meters() {
    this.metered ??= this.deps.metering.meters(this.actor, this.ctx);
    return this.metered;
  }
  get minMax() {
    this.extremes ??= this.deps.metering.minMax(this.actor, this.ctx);
    return this.extremes;
  }
  get config() {
    return this.deps.metering.config;
  }
  get serialNumber() {
    return this.deps.serialNumber;
  }
  get firmwareVersion() {
    return this.deps.firmwareVersion;
  }
}
