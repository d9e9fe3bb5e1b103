/**
 * The permission table: every permission of the device declared once (bit, name, description).
 *
 * A permission set is a 16-bit integer on flash and a list of names in the API. REST routes, Modbus
 * register blocks and display menu items name the permission they need; `hasPermission` is the only
 * place that decides. Bits are stable: they are stored on flash, so a bit is never reused or renumbered.
 */
import { CoreError } from './core-error.ts';

/** Instantaneous values, min/max. */
export const MEASUREMENTS_READ = 1 << 0;
/** Energy meters. */
export const METERS_READ = 1 << 1;
/** Reset energy meters. */
export const METERS_RESET = 1 << 2;
/** Reset min/max values. */
export const MINMAX_RESET = 1 << 3;
/** Read measurement and communication settings. */
export const CONFIG_READ = 1 << 4;
/** Change measurement and communication settings. */
export const CONFIG_WRITE = 1 << 5;
/** Service functions (clock, output simulation). */
export const SERVICE = 1 << 6;
/** See users, permissions, security settings. */
export const SECURITY_READ = 1 << 7;
/** Change users, permissions, security settings (implies security.read). */
export const SECURITY_WRITE = 1 << 8;
/** Read the security event log. */
export const AUDIT_READ = 1 << 9;

export interface PermissionDeclaration {
  readonly bit: number;
  readonly name: PermissionName;
  /** A few words for a person (the website's chips), where `name` is for programs. */
  readonly label: string;
  readonly description: string;
  /**
   * Whether it lets the holder change the device (settings, counters, users), not only look. The
   * website warns before such a set goes to an interface without login (a Modbus principal).
   */
  readonly writes: boolean;
}

export const PERMISSIONS = [
  {
    bit: MEASUREMENTS_READ,
    name: 'measurements.read',
    label: 'View measurements',
    description: 'Read instantaneous values and min/max',
    writes: false,
  },
  {
    bit: METERS_READ,
    name: 'meters.read',
    label: 'View energy',
    description: 'Read energy meters',
    writes: false,
  },
  {
    bit: METERS_RESET,
    name: 'meters.reset',
    label: 'Reset energy',
    description: 'Reset energy meters',
    writes: true,
  },
  {
    bit: MINMAX_RESET,
    name: 'minmax.reset',
    label: 'Reset min/max',
    description: 'Reset min/max values',
    writes: true,
  },
  {
    bit: CONFIG_READ,
    name: 'config.read',
    label: 'View settings',
    description: 'Read measurement and communication settings',
    writes: false,
  },
  {
    bit: CONFIG_WRITE,
    name: 'config.write',
    label: 'Change settings',
    description: 'Change measurement and communication settings',
    writes: true,
  },
  {
    bit: SERVICE,
    name: 'service',
    label: 'Service',
    description: 'Service functions (clock, output simulation)',
    writes: true,
  },
  {
    bit: SECURITY_READ,
    name: 'security.read',
    label: 'View security',
    description: 'See users, permissions and security settings',
    writes: false,
  },
  {
    bit: SECURITY_WRITE,
    name: 'security.write',
    label: 'Change security',
    description: 'Change users, permissions and security settings (implies security.read)',
    writes: true,
  },
  {
    bit: AUDIT_READ,
    name: 'audit.read',
    label: 'Event log',
    description: 'Read the security event log',
    writes: false,
  },
] as const satisfies readonly {
  bit: number;
  name: string;
  label: string;
  description: string;
  writes: boolean;
}[];

export type PermissionName = (typeof PERMISSIONS)[number]['name'];

/** A permission set: the 16-bit bitmap stored on flash. */
export type PermissionSet = number;

/** Every declared bit. */
export const ALL_PERMISSIONS: PermissionSet = PERMISSIONS.reduce((set, p) => set | p.bit, 0);

const BY_NAME = new Map<string, PermissionDeclaration>(PERMISSIONS.map((p) => [p.name, p]));

/** The bit of one permission name; throws `unknown-permission` naming it. */
export function permissionBit(name: string): number {
  const declaration = BY_NAME.get(name);
  if (!declaration) {
    throw new CoreError('unknown-permission', `unknown permission '${name}'`, {
      field: 'permissions',
      known: PERMISSIONS.map((p) => p.name),
    });
  }
  return declaration.bit;
}

