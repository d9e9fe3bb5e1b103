/**
 * Validation of security settings before they are stored: ranges of the lockout and password policy,
 * the Modbus principals, and the client whitelist's addresses and CIDR ranges. Errors name the field.
 *
 * A change is checked against the settings it replaces: only what it changes is validated. A stored
 * setting that today's rules would refuse (a record from an older firmware, a rule made stricter)
 * must not block every other change, least of all the display's physical-presence recovery.
 */
import { isIP } from 'node:net';
import { CoreError } from './core-error.ts';
import { HTTP_MODES, type SecuritySettings } from './security-settings.ts';
import { isSlotNumber, LOCALGUI_SLOT } from './slots.ts';
import { slotOfEntry, type UserTable } from './user-table.ts';

/** The Modbus principals as stored (entry identities) and as interfaces name them (slots). */
export const PRINCIPAL_FIELDS = [
  { stored: 'modbusPrincipal', field: 'communication.modbusSlot' },
  { stored: 'rtuPrincipal', field: 'communication.rtuSlot' },
] as const;

export const MAX_WHITELIST_ENTRIES = 16;
/** Keeps the deny list within the security record's one erase block (66 bytes a fingerprint). */
export const MAX_DENIED_CERTIFICATES = 8;
export const MAX_HOSTNAMES = 8;
/** Keeps 8 names within the security record's one erase block beside a full table and whitelist. */
export const MAX_HOSTNAME_LENGTH = 100;
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const FINGERPRINT = /^(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/;

/**
 * Throws `invalid-setting` naming the first wrong field of `settings`. With `previous` (the settings
 * the change replaces), only the parts that differ from it are checked; without, everything is.
 */
export function validateSecuritySettings(
  settings: SecuritySettings,
  table: UserTable,
  previous?: SecuritySettings,
): SecuritySettings {
  const fail = (field: string, message: string): never => {
    throw new CoreError('invalid-setting', `${field}: ${message}`, { field });
  };
  const int = (field: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      fail(field, `must be a whole number from ${min} to ${max}`);
  };
  const changed = (part: (s: SecuritySettings) => unknown) =>
    previous === undefined || JSON.stringify(part(settings)) !== JSON.stringify(part(previous));
  if (changed((s) => s.passwordMinLength)) int('passwordMinLength', settings.passwordMinLength, 8, 64);
  const { lockout } = settings;
  if (changed((s) => s.lockout)) {
    int('lockout.delayAfterFailures', lockout.delayAfterFailures, 1, 100);
    int('lockout.baseDelayMs', lockout.baseDelayMs, 0, 60_000);
    int('lockout.lockAfterFailures', lockout.lockAfterFailures, lockout.delayAfterFailures, 100);
    int('lockout.lockSeconds', lockout.lockSeconds, 1, 86_400);
    int('lockout.accountLockAfterFailures', lockout.accountLockAfterFailures, 1, 100);
  }
  for (const { stored, field } of PRINCIPAL_FIELDS) {
    if (!changed((s) => s.communication[stored])) continue;
    const slot = slotOfEntry(table, settings.communication[stored]);
    if (slot === null) fail(field, 'must name an occupied slot 0–7');
    else principalProblem(table, slot, field);
  }
  if (changed((s) => s.whitelist)) {
    if (settings.whitelist.length > MAX_WHITELIST_ENTRIES) {
      fail('whitelist', `at most ${MAX_WHITELIST_ENTRIES} entries`);
    }
    settings.whitelist.forEach((entry, i) => {
      if (parseWhitelistEntry(entry) === null)
        fail(`whitelist[${i}]`, `'${entry}' is not an IPv4/IPv6 address or CIDR range`);
    });
  }
  if (changed((s) => s.http) && !HTTP_MODES.includes(settings.http))
    fail('http', "must be 'on', 'redirect' or 'off'");
  if (changed((s) => s.hostnames)) {
    if (settings.hostnames.length > MAX_HOSTNAMES) fail('hostnames', `at most ${MAX_HOSTNAMES} names`);
    settings.hostnames.forEach((name, i) => {
      if (name.length > MAX_HOSTNAME_LENGTH || (!isIP(name) && !HOST_NAME.test(name)))
        fail(
          `hostnames[${i}]`,
          `'${name}' is not a host name (letters, digits, '-' and '.', at most ${MAX_HOSTNAME_LENGTH}) or an IP address`,
        );
    });
  }
  if (changed((s) => s.deniedCertificates)) {
    if (settings.deniedCertificates.length > MAX_DENIED_CERTIFICATES)
      fail(
        'deniedCertificates',
        `at most ${MAX_DENIED_CERTIFICATES} fingerprints (use the client CA's CRL for more)`,
      );
    settings.deniedCertificates.forEach((entry, i) => {
      if (typeof entry !== 'string' || !FINGERPRINT.test(entry))
        fail(
          `deniedCertificates[${i}]`,
          `'${String(entry).slice(0, 100)}' is not a SHA-256 fingerprint: 32 hex bytes, colons optional`,
        );
    });
  }
  const { syslog } = settings;
  if (changed((s) => s.syslog)) {
    if (!['off', 'udp', 'tls'].includes(syslog.transport))
      fail('syslog.transport', "must be 'off', 'udp' or 'tls'");
    if (syslog.transport !== 'off') {
      if (!isIP(syslog.host) && !HOST_NAME.test(syslog.host))
        fail('syslog.host', 'must be an IP address or a host name');
      int('syslog.port', syslog.port, 1, 65535);
    }
    if (syslog.fingerprint !== null && !FINGERPRINT.test(syslog.fingerprint))
      fail('syslog.fingerprint', 'must be a SHA-256 fingerprint: 32 hex bytes, colons optional');
    if (syslog.transport === 'tls' && syslog.fingerprint === null)
      fail('syslog.fingerprint', "is needed for 'tls': the collector certificate's SHA-256 fingerprint");
  }
  const normalized = [...new Set(settings.deniedCertificates.map(normalizeFingerprint))];
  const unchanged =
    normalized.length === settings.deniedCertificates.length &&
    normalized.every((fingerprint, i) => fingerprint === settings.deniedCertificates[i]);
  return unchanged ? settings : { ...settings, deniedCertificates: normalized };
}

/** A SHA-256 fingerprint as the deny list stores it: 64 upper-case hex digits, no colons. */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replaceAll(':', '').toUpperCase();
}

