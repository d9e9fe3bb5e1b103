/**
 * The 8-slot user table (DESIGN §2) as plain data and pure operations.
 *
 * Every operation takes the acting principal, decides through `authorize` (the one gate), checks the
 * table's invariants and returns a new table; nothing here touches flash, sockets or clocks. Password
 * verifiers and API-key hashes arrive already derived: the costly KDF runs in the caller, off the event
 * loop. Each slot carries an epoch that moves whenever its credentials or rights change, so a session
 * bound to (slot, epoch) dies with the change.
 */
import type { PasswordVerifier } from '../auth/password-verifier.ts';
import { CoreError } from './core-error.ts';
import {
  ALL_PERMISSIONS,
  hasPermission,
  normalizePermissions,
  type PermissionName,
  type PermissionSet,
  PRESETS,
  type PresetName,
  permissionBit,
  permissionNames,
  SECURITY_WRITE,
} from './permission-table.ts';
import { ADMIN_SLOT, ANONYMOUS_SLOT, FIRST_DEFINABLE_SLOT, LOCALGUI_SLOT, SLOT_COUNT } from './slots.ts';
import { checkUsername } from './username-rules.ts';

export interface UserEntry {
  readonly type: 'user';
  readonly name: string;
  readonly permissions: PermissionSet;
  readonly verifier: PasswordVerifier;
  /** May log in at the local display only, never over the network. */
  readonly localOnly: boolean;
  /** Every session of this user may do nothing but set a new password. */
  readonly mustChangePassword: boolean;
}

