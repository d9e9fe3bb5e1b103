/**
 * The local display's menu as plain data (DESIGN §6): the measurement images, the menu tree and the
 * settings that can be edited at the meter. Every image and item declares the permission it needs in
 * the permission table's terms (`requires` to see or use it, `edit` to change its value); `itemAccess`
 * turns access.ts's decision (for the display interface) into hidden / read-only / usable, and the
 * gating tests walk these declarations.
 */

import { type AccessActor, allows as accessAllows } from '../core/access.ts';
import type { DeviceConfig, WordOrder } from '../core/device-config.ts';
import type { PermissionName } from '../core/permission-table.ts';
import {
  type CommunicationSettings,
  HTTP_MODES,
  type HttpMode,
  type SecuritySettings,
} from '../core/security-settings.ts';

/**
 * Who the display acts for: `localgui`, or the user logged in at the display (a user that must change
 * its password sees nothing that needs a permission: access.ts decides so).
 */
export interface DisplayPrincipal extends AccessActor {
  readonly loggedIn: boolean;
}

export type ImageId = 'voltage' | 'current' | 'power' | 'pf-frequency' | 'energy';

export interface MeasurementImage {
  readonly id: ImageId;
  readonly title: string;
  /** The title where the long one and the page counter do not fit one row. */
  readonly short: string;
  readonly requires: PermissionName;
}

/** The images cycled with up/down, in order. */
export const MEASUREMENT_IMAGES: readonly MeasurementImage[] = [
  { id: 'voltage', title: 'VOLTAGE', short: 'VOLTAGE', requires: 'measurements.read' },
  { id: 'current', title: 'CURRENT', short: 'CURRENT', requires: 'measurements.read' },
  { id: 'power', title: 'POWER P/Q/S', short: 'POWER', requires: 'measurements.read' },
  { id: 'pf-frequency', title: 'PF AND FREQUENCY', short: 'PF, FREQ.', requires: 'measurements.read' },
  { id: 'energy', title: 'ENERGY METERS', short: 'ENERGY', requires: 'meters.read' },
];

export type SettingId = 'vtRatio' | 'ctRatio' | 'wordOrder' | 'unitId' | 'modbusTcp' | 'modbusRtu' | 'http';
export type SettingValue = number | WordOrder | boolean | HttpMode;

export type SettingField =
  | {
      readonly id: 'vtRatio' | 'ctRatio' | 'unitId';
      readonly kind: 'number';
      readonly min: number;
      readonly max: number;
      /** Digits of the entry, edited one at a time. */
      readonly digits: number;
    }
  | {
      readonly id: 'wordOrder' | 'modbusTcp' | 'modbusRtu' | 'http';
      readonly kind: 'choice';
      readonly options: readonly {
        readonly value: SettingValue;
        readonly label: string;
        /** Shown in the menu row where the label does not fit beside the item's name. */
        readonly short?: string;
      }[];
    };

const ON_OFF = [
  { value: false, label: 'off' },
  { value: true, label: 'on' },
] as const;

export type MenuItemId =
  | 'measurements'
  | 'meters'
  | 'reset'
  | 'reset.meters'
  | 'reset.minmax'
  | 'settings'
  | `settings.${SettingId}`
  | 'security'
  | 'security.login'
  | 'security.logout'
  | 'security.password'
  | 'security.whitelist'
  | 'security.registry'
  | 'info';

export interface MenuItem {
  readonly id: MenuItemId;
  readonly label: string;
  /** Needed to see and use the item. */
  readonly requires?: PermissionName;
  /** Needed to change the item's value; without it the value is shown read-only. */
  readonly edit?: PermissionName;
  /** Shown only while nobody / somebody is logged in at the display. */
  readonly session?: 'logged-out' | 'logged-in';
  readonly children?: readonly MenuItem[];
  readonly setting?: SettingField;
}

function setting(label: string, field: SettingField): MenuItem {
  return { id: `settings.${field.id}`, label, requires: 'config.read', edit: 'config.write', setting: field };
}

