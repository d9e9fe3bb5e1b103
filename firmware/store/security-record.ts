/**
 * The security record's payload: the user table and the security settings as compact CBOR-ready data,
 * and back. Decoding validates every field, so an authenticated record of an unexpected shape (a newer
 * format, a bug) is refused instead of crashing the device deep inside.
 */
import type { PasswordVerifier } from '../core/password-verifier-record.ts';
import {
  isPresetName,
  normalizePermissions,
  ROLE_TEMPLATES,
  type RoleName,
} from '../core/permission-table.ts';
import { DEFAULT_SECURITY_SETTINGS, HTTP_MODES, type SecuritySettings } from '../core/security-settings.ts';
import { ANONYMOUS_SLOT, SLOT_COUNT } from '../core/slots.ts';
import type { SlotEntry, UserTable } from '../core/user-table.ts';

export const SECURITY_RECORD_KIND = 1;
/**
 * 2: every entry carries its identity (`d`), the table the next one (`ni`), and the Modbus principals
 * name identities (`modbusPrincipal`, `rtuPrincipal`) instead of slots. Version 1 is read by migration.
 */
export const SECURITY_PAYLOAD_VERSION = 2;

export interface SecurityState {
  readonly table: UserTable;
  readonly settings: SecuritySettings;
}

const TYPE_USER = 0;
const TYPE_API_KEY = 1;
const TYPE_STANDARD = 2;
const FLAG_LOCAL_ONLY = 1 << 0;
const FLAG_MUST_CHANGE_PASSWORD = 1 << 1;
/** A disabled user or API key (an API key's `f` holds only this bit; records from before it have none). */
const FLAG_DISABLED = 1 << 2;

export class RecordShapeError extends Error {
  override readonly name = 'RecordShapeError';
}

export function encodeSecurityState(state: SecurityState): unknown {
  return {
    v: SECURITY_PAYLOAD_VERSION,
    s: state.table.slots.map((entry, slot) => encodeEntry(entry, state.table.ids[slot] ?? null)),
    e: [...state.table.epochs],
    ni: state.table.nextId,
    c: state.settings,
  };
}

function encodeEntry(entry: SlotEntry | null, id: number | null): unknown {
  if (!entry) return null;
  return { ...encodeFields(entry), d: id };
}

function encodeFields(entry: SlotEntry): Record<string, unknown> {
  switch (entry.type) {
    case 'user':
      return {
        t: TYPE_USER,
        n: entry.name,
        p: entry.permissions,
        f:
          (entry.localOnly ? FLAG_LOCAL_ONLY : 0) |
          (entry.mustChangePassword ? FLAG_MUST_CHANGE_PASSWORD : 0) |
          (entry.disabled ? FLAG_DISABLED : 0),
        ...(entry.role !== undefined && { o: entry.role }),
        i: entry.verifier.iterations,
        a: entry.verifier.salt,
        k: entry.verifier.publicKey,
      };
    case 'api-key':
      return {
        t: TYPE_API_KEY,
        n: entry.name,
        p: entry.permissions,
        r: entry.preset,
        h: entry.keyHash,
        c: entry.createdAt,
        ...(entry.disabled && { f: FLAG_DISABLED }),
      };
    case 'standard':
      return { t: TYPE_STANDARD, n: entry.name, p: entry.permissions };
  }
}

/** Throws RecordShapeError naming the first field that is wrong. */
export function decodeSecurityState(payload: unknown): SecurityState {
  const record = object(payload, 'record');
  if (record.v !== 1 && record.v !== SECURITY_PAYLOAD_VERSION)
    throw new RecordShapeError(`unsupported record version ${String(record.v)}`);
  const raw = array(record.s, 's', SLOT_COUNT);
  const slots = raw.map((entry, slot) => decodeEntry(entry, slot));
  const epochs = array(record.e, 'e', SLOT_COUNT).map((epoch, slot) => uint(epoch, `e[${slot}]`));
  if (record.v === 1) return migrateV1(slots, epochs, record.c);
  const ids = raw.map((entry, slot) =>
    entry === null ? null : uint(object(entry, `s[${slot}]`).d, `s[${slot}].d`),
  );
  const nextId = uint(record.ni, 'ni');
  ids.forEach((id, slot) => {
    if (id === null) return;
    if (id >= nextId) throw new RecordShapeError(`s[${slot}].d: identity ${id} is not below ni ${nextId}`);
    if (ids.indexOf(id) !== slot) throw new RecordShapeError(`s[${slot}].d: identity ${id} is used twice`);
  });
  const settings = decodeSettings(record.c);
  const { communication } = settings;
  uint(communication.modbusPrincipal, 'c.communication.modbusPrincipal');
  uint(communication.rtuPrincipal, 'c.communication.rtuPrincipal');
  return { table: { slots, epochs, ids, nextId }, settings };
}

/**
 * Version 1 had no identities: each entry gets its slot number (new entries then count from
 * SLOT_COUNT, so none is reused), and a principal slot becomes that entry's identity, or `anonymous`
 * when the slot is empty (a v1 device whose principal was deleted: the next entry there would have
 * inherited the role).
 */
