/**
 * The 8-slot user table (DESIGN §2) as plain data and pure operations.
 *
 * Every operation takes the acting principal, decides its rights through access.ts (the one decision;
 * the caller, the security service, decides the interface there too), checks the table's invariants
 * and the climbing rules, and returns a new table; nothing here touches flash, sockets or clocks.
 *
 * Climbing rules (no actor takes over a more privileged account): an actor grants only permissions it
 * holds; it changes or deletes another entry only when its own permissions include all of that
 * entry's; a password it sets for someone else must be changed at that user's next login; names are
 * unique without regard to case; the admin (slot 0) keeps network access; `anonymous` never gets
 * security.read or audit.read (everyone on the network would read the user table and the log). Password
 * verifiers and API-key hashes arrive already derived: the costly KDF runs in the caller, off the event
 * loop. Each slot carries an epoch that moves whenever its credentials or rights change, so a session
 * bound to (slot, epoch) dies with the change. Each entry also carries an identity allocated when it is
 * created and never reused, so a setting that names an entry (the Modbus principal) is not inherited by
 * the next entry created in the same slot.
 */

import { type AccessActor, authorizeRights } from './access.ts';
import { CoreError } from './core-error.ts';
import type { PasswordVerifier } from './password-verifier-record.ts';
import {
  ALL_PERMISSIONS,
  AUDIT_READ,
  normalizePermissions,
  type PermissionName,
  type PermissionSet,
  PRESETS,
  type PresetName,
  permissionBit,
  permissionNames,
  ROLE_TEMPLATES,
  type RoleName,
  SECURITY_READ,
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
  /** The IEC 62351-8 role template the user was created from, if any (kept as its origin). */
  readonly role?: RoleName;
  /** Kept in its slot, but every login is refused (setDisabled); absent when enabled. */
  readonly disabled?: true;
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
  /** Kept in its slot, but the key is refused like a revoked one (setDisabled); absent when enabled. */
  readonly disabled?: true;
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
  /**
   * Per slot, the identity of its entry (null when empty): the predefined entries have their slot
   * number, every entry created later the next value of `nextId`, which only grows.
   */
  readonly ids: readonly (number | null)[];
  /** The identity the next created entry gets; never below SLOT_COUNT, never decreases. */
  readonly nextId: number;
}

/**
 * Who is acting and what it may do right now (access.ts decides with it): an entry of the table (its
 * slot), or, for a Modbus/TCP Security client certificate, an IEC 62351-8 role template that no entry
 * stands behind (`slot` null, `role` the template's name).
 */
export interface Actor extends AccessActor {
  /** The role template acted as (certificate principals only). */
  readonly role?: string;
}

/** An actor that is an entry of the table (every principal but a Modbus/TLS certificate's). */
export interface EntryActor extends Actor {
  readonly slot: number;
}

/** Who an event names: the slot of an entry, or the role of a certificate. */
export function actorFields(actor: Actor): { slot?: number; role?: string } {
  return actor.slot === null ? { role: actor.role } : { slot: actor.slot };
}

/** Never `anonymous`'s: with them everyone on the network reads the user table and the event log. */
export const NEVER_ANONYMOUS = SECURITY_READ | SECURITY_WRITE | AUDIT_READ;

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
  const ids = slots.map((entry, slot) => (entry ? slot : null));
  return { slots, epochs: new Array(SLOT_COUNT).fill(0), ids, nextId: SLOT_COUNT };
}

/** The slot of the entry with identity `id`, or null when no entry has it (deleted, or never made). */
export function slotOfEntry(table: UserTable, id: number): number | null {
  const slot = table.ids.indexOf(id);
  return slot >= 0 && table.slots[slot] ? slot : null;
}

/** The identity of the entry in `slot`; throws `not-found` for an empty slot. */
export function entryIdAt(table: UserTable, slot: number): number {
  entryAt(table, slot);
  const id = table.ids[slot];
  if (id === null || id === undefined) throw new CoreError('not-found', `slot ${slot} is empty`, { slot });
  return id;
}