/** The main menu, opened with OK from the measurement images. */
export const MAIN_MENU: readonly MenuItem[] = [
  { id: 'measurements', label: 'Measurements', requires: 'measurements.read' },
  { id: 'meters', label: 'Energy meters', requires: 'meters.read' },
  {
    id: 'reset',
    label: 'Reset',
    children: [
      { id: 'reset.meters', label: 'Energy meters', requires: 'meters.reset' },
      { id: 'reset.minmax', label: 'Min/max values', requires: 'minmax.reset' },
    ],
  },
  {
    id: 'settings',
    label: 'Settings',
    children: [
      setting('VT ratio', { id: 'vtRatio', kind: 'number', min: 1, max: 10000, digits: 5 }),
      setting('CT ratio', { id: 'ctRatio', kind: 'number', min: 1, max: 10000, digits: 5 }),
      setting('Word order', {
        id: 'wordOrder',
        kind: 'choice',
        options: [
          { value: 'ABCD', label: 'ABCD' },
          { value: 'CDAB', label: 'CDAB' },
        ],
      }),
      setting('Unit id', { id: 'unitId', kind: 'number', min: 1, max: 247, digits: 3 }),
      setting('Modbus TCP', { id: 'modbusTcp', kind: 'choice', options: ON_OFF }),
      setting('Modbus RTU', { id: 'modbusRtu', kind: 'choice', options: ON_OFF }),
      // A security setting: seen with security.read, changed with security.write. Set here it can cut
      // off no one: the operator at the display is not on HTTP.
      {
        id: 'settings.http',
        label: 'Plain HTTP',
        requires: 'security.read',
        edit: 'security.write',
        setting: {
          id: 'http',
          kind: 'choice',
          options: HTTP_MODES.map((mode) => ({
            value: mode,
            label: mode,
            ...(mode === 'redirect' ? { short: 'redir.' } : {}),
          })),
        },
      },
    ],
  },
  {
    id: 'security',
    label: 'Security',
    children: [
      { id: 'security.login', label: 'Log in', session: 'logged-out' },
      { id: 'security.logout', label: 'Log out', session: 'logged-in' },
      { id: 'security.password', label: 'Change password', session: 'logged-in' },
      { id: 'security.whitelist', label: 'Clear whitelist', requires: 'security.write' },
      { id: 'security.registry', label: 'Open registration', requires: 'security.write' },
    ],
  },
  { id: 'info', label: 'Info' },
];

export type ItemAccess = 'hidden' | 'read-only' | 'usable';

/**
 * What `principal` may do with `item`: hidden without `requires` (or outside its session state, or a
 * group with no visible child), read-only without `edit`, else usable.
 */
export function itemAccess(item: MenuItem, principal: DisplayPrincipal): ItemAccess {
  if (item.session === 'logged-in' && !principal.loggedIn) return 'hidden';
  if (item.session === 'logged-out' && principal.loggedIn) return 'hidden';
  if (item.requires && !allows(principal, item.requires)) return 'hidden';
  if (item.children?.every((child) => itemAccess(child, principal) === 'hidden')) return 'hidden';
  if (item.edit && !allows(principal, item.edit)) return 'read-only';
  return 'usable';
}

/** The items of a menu that `principal` sees, with what it may do with each. */
export function visibleItems(
  items: readonly MenuItem[],
  principal: DisplayPrincipal,
): { readonly item: MenuItem; readonly access: Exclude<ItemAccess, 'hidden'> }[] {
  return items.flatMap((item) => {
    const access = itemAccess(item, principal);
    return access === 'hidden' ? [] : [{ item, access }];
  });
}

/** The images `principal` may see, in order. */
export function visibleImages(principal: DisplayPrincipal): MeasurementImage[] {
  return MEASUREMENT_IMAGES.filter((image) => allows(principal, image.requires));
}

/** Every item of the tree, depth first (for the gating tests). */
export function allMenuItems(items: readonly MenuItem[] = MAIN_MENU): MenuItem[] {
  return items.flatMap((item) => [item, ...allMenuItems(item.children ?? [])]);
}

/** The item with `id` (throws for an id not in the tree: a programming error). */
export function menuItem(id: MenuItemId): MenuItem {
  const item = allMenuItems().find((candidate) => candidate.id === id);
  if (!item) throw new Error(`no menu item '${id}'`);
  return item;
}

function allows(principal: DisplayPrincipal, permission: PermissionName): boolean {
  return accessAllows(principal, permission, 'display');
}

/** The settings the display edits, read from where they live. */
export interface SettingsView {
  readonly config: DeviceConfig;
  readonly communication: CommunicationSettings;
  readonly http: HttpMode;
}

export function settingValue(id: SettingId, view: SettingsView): SettingValue {
  switch (id) {
    case 'vtRatio':
    case 'ctRatio':
    case 'wordOrder':
    case 'unitId':
      return view.config[id];
    case 'modbusTcp':
    case 'modbusRtu':
      return view.communication[id];
    case 'http':
      return view.http;
  }
}

/** A setting's value as the display shows it; its short label where the label is longer than `room`. */
export function formatSetting(
  field: SettingField,
  value: SettingValue,
  room = Number.POSITIVE_INFINITY,
): string {
  if (field.kind === 'number') return String(value);
  const option = field.options.find((o) => o.value === value);
  if (!option) return String(value);
  return option.label.length > room && option.short ? option.short : option.label;
}

/** Pending display changes split by where they are stored: the configuration or the security record. */
export function splitChanges(changes: ReadonlyMap<SettingId, SettingValue>): {
  config: Partial<Pick<DeviceConfig, 'vtRatio' | 'ctRatio' | 'wordOrder' | 'unitId'>>;
  communication: Partial<Pick<CommunicationSettings, 'modbusTcp' | 'modbusRtu'>>;
  security: Partial<Pick<SecuritySettings, 'http'>>;
} {
  const config: Record<string, SettingValue> = {};
  const communication: Record<string, SettingValue> = {};
  const security: Record<string, SettingValue> = {};
  for (const [id, value] of changes) {
    if (id === 'modbusTcp' || id === 'modbusRtu') communication[id] = value;
    else if (id === 'http') security[id] = value;
    else config[id] = value;
  }
  return { config, communication, security };
}
