/**
 * The security record's payload: the user table and the security settings as compact CBOR-ready data,
 * and back. Decoding validates every field, so an authenticated record of an unexpected shape (a newer
 * format, a bug) is refused instead of crashing the device deep inside.
 */
import type { PasswordVerifier } from '../auth/password-verifier.ts';
import { isPresetName, normalizePermissions } from '../core/permission-table.ts';
import { DEFAULT_SECURITY_SETTINGS, HTTP_MODES, type SecuritySettings } from '../core/security-settings.ts';
import { SLOT_COUNT } from '../core/slots.ts';
import type { SlotEntry, UserTable } from '../core/user-table.ts';

export const SECURITY_RECORD_KIND = 1;
export const SECURITY_PAYLOAD_VERSION = 1;

export interface SecurityState {
  readonly table: UserTable;
  readonly settings: SecuritySettings;
}

const TYPE_USER = 0;
const TYPE_API_KEY = 1;
const TYPE_STANDARD = 2;
const FLAG_LOCAL_ONLY = 1 << 0;
const FLAG_MUST_CHANGE_PASSWORD = 1 << 1;

export class RecordShapeError extends Error {
  override readonly name = 'RecordShapeError';
}

export function encodeSecurityState(state: SecurityState): unknown {
  return {
    v: SECURITY_PAYLOAD_VERSION,
    s: state.table.slots.map(encodeEntry),
    e: [...state.table.epochs],
    c: state.settings,
  };
}

function encodeEntry(entry: SlotEntry | null): unknown {
  if (!entry) return null;
  switch (entry.type) {
    case 'user':
      return {
        t: TYPE_USER,
        n: entry.name,
        p: entry.permissions,
        f:
          (entry.localOnly ? FLAG_LOCAL_ONLY : 0) |
          (entry.mustChangePassword ? FLAG_MUST_CHANGE_PASSWORD : 0),
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
      };
    case 'standard':
      return { t: TYPE_STANDARD, n: entry.name, p: entry.permissions };
  }
}

/** Throws RecordShapeError naming the first field that is wrong. */
export function decodeSecurityState(payload: unknown): SecurityState {
  const record = object(payload, 'record');
  if (record.v !== SECURITY_PAYLOAD_VERSION)
    throw new RecordShapeError(`unsupported record version ${String(record.v)}`);
  const slots = array(record.s, 's', SLOT_COUNT).map((entry, slot) => decodeEntry(entry, slot));
  const epochs = array(record.e, 'e', SLOT_COUNT).map((epoch, slot) => uint(epoch, `e[${slot}]`));
  return { table: { slots, epochs }, settings: decodeSettings(record.c) };
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
      };
    }
    case TYPE_STANDARD:
      return { type: 'standard', name, permissions };
    default:
      throw new RecordShapeError(`${at}.t: unknown entry type ${String(entry.t)}`);
  }
}

/** Settings are merged over the defaults, so a record from before a setting existed still loads. */
function decodeSettings(value: unknown): SecuritySettings {
  const settings = object(value, 'c');
  const merged = { ...DEFAULT_SECURITY_SETTINGS, ...settings } as SecuritySettings;
  return {
    passwordMinLength: uint(merged.passwordMinLength, 'c.passwordMinLength'),
    lockout: { ...DEFAULT_SECURITY_SETTINGS.lockout, ...object(merged.lockout, 'c.lockout') },
    communication: {
      ...DEFAULT_SECURITY_SETTINGS.communication,
      ...object(merged.communication, 'c.communication'),
    },
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