function migrateV1(slots: (SlotEntry | null)[], epochs: number[], c: unknown): SecurityState {
  const ids = slots.map((entry, slot) => (entry ? slot : null));
  const v1 = object(object(c, 'c').communication ?? {}, 'c.communication');
  const principal = (value: unknown, at: string): number => {
    const slot = uint(value ?? ANONYMOUS_SLOT, at);
    return slot < SLOT_COUNT && slots[slot] ? slot : ANONYMOUS_SLOT;
  };
  const modbusPrincipal = principal(v1.modbusSlot, 'c.communication.modbusSlot');
  const rtuPrincipal = principal(v1.rtuSlot, 'c.communication.rtuSlot');
  const settings = decodeSettings(c);
  return {
    table: { slots, epochs, ids, nextId: SLOT_COUNT },
    settings: { ...settings, communication: { ...settings.communication, modbusPrincipal, rtuPrincipal } },
  };
}

function decodeEntry(value: unknown, slot: number): SlotEntry | null {
  if (value === null) return null;
  const at = `s[${slot}]`;
  const entry = object(value, at);
  const name = string(entry.n, `${at}.n`);
  const permissions = normalizePermissions(uint(entry.p, `${at}.p`));
  switch (entry.t) {
    case TYPE_USER: {
      const flags = uint(entry.f, `${at}.f`);
      const verifier: PasswordVerifier = {
        kdf: 'pbkdf2-sha256',
        iterations: uint(entry.i, `${at}.i`),
        salt: bytes(entry.a, `${at}.a`, 16),
        publicKey: bytes(entry.k, `${at}.k`, 32),
      };
      return {
        type: 'user',
        name,
        permissions,
        verifier,
        localOnly: (flags & FLAG_LOCAL_ONLY) !== 0,
        mustChangePassword: (flags & FLAG_MUST_CHANGE_PASSWORD) !== 0,
        ...(entry.o !== undefined && { role: roleName(entry.o, `${at}.o`) }),
        ...((flags & FLAG_DISABLED) !== 0 && { disabled: true as const }),
      };
    }
    case TYPE_API_KEY: {
      const preset = string(entry.r, `${at}.r`);
      if (!isPresetName(preset)) throw new RecordShapeError(`${at}.r: unknown preset '${preset}'`);
      return {
        type: 'api-key',
        name,
        permissions,
        preset,
        keyHash: bytes(entry.h, `${at}.h`, 32),
        createdAt: uint(entry.c, `${at}.c`),
        ...(entry.f !== undefined &&
          (uint(entry.f, `${at}.f`) & FLAG_DISABLED) !== 0 && { disabled: true as const }),
      };
    }
    case TYPE_STANDARD:
      return { type: 'standard', name, permissions };
    default:
      throw new RecordShapeError(`${at}.t: unknown entry type ${String(entry.t)}`);
  }
}

/** A user's role of origin (`o`, optional: records from before it was kept have none). */
function roleName(value: unknown, at: string): RoleName {
  const name = string(value, at);
  if (!Object.hasOwn(ROLE_TEMPLATES, name)) throw new RecordShapeError(`${at}: unknown role '${name}'`);
  return name as RoleName;
}

/** Settings are merged over the defaults, so a record from before a setting existed still loads. */
function decodeSettings(value: unknown): SecuritySettings {
  const settings = object(value, 'c');
  const merged = { ...DEFAULT_SECURITY_SETTINGS, ...settings } as SecuritySettings;
  return {
    passwordMinLength: uint(merged.passwordMinLength, 'c.passwordMinLength'),
    lockout: { ...DEFAULT_SECURITY_SETTINGS.lockout, ...object(merged.lockout, 'c.lockout') },
    communication: withoutV1Slots({
      ...DEFAULT_SECURITY_SETTINGS.communication,
      ...object(merged.communication, 'c.communication'),
    }),
    whitelist: array(merged.whitelist, 'c.whitelist').map((entry, i) => string(entry, `c.whitelist[${i}]`)),
    tls: merged.tls === 'uploaded' ? 'uploaded' : 'self-signed',
    syslog: { ...DEFAULT_SECURITY_SETTINGS.syslog, ...object(merged.syslog, 'c.syslog') },
    http: HTTP_MODES.includes(merged.http) ? merged.http : 'on',
    hostnames: array(merged.hostnames, 'c.hostnames').map((name, i) => string(name, `c.hostnames[${i}]`)),
    deniedCertificates: array(merged.deniedCertificates, 'c.deniedCertificates').map((fingerprint, i) =>
      string(fingerprint, `c.deniedCertificates[${i}]`),
    ),
  };
}

/** Version 1's `modbusSlot`/`rtuSlot` are not settings any more (migrateV1 reads them). */
function withoutV1Slots(communication: Record<string, unknown>): SecuritySettings['communication'] {
  const { modbusSlot: _modbusSlot, rtuSlot: _rtuSlot, ...rest } = communication;
  return rest as unknown as SecuritySettings['communication'];
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new RecordShapeError(`${at}: expected a map`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, at: string, length?: number): unknown[] {
  if (!Array.isArray(value)) throw new RecordShapeError(`${at}: expected an array`);
  if (length !== undefined && value.length !== length) {
    throw new RecordShapeError(`${at}: expected ${length} entries, found ${value.length}`);
  }
  return value;
}

function string(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new RecordShapeError(`${at}: expected a string`);
  return value;
}

function uint(value: unknown, at: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new RecordShapeError(`${at}: expected a non-negative integer`);
  }
  return value as number;
}

function bytes(value: unknown, at: string, length: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new RecordShapeError(`${at}: expected ${length} bytes`);
  }
  return new Uint8Array(value);
}