/** The principal a slot acts as. Throws `not-found` for an empty slot. */
export function actorFor(table: UserTable, slot: number): EntryActor {
  const entry = entryAt(table, slot);
  return {
    slot,
    permissions: effectivePermissions(table, slot),
    mustChangePassword: entry.type === 'user' && entry.mustChangePassword,
    // The admin keeps network access whatever a record says (it cannot be set: setLocalOnly).
    localOnly: entry.type === 'user' && entry.localOnly && slot !== ADMIN_SLOT,
  };
}

/**
 * What a slot may do: the admin (a user in slot 0) always everything; others their stored set,
 * normalized. Anything else found in slot 0 (a hand-made image, a bug) gets only its own set;
 * `anonymous` never more than a set without security.* and audit.read, whatever a record says.
 */
export function effectivePermissions(table: UserTable, slot: number): PermissionSet {
  const entry = table.slots[slot];
  if (!entry) return 0;
  if (slot === ADMIN_SLOT && entry.type === 'user') return ALL_PERMISSIONS;
  const set = normalizePermissions(entry.permissions);
  return slot === ANONYMOUS_SLOT ? set & ~NEVER_ANONYMOUS : set;
}

/** The slot whose entry is named exactly `name` (login, certificate roles), or null. */
export function findSlotByName(table: UserTable, name: string): number | null {
  const slot = table.slots.findIndex((entry) => entry?.name === name);
  return slot < 0 ? null : slot;
}

/** The slot whose entry's name equals `name` without regard to case (uniqueness), or null. */
export function findSlotByNameIgnoringCase(table: UserTable, name: string): number | null {
  const wanted = name.toLowerCase();
  const slot = table.slots.findIndex((entry) => entry?.name.toLowerCase() === wanted);
  return slot < 0 ? null : slot;
}

/** Throws `permission-not-held` (naming the first) unless `actor` holds every permission of `set`. */
export function assertMayGrant(actor: AccessActor, set: PermissionSet): void {
  const missing = permissionNames(normalizePermissions(set) & ~actor.permissions);
  if (missing.length === 0) return;
  throw new CoreError(
    'permission-not-held',
    `you may grant only permissions you hold: ${missing.map((name) => `'${name}'`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not yours`,
    { field: 'permissions', permission: missing[0] },
  );
}

/**
 * Throws `entry-more-privileged` unless `actor` may act on the entry in `slot`: it is the actor's own,
 * or the actor holds every permission the entry holds.
 */
export function assertOutranks(table: UserTable, actor: AccessActor, slot: number): void {
  if (actor.slot === slot) return;
  const entry = entryAt(table, slot);
  const missing = permissionNames(effectivePermissions(table, slot) & ~actor.permissions);
  if (missing.length === 0) return;
  throw new CoreError(
    'entry-more-privileged',
    `slot ${slot} ('${entry.name}') holds permissions you lack (${missing.join(', ')}): only an actor holding all of them may change it`,
    { slot, permission: missing[0] },
  );
}

/**
 * Throws `entry-more-privileged` unless `actor` holds every permission of every entry: what a backup
 * (every verifier, open to offline guessing by whoever holds the passphrase) and a restore (every
 * entry replaced, the admin's password too) need, so neither is a way up for a lesser administrator.
 */
export function assertOutranksEveryEntry(table: UserTable, actor: AccessActor): void {
  table.slots.forEach((entry, slot) => {
    if (entry) assertOutranks(table, actor, slot);
  });
}

export interface NewUser {
  readonly name: string;
  readonly verifier: PasswordVerifier;
  readonly permissions: PermissionSet;
  readonly localOnly?: boolean;
  readonly mustChangePassword?: boolean;
  /** The role template `permissions` were taken from. */
  readonly role?: RoleName;
}