/**
 * Names to a set. `security.write` implies `security.read`, so the set returned always carries both.
 * Throws `unknown-permission` for a name not in the table.
 */
export function permissionsFromNames(names: readonly string[]): PermissionSet {
  return normalizePermissions(names.reduce((set, name) => set | permissionBit(name), 0));
}

/** A set to names, in table order. Bits not in the table are dropped. */
export function permissionNames(set: PermissionSet): PermissionName[] {
  return PERMISSIONS.filter((p) => (set & p.bit) !== 0).map((p) => p.name);
}

/** Drops undeclared bits and applies implications (security.write ⇒ security.read). */
export function normalizePermissions(set: PermissionSet): PermissionSet {
  let normalized = set & ALL_PERMISSIONS;
  if (normalized & SECURITY_WRITE) normalized |= SECURITY_READ;
  return normalized;
}

/** True when `set` holds every bit of `required`. The one decision every gate uses. */
export function hasPermission(set: PermissionSet, required: PermissionSet): boolean {
  return (set & required) === required;
}

/** API-key presets (DESIGN §3). */
export const PRESETS = {
  'read-only': MEASUREMENTS_READ | METERS_READ | CONFIG_READ,
  'all-except-security': ALL_PERMISSIONS & ~(SECURITY_READ | SECURITY_WRITE | AUDIT_READ),
  all: ALL_PERMISSIONS,
} as const satisfies Record<string, PermissionSet>;

export type PresetName = keyof typeof PRESETS;

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The preset's set; throws `unknown-preset` naming the known ones. */
export function presetPermissions(name: string): PermissionSet {
  if (!isPresetName(name)) {
    throw new CoreError('unknown-preset', `unknown preset '${name}'`, {
      field: 'preset',
      known: Object.keys(PRESETS),
    });
  }
  return PRESETS[name];
}

/**
 * Role templates after IEC 62351-8 (table of predefined roles), mapped onto this device's rights:
 * VIEWER sees values, OPERATOR also resets, ENGINEER configures, INSTALLER configures and services,
 * SECADM administers security, SECAUD reads the audit trail and the security settings.
 */
export const ROLE_TEMPLATES = {
  VIEWER: {
    description: 'View measurements, meters and settings',
    permissions: MEASUREMENTS_READ | METERS_READ | CONFIG_READ,
  },
  OPERATOR: {
    description: 'View values and reset meters and min/max',
    permissions: MEASUREMENTS_READ | METERS_READ | METERS_RESET | MINMAX_RESET | CONFIG_READ,
  },
  ENGINEER: {
    description: 'View values and change measurement and communication settings',
    permissions: MEASUREMENTS_READ | METERS_READ | CONFIG_READ | CONFIG_WRITE,
  },
  INSTALLER: {
    description: 'Commission the meter: settings, resets and service functions',
    permissions:
      MEASUREMENTS_READ | METERS_READ | METERS_RESET | MINMAX_RESET | CONFIG_READ | CONFIG_WRITE | SERVICE,
  },
  SECADM: {
    description: 'Administer users, keys and security settings',
    permissions: MEASUREMENTS_READ | METERS_READ | CONFIG_READ | SECURITY_READ | SECURITY_WRITE | AUDIT_READ,
  },
  SECAUD: {
    description: 'Audit: read the security event log and security settings',
    permissions: SECURITY_READ | AUDIT_READ,
  },
} as const satisfies Record<string, { description: string; permissions: PermissionSet }>;

export type RoleName = keyof typeof ROLE_TEMPLATES;

/** The role's set; throws `unknown-role` naming the known ones. */
export function rolePermissions(name: string): PermissionSet {
  if (!Object.hasOwn(ROLE_TEMPLATES, name)) {
    throw new CoreError('unknown-role', `unknown role '${name}'`, {
      field: 'role',
      known: Object.keys(ROLE_TEMPLATES),
    });
  }
  return ROLE_TEMPLATES[name as RoleName].permissions;
}