export interface ApiKeyEntry {
  readonly type: 'api-key';
  /** A label, under the username rules, so the key can be told apart and revoked by name. */
  readonly name: string;
  readonly permissions: PermissionSet;
  readonly preset: PresetName;
  /** SHA-256 of the key; the key itself is shown once and never stored. */
  readonly keyHash: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

/** `localgui` and `anonymous`: no credentials, editable rights. */
export interface StandardEntry {
  readonly type: 'standard';
  readonly name: string;
  readonly permissions: PermissionSet;
}

export type SlotEntry = UserEntry | ApiKeyEntry | StandardEntry;

export interface UserTable {
  readonly slots: readonly (SlotEntry | null)[];
  /** Per slot, bumped on every change of that slot's credentials, rights or occupant. */
  readonly epochs: readonly number[];
}

/**
 * Who is acting and what it may do right now: an entry of the table (its slot), or, for a Modbus/TCP
 * Security client certificate, an IEC 62351-8 role template that no entry stands behind (`slot` null,
 * `role` the template's name).
 */
export interface Actor {
  readonly slot: number | null;
  /** The role template acted as (certificate principals only). */
  readonly role?: string;
  readonly permissions: PermissionSet;
  readonly mustChangePassword: boolean;
}

/** An actor that is an entry of the table (every principal but a Modbus/TLS certificate's). */
export interface EntryActor extends Actor {
  readonly slot: number;
}

/** Who an event names: the slot of an entry, or the role of a certificate. */
export function actorFields(actor: Actor): { slot?: number; role?: string } {
  return actor.slot === null ? { role: actor.role } : { slot: actor.slot };
}

export const LOCALGUI_DEFAULT = permissionsOf('measurements.read', 'meters.read', 'config.read');
export const ANONYMOUS_DEFAULT = permissionsOf('measurements.read', 'meters.read');

/** The factory table: admin (must change its password), localgui, anonymous, five empty slots. */
export function createDefaultTable(adminVerifier: PasswordVerifier): UserTable {
  const slots: (SlotEntry | null)[] = new Array(SLOT_COUNT).fill(null);
  slots[ADMIN_SLOT] = {
    type: 'user',
    name: 'admin',
    permissions: ALL_PERMISSIONS,
    verifier: adminVerifier,
    localOnly: false,
    mustChangePassword: true,
  };
  slots[LOCALGUI_SLOT] = { type: 'standard', name: 'localgui', permissions: LOCALGUI_DEFAULT };
  slots[ANONYMOUS_SLOT] = { type: 'standard', name: 'anonymous', permissions: ANONYMOUS_DEFAULT };
  return { slots, epochs: new Array(SLOT_COUNT).fill(0) };
}

/** The principal a slot acts as. Throws `not-found` for an empty slot. */
export function actorFor(table: UserTable, slot: number): EntryActor {
  const entry = entryAt(table, slot);
  return {
    slot,
    permissions: effectivePermissions(table, slot),
    mustChangePassword: entry.type === 'user' && entry.mustChangePassword,
  };
}

/**
 * What a slot may do: the admin (a user in slot 0) always everything; others their stored set,
 * normalized. Anything else found in slot 0 (a hand-made image, a bug) gets only its own set.
 */
export function effectivePermissions(table: UserTable, slot: number): PermissionSet {
  const entry = table.slots[slot];
  if (!entry) return 0;
  if (slot === ADMIN_SLOT && entry.type === 'user') return ALL_PERMISSIONS;
  return normalizePermissions(entry.permissions);
}

/**
 * The gate: throws unless `actor` holds `permission`. A principal that must change its password holds
 * nothing until it has (ETSI EN 303 645 5.1-1).
 */
export function authorize(actor: Actor, permission: PermissionName): void {
  if (actor.mustChangePassword) {
    throw new CoreError(
      'password-change-required',
      'set a new password first: the default password may do nothing else',
      {
        permission,
      },
    );
  }
  if (!hasPermission(actor.permissions, permissionBit(permission))) {
    throw new CoreError('permission-denied', `permission '${permission}' is required`, { permission });
  }
}

export function findSlotByName(table: UserTable, name: string): number | null {
  const slot = table.slots.findIndex((entry) => entry?.name === name);
  return slot < 0 ? null : slot;
}

export interface NewUser {
  readonly name: string;
  readonly verifier: PasswordVerifier;
  readonly permissions: PermissionSet;
  readonly localOnly?: boolean;
  readonly mustChangePassword?: boolean;
}

/** Adds a user in the first free slot of 3–7. Needs security.write. */
export function addUser(table: UserTable, actor: Actor, user: NewUser): { table: UserTable; slot: number } {
  authorize(actor, 'security.write');
  const name = checkUsername(user.name);
  return place(table, name, {
    type: 'user',
    name,
    permissions: normalizePermissions(user.permissions),
    verifier: user.verifier,
    localOnly: user.localOnly ?? false,
    mustChangePassword: user.mustChangePassword ?? false,
  });
}

export interface NewApiKey {
  readonly name: string;
  readonly preset: PresetName;
  readonly keyHash: Uint8Array;
  readonly createdAt: number;
}

/** Adds an API key in the first free slot of 3–7. Needs security.write. */
export function addApiKey(
  table: UserTable,
  actor: Actor,
  key: NewApiKey,
): { table: UserTable; slot: number } {
  authorize(actor, 'security.write');
  const name = checkUsername(key.name);
  if (!Object.hasOwn(PRESETS, key.preset)) {
    throw new CoreError('unknown-preset', `unknown preset '${key.preset}'`, {
      field: 'preset',
      known: Object.keys(PRESETS),
    });
  }
  return place(table, name, {
    type: 'api-key',
    name,
    permissions: PRESETS[key.preset],
    preset: key.preset,
    keyHash: key.keyHash,
    createdAt: key.createdAt,
  });
}

/** Deletes a user or API key (slots 3–7). Needs security.write. */
export function removeEntry(table: UserTable, actor: Actor, slot: number): UserTable {
  authorize(actor, 'security.write');
  definableEntryAt(table, slot, 'deleted');
  return replace(table, slot, null);
}

/** Renames a user or API key, admin included. Needs security.write. */
export function renameEntry(table: UserTable, actor: Actor, slot: number, newName: string): UserTable {
  authorize(actor, 'security.write');
  const entry = entryAt(table, slot);
  if (entry.type === 'standard') {
    throw new CoreError('protected-slot', `'${entry.name}' is a standard user and keeps its name`, { slot });
  }
  const name = checkUsername(newName);
  const holder = findSlotByName(table, name);
  if (holder !== null && holder !== slot) {
    throw new CoreError('name-taken', `the name '${name}' is already used by slot ${holder}`, {
      field: 'name',
    });
  }
  return replace(table, slot, { ...entry, name });
}

/**
 * Sets a user's password verifier. A user changes its own password (no permission needed, even in the
 * must-change state) only when the caller has verified the current one; anyone else's needs
 * security.write. Changing one's own clears must-change-password; setting another's sets it as asked.
 */
export function setPassword(
  table: UserTable,
  actor: Actor,
  slot: number,
  verifier: PasswordVerifier,
  options: { readonly currentPasswordVerified: boolean; readonly mustChangePassword?: boolean },
): UserTable {
  // Rights first: a caller without them learns nothing about which slots exist.
  if (actor.slot !== slot) authorize(actor, 'security.write');
  const entry = entryAt(table, slot);
  if (entry.type !== 'user') {
    throw new CoreError('wrong-entry-type', `slot ${slot} ('${entry.name}') has no password`, { slot });
  }
  if (actor.slot === slot) {
    if (!options.currentPasswordVerified) {
      throw new CoreError('wrong-password', 'the current password is wrong', { field: 'currentPassword' });
    }
    return replace(table, slot, { ...entry, verifier, mustChangePassword: false });
  }
  authorize(actor, 'security.write');
  return replace(table, slot, {
    ...entry,
    verifier,
    mustChangePassword: options.mustChangePassword ?? false,
  });
}

/**
 * Sets the rights of a user, of `localgui`/`anonymous`, or (as a preset) of an API key. Needs
 * security.write. The admin cannot be demoted, and a standard user (no credentials) never gets
 * security.write: that would hand the device to anyone at the display or on the network.
 */
export function setPermissions(
  table: UserTable,
  actor: Actor,
  slot: number,
  permissions: PermissionSet,
): UserTable {
  authorize(actor, 'security.write');
  const entry = entryAt(table, slot);
  const set = normalizePermissions(permissions);
  if (slot === ADMIN_SLOT) {
    if (set === ALL_PERMISSIONS) return table;
    throw new CoreError('protected-slot', 'the admin keeps every permission and cannot be demoted', { slot });
  }
  if (entry.type === 'standard' && (set & SECURITY_WRITE) !== 0) {
    throw new CoreError(
      'invalid-setting',
      `'${entry.name}' has no credentials and cannot be given security.write`,
      { field: 'permissions', permission: 'security.write', slot },
    );
  }
  if (entry.type === 'api-key') {
    const preset = (Object.keys(PRESETS) as PresetName[]).find((name) => PRESETS[name] === set);
    if (!preset) {
      throw new CoreError('invalid-setting', 'an API key takes the permissions of a preset', {
        field: 'permissions',
        known: Object.keys(PRESETS),
        slot,
      });
    }
    return replace(table, slot, { ...entry, permissions: set, preset });
  }
  return replace(table, slot, { ...entry, permissions: set });
}

/** Restricts a user to local operation (or lifts it). Needs security.write. */
export function setLocalOnly(table: UserTable, actor: Actor, slot: number, localOnly: boolean): UserTable {
  authorize(actor, 'security.write');
  const entry = entryAt(table, slot);
  if (entry.type !== 'user') {
    throw new CoreError('wrong-entry-type', `slot ${slot} ('${entry.name}') is not a user`, { slot });
  }
  return replace(table, slot, { ...entry, localOnly });
}

/**
 * The lock-out invariant: some entry with credentials holds security.write. The admin's fixed rights
 * keep it true through every operation above; a table that breaks it (a hand-made image, a bug) is
 * refused before it can be stored.
 */
export function assertSecurityAdminRemains(table: UserTable): void {
  const holders = table.slots.filter(
    (entry, slot) =>
      entry && entry.type !== 'standard' && (effectivePermissions(table, slot) & SECURITY_WRITE) !== 0,
  );
  if (holders.length === 0) {
    throw new CoreError('last-security-admin', 'the last entry holding security.write cannot lose it');
  }
}

/** The slot's entry; throws `not-found` naming the slot when it is empty or out of range. */
export function entryAt(table: UserTable, slot: number): SlotEntry {
  const entry = Number.isInteger(slot) ? table.slots[slot] : undefined;
  if (!entry) throw new CoreError('not-found', `slot ${slot} is empty`, { slot });
  return entry;
}

function definableEntryAt(table: UserTable, slot: number, verb: string): SlotEntry {
  if (Number.isInteger(slot) && slot >= 0 && slot < FIRST_DEFINABLE_SLOT) {
    const name = table.slots[slot]?.name ?? `slot ${slot}`;
    throw new CoreError('protected-slot', `'${name}' is a predefined user and cannot be ${verb}`, { slot });
  }
  return entryAt(table, slot);
}

function place(table: UserTable, name: string, entry: SlotEntry): { table: UserTable; slot: number } {
  const holder = findSlotByName(table, name);
  if (holder !== null) {
    throw new CoreError('name-taken', `the name '${name}' is already used by slot ${holder}`, {
      field: 'name',
    });
  }
  const slot = table.slots.findIndex(
    (candidate, index) => index >= FIRST_DEFINABLE_SLOT && candidate === null,
  );
  if (slot < 0) {
    throw new CoreError(
      'table-full',
      `all ${SLOT_COUNT - FIRST_DEFINABLE_SLOT} user/API-key slots are in use`,
    );
  }
  return { table: replace(table, slot, entry), slot };
}

/** The table with `entry` in `slot`; the same table (epoch kept, sessions alive) when nothing changes. */
function replace(table: UserTable, slot: number, entry: SlotEntry | null): UserTable {
  if (sameEntry(table.slots[slot] ?? null, entry)) return table;
  const slots = table.slots.slice();
  slots[slot] = entry;
  const epochs = table.epochs.slice();
  epochs[slot] = (epochs[slot] ?? 0) + 1;
  const next = { slots, epochs };
  assertSecurityAdminRemains(next);
  return next;
}

function sameEntry(a: SlotEntry | null, b: SlotEntry | null): boolean {
  if (a === null || b === null) return a === b;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => a[key as keyof SlotEntry] === b[key as keyof SlotEntry]);
}

function permissionsOf(...names: PermissionName[]): PermissionSet {
  return names.reduce((set, name) => set | permissionBit(name), 0);
}

/** A readable summary of a slot for `inspect` and logs: never a verifier or key hash. */
export function describeEntry(
  table: UserTable,
  slot: number,
): {
  slot: number;
  type: SlotEntry['type'] | 'empty';
  name: string | null;
  permissions: PermissionName[];
  flags: string[];
} {
  const entry = table.slots[slot] ?? null;
  if (!entry) return { slot, type: 'empty', name: null, permissions: [], flags: [] };
  const flags: string[] = [];
  if (entry.type === 'user' && entry.localOnly) flags.push('local-only');
  if (entry.type === 'user' && entry.mustChangePassword) flags.push('must-change-password');
  if (entry.type === 'api-key') flags.push(`preset:${entry.preset}`);
  return {
    slot,
    type: entry.type,
    name: entry.name,
    permissions: permissionNames(effectivePermissions(table, slot)),
    flags,
  };
}