/** Adds a user in the first free slot of 3–7. Needs security.write. */
export function addUser(table: UserTable, actor: Actor, user: NewUser): { table: UserTable; slot: number } {
  authorizeRights(actor, 'security.write');
  assertMayGrant(actor, user.permissions);
  const name = checkUsername(user.name);
  return place(table, name, {
    type: 'user',
    name,
    permissions: normalizePermissions(user.permissions),
    verifier: user.verifier,
    localOnly: user.localOnly ?? false,
    mustChangePassword: user.mustChangePassword ?? false,
    ...(user.role !== undefined && { role: user.role }),
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
  authorizeRights(actor, 'security.write');
  const name = checkUsername(key.name);
  if (!Object.hasOwn(PRESETS, key.preset)) {
    throw new CoreError('unknown-preset', `unknown preset '${key.preset}'`, {
      field: 'preset',
      known: Object.keys(PRESETS),
    });
  }
  assertMayGrant(actor, PRESETS[key.preset]);
  return place(table, name, {
    type: 'api-key',
    name,
    permissions: PRESETS[key.preset],
    preset: key.preset,
    keyHash: key.keyHash,
    createdAt: key.createdAt,
  });
}

/** Deletes a user or API key (slots 3–7). Needs security.write and every permission of the entry. */
export function removeEntry(table: UserTable, actor: Actor, slot: number): UserTable {
  authorizeRights(actor, 'security.write');
  definableEntryAt(table, slot, 'deleted');
  assertOutranks(table, actor, slot);
  return replace(table, slot, null);
}

/**
 * Renames a user or API key, admin included. Needs security.write and, for another's entry, every
 * permission of that entry. A name is unique without regard to case.
 */
export function renameEntry(table: UserTable, actor: Actor, slot: number, newName: string): UserTable {
  authorizeRights(actor, 'security.write');
  const entry = entryAt(table, slot);
  if (entry.type === 'standard') {
    throw new CoreError('protected-slot', `'${entry.name}' is a standard user and keeps its name`, { slot });
  }
  assertOutranks(table, actor, slot);
  const name = checkUsername(newName);
  assertNameFree(table, name, slot);
  return replace(table, slot, { ...entry, name });
}

/**
 * Sets a user's password verifier. A user changes its own password (no permission needed, even in the
 * must-change state) only when the caller has verified the current one, which clears
 * must-change-password. Anyone else's needs security.write and every permission of that user, and
 * the password set must be changed at that user's next login: whoever set it knows it.
 */
export function setPassword(
  table: UserTable,
  actor: Actor,
  slot: number,
  verifier: PasswordVerifier,
  options: { readonly currentPasswordVerified: boolean },
): UserTable {
  // Rights first: a caller without them learns nothing about which slots exist.
  authorizeRights(actor, actor.slot === slot ? 'own-password' : 'security.write');
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
  assertOutranks(table, actor, slot);
  return replace(table, slot, { ...entry, verifier, mustChangePassword: true });
}

/**
 * Sets the rights of a user, of `localgui`/`anonymous`, or (as a preset) of an API key. Needs
 * security.write, every permission of the entry (unless it is the actor's own) and every permission
 * of the new set. The admin cannot be demoted; a standard user (no credentials) never gets
 * security.write: that would hand the device to anyone at the display or on the network; nor does
 * `anonymous` get security.read or audit.read.
 */
export function setPermissions(
  table: UserTable,
  actor: Actor,
  slot: number,
  permissions: PermissionSet,
): UserTable {
  authorizeRights(actor, 'security.write');
  const entry = entryAt(table, slot);
  const set = normalizePermissions(permissions);
  assertOutranks(table, actor, slot);
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
  if (slot === ANONYMOUS_SLOT && (set & NEVER_ANONYMOUS) !== 0) {
    const refused = permissionNames(set & NEVER_ANONYMOUS);
    throw new CoreError(
      'invalid-setting',
      `'${entry.name}' is everyone on the network and cannot be given ${refused.join(' or ')}`,
      { field: 'permissions', permission: refused[0], slot },
    );
  }
  assertMayGrant(actor, set);
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

/**
 * Restricts a user to local operation (or lifts it). Needs security.write and, for another's entry,
 * every permission of that entry. The admin keeps network access: it is the recovery account.
 */
export function setLocalOnly(table: UserTable, actor: Actor, slot: number, localOnly: boolean): UserTable {
  authorizeRights(actor, 'security.write');
  const entry = entryAt(table, slot);
  if (entry.type !== 'user') {
    throw new CoreError('wrong-entry-type', `slot ${slot} ('${entry.name}') is not a user`, { slot });
  }
  assertOutranks(table, actor, slot);
  if (slot === ADMIN_SLOT && localOnly) {
    throw new CoreError('protected-slot', 'the admin keeps network access and cannot be made local-only', {
      slot,
      field: 'localOnly',
    });
  }
  return replace(table, slot, { ...entry, localOnly });
}

/**
 * Disables a user or API key (or enables it again): the entry keeps its slot, name, verifier or key
 * hash, permissions and role, but every login with it is refused (login-service.ts, the API-key check)
 * and, since its epoch moves, its sessions end. Needs security.write and every permission of the
 * entry. The admin cannot be disabled: it is the recovery account, and a device whose admin is
 * disabled is one stolen SECADM password away from having no way back in but a factory reset. Nor can
 * an actor disable itself (it would end its own session and maybe the last way in it has).
 */
export function setDisabled(table: UserTable, actor: Actor, slot: number, disabled: boolean): UserTable {
  authorizeRights(actor, 'security.write');
  const entry = entryAt(table, slot);
  if (entry.type === 'standard') {
    throw new CoreError(
      'wrong-entry-type',
      `'${entry.name}' is a standard user and has no login to disable`,
      {
        slot,
        field: 'disabled',
      },
    );
  }
  if (slot === ADMIN_SLOT && disabled) {
    throw new CoreError('protected-slot', 'the admin is the recovery account and cannot be disabled', {
      slot,
      field: 'disabled',
    });
  }
  if (actor.slot === slot && disabled) {
    throw new CoreError('protected-slot', 'you cannot disable your own entry', { slot, field: 'disabled' });
  }
  assertOutranks(table, actor, slot);
  const { disabled: _was, ...rest } = entry;
  return replace(table, slot, disabled ? { ...rest, disabled: true } : rest);
}

/** True when the entry in `slot` is a disabled user or API key. */
export function isDisabled(table: UserTable, slot: number): boolean {
  const entry = table.slots[slot];
  return entry !== null && entry !== undefined && entry.type !== 'standard' && entry.disabled === true;
}

/**
 * The lock-out invariant: some entry with credentials holds security.write. The admin's fixed rights
 * keep it true through every operation above; a table that breaks it (a hand-made image, a bug) is
 * refused before it can be stored.
 */
export function assertSecurityAdminRemains(table: UserTable): void {
  const holders = table.slots.filter(
    (entry, slot) =>
      entry &&
      entry.type !== 'standard' &&
      !isDisabled(table, slot) &&
      (effectivePermissions(table, slot) & SECURITY_WRITE) !== 0,
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

/** Throws `name-taken` when another slot than `self` holds `name` in any case. */
function assertNameFree(table: UserTable, name: string, self: number | null): void {
  const holder = findSlotByNameIgnoringCase(table, name);
  if (holder === null || holder === self) return;
  const held = table.slots[holder]?.name ?? name;
  throw new CoreError(
    'name-taken',
    held === name
      ? `the name '${name}' is already used by slot ${holder}`
      : `the name '${name}' is already used by slot ${holder} as '${held}' (names are unique regardless of case)`,
    { field: 'name' },
  );
}

function place(table: UserTable, name: string, entry: SlotEntry): { table: UserTable; slot: number } {
  assertNameFree(table, name, null);
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

/**
 * The table with `entry` in `slot`; the same table (epoch kept, sessions alive) when nothing changes.
 * An entry placed in an empty slot is a new entry: it gets a new identity.
 */
function replace(table: UserTable, slot: number, entry: SlotEntry | null): UserTable {
  if (sameEntry(table.slots[slot] ?? null, entry)) return table;
  const slots = table.slots.slice();
  slots[slot] = entry;
  const epochs = table.epochs.slice();
  epochs[slot] = (epochs[slot] ?? 0) + 1;
  const ids = table.ids.slice();
  let nextId = table.nextId;
  if (entry === null) ids[slot] = null;
  else if (!table.slots[slot]) ids[slot] = nextId++;
  const next = { slots, epochs, ids, nextId };
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
  if (entry.type !== 'standard' && entry.disabled) flags.push('disabled');
  if (entry.type === 'user' && entry.role !== undefined) {
    // The role it was created from; `from-role` once its permissions were changed away from it.
    const asCreated = entry.permissions === ROLE_TEMPLATES[entry.role].permissions;
    flags.push(`${asCreated ? 'role' : 'from-role'}:${entry.role}`);
  }
  return {
    slot,
    type: entry.type,
    name: entry.name,
    permissions: permissionNames(effectivePermissions(table, slot)),
    flags,
  };
}