/** The stored form as people read it (and Node's `fingerprint256`): colon-separated pairs. */
export function displayFingerprint(fingerprint: string): string {
  return fingerprint.match(/../g)?.join(':') ?? fingerprint;
}

/**
 * The identity of the entry in `slot`, for a Modbus principal set by slot (`field` names the setting
 * in errors). Refused: no slot 0–7, an empty slot, localgui and a local-only user (they act at the
 * display only).
 */
export function principalAt(table: UserTable, slot: number, field: string): number {
  const id = isSlotNumber(slot) ? table.ids[slot] : null;
  if (!isSlotNumber(slot) || !table.slots[slot] || id === null || id === undefined) {
    throw new CoreError('invalid-setting', `${field}: must name an occupied slot 0–7`, { field });
  }
  principalProblem(table, slot, field);
  return id;
}

function principalProblem(table: UserTable, slot: number, field: string): void {
  const entry = table.slots[slot];
  // localgui's rights are what the display allows without login: a person standing at the meter.
  if (slot === LOCALGUI_SLOT) {
    throw new CoreError(
      'invalid-setting',
      `${field}: localgui (slot 1) is what the display may do without login, never a Modbus principal`,
      { field },
    );
  }
  if (entry?.type === 'user' && entry.localOnly) {
    throw new CoreError(
      'invalid-setting',
      `${field}: '${entry.name}' (slot ${slot}) is local-only: it acts at the display only, never over Modbus`,
      { field },
    );
  }
}

export const HTTP_MODE_RULE = "must be 'on', 'redirect' or 'off'";

/** Why `name` cannot be one of the device's configured host names, or null when it can. */
export function hostnameProblem(name: string): string | null {
  return name.length > MAX_HOSTNAME_LENGTH || (!isIP(name) && !HOST_NAME.test(name))
    ? `'${name}' is not a host name (letters, digits, '-' and '.', at most ${MAX_HOSTNAME_LENGTH}) or an IP address`
    : null;
}

/** `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`; null when malformed. */
export function parseWhitelistEntry(
  entry: string,
): { address: string; family: 4 | 6; prefix: number } | null {
  const match = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(entry);
  if (!match) return null;
  const address = match[1] as string;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return null;
  const max = family === 4 ? 32 : 128;
  const prefix = match[2] === undefined ? max : Number(match[2]);
  if (prefix > max) return null;
  return { address, family, prefix };
}
