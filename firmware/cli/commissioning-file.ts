/**
 * The commissioning file of `metergate provision`: a declarative YAML (or JSON) description of a
 * device's admin password, users, API keys, standard users' rights and security settings, in the
 * spirit of a Cybus service commissioning file. Parsed and checked here, against a schema and the
 * device's own rules, into a plan that provisioning applies. Pure: text in, plan or errors out, no
 * files; every error names the field and the line of the file it is about.
 */
import { type Document, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { type CoreError, isCoreError } from '../core/core-error.ts';
import { checkPassword, PASSWORD_MIN_LENGTH_FLOOR } from '../core/password-rules.ts';
import type { PasswordVerifier } from '../core/password-verifier-record.ts';
import {
  ALL_PERMISSIONS,
  type PermissionSet,
  type PresetName,
  permissionBit,
  permissionsFromNames,
  presetPermissions,
  type RoleName,
  rolePermissions,
} from '../core/permission-table.ts';
import {
  DEFAULT_SECURITY_SETTINGS,
  HTTP_MODES,
  type HttpMode,
  type SecuritySettings,
} from '../core/security-settings.ts';
import {
  HTTP_MODE_RULE,
  hostnameProblem,
  parseWhitelistEntry,
  validateSecuritySettings,
} from '../core/security-settings-rules.ts';
import {
  ADMIN_SLOT,
  ANONYMOUS_SLOT,
  FIRST_DEFINABLE_SLOT,
  LOCALGUI_SLOT,
  SLOT_COUNT,
} from '../core/slots.ts';
import {
  type Actor,
  addApiKey,
  addUser,
  createDefaultTable,
  setPermissions,
  type UserTable,
} from '../core/user-table.ts';
import { checkUsername } from '../core/username-rules.ts';
import { formatPath, locate, valueAt } from '../core/yaml-location.ts';
import { MeterSpecError, parseMeterSpec } from '../meter/meter-spec.ts';

/** The format version this firmware reads; older ones will be migrated, newer ones refused. */
export const COMMISSIONING_FILE_VERSION = 1;

const DEFINABLE_SLOTS = SLOT_COUNT - FIRST_DEFINABLE_SLOT;
const PREDEFINED_NAMES = ['admin', 'localgui', 'anonymous'];

export interface CommissioningUser {
  readonly name: string;
  /** Null: provisioning generates one, shows it once, and the user must change it at first login. */
  readonly password: string | null;
  readonly permissions: PermissionSet;
  readonly localOnly: boolean;
  /** The IEC 62351-8 role the permissions came from (kept on the device as the user's origin). */
  readonly role?: RoleName;
}

export interface CommissioningPlan {
  /** The admin's new password, or null: provisioning generates one and shows it once. */
  readonly adminPassword: string | null;
  readonly users: readonly CommissioningUser[];
  readonly apiKeys: readonly { readonly name: string; readonly preset: PresetName }[];
  readonly standardUsers: { readonly localgui?: PermissionSet; readonly anonymous?: PermissionSet };
  /** The factory settings with the file's changes: whitelist, Modbus enables, password and lockout policy. */
  readonly settings: SecuritySettings;
  /**
   * The meter source (`meter:`, the same text as `--meter`), checked by the flag's parser; stored in
   * the configuration record, read at boot when no `--meter` is given. Null: not in the file. `line`
   * is where it stands, for errors found later (a profile file that does not load).
   */
  readonly meter: { readonly source: string; readonly line: number | null } | null;
}

export interface CommissioningError {
  /** The file name as given, or the flag a value came from. */
  readonly source: string;
  /** 1-based line in the file; null when the value did not come from the file. */
  readonly line: number | null;
  /** `users[1].password`; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

export type CommissioningResult =
  | { readonly ok: true; readonly plan: CommissioningPlan }
  | { readonly ok: false; readonly errors: readonly CommissioningError[] };

export interface CommissioningOptions {
  /** How errors name the file (the path as the user gave it). */
  readonly fileName: string;
  /** Parse as JSON (strict syntax, JSON's own error positions); default: by the `.json` extension. */
  readonly json?: boolean;
  /** The admin password from elsewhere (a file named by a flag) instead of `admin.password`. */
  readonly adminPassword?: { readonly value: string; readonly source: string };
  /**
   * A check of the meter source beyond its syntax that needs the machine (a profile file loads): the
   * problem as a sentence, or null. Run in the same pass as every other check.
   */
  readonly checkMeter?: (source: string) => string | null;
}

/** `commissioning.yaml:12: users[1].password: password must be at least 8 characters`. */
export function formatCommissioningError(error: CommissioningError): string {
  const where = error.line === null ? error.source : `${error.source}:${error.line}`;
  return `${where}: ${error.path ? `${error.path}: ` : ''}${error.message}`;
}

/** Parses and checks a commissioning file. Never throws for bad input: the errors say what is wrong where. */
export function parseCommissioningFile(content: string, options: CommissioningOptions): CommissioningResult {
  // Editors on Windows may start a UTF-8 file with a byte-order mark, which JSON.parse refuses.
  const text = content.replace(/^\uFEFF/, '');
  const source = options.fileName;
  const json = options.json ?? /\.json$/i.test(source);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lines.linePos(offset).line;

  let data: unknown;
  if (json) {
    const syntax = jsonSyntaxError(text, doc, at);
    if (syntax) return failed([{ source, path: '', ...syntax }]);
    data = JSON.parse(text);
    // JSON.parse keeps the last of two equal keys without a word; a commissioning file must not.
    const duplicates = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
    if (duplicates.length > 0) {
      return failed(
        duplicates.map((e) => ({ source, line: at(e.pos[0]), path: '', message: 'duplicate key' })),
      );
    }
  } else {
    if (doc.errors.length > 0) {
      return failed(
        doc.errors.map((e) => ({ source, line: at(e.pos[0]), path: '', message: yamlMessage(e.message) })),
      );
    }
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      return failed([{ source, line: 1, path: '', message: (error as Error).message }]);
    }
  }

  const errors: CommissioningError[] = [];
  const report = (path: readonly PropertyKey[], message: string) =>
    errors.push({ source, line: locate(doc, path, at), path: formatPath(path), message });

  if (options.adminPassword !== undefined && hasAdminPassword(data)) {
    report(
      ['admin', 'password'],
      `give the admin password here or with ${options.adminPassword.source}, not both`,
    );
  }
  const parsed = commissioningSchema(declaredMinLength(data)).safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) report([...issue.path, key], `unknown field '${key}'`);
      } else {
        report(issue.path, issueMessage(issue, data));
      }
    }
  }
  if (options.adminPassword !== undefined) {
    const problem = deviceRule(() =>
      checkPassword(options.adminPassword?.value, { username: 'admin', minLength: declaredMinLength(data) }),
    );
    if (problem)
      errors.push({ source: options.adminPassword.source, line: null, path: '', message: problem });
  }
  if (options.checkMeter !== undefined) {
    const meter = (data as { meter?: unknown } | null)?.meter;
    const meterReported = errors.some((e) => e.path === 'meter');
    const problem = typeof meter === 'string' && !meterReported ? options.checkMeter(meter) : null;
    if (problem) report(['meter'], problem);
  }
  if (errors.length > 0 || !parsed.success) {
    checkNames(data, report);
    return failed(errors);
  }

  const file = parsed.data;
  const plan: CommissioningPlan = {
    adminPassword: options.adminPassword?.value ?? file.admin?.password ?? null,
    users: (file.users ?? []).map((user) => ({
      name: user.name,
      password: user.password ?? null,
      permissions:
        user.role !== undefined ? rolePermissions(user.role) : permissionsFromNames(user.permissions ?? []),
      localOnly: user.localOnly ?? false,
      ...(user.role !== undefined && { role: user.role as RoleName }),
    })),
    apiKeys: (file.apiKeys ?? []).map((key) => ({ name: key.name, preset: key.preset as PresetName })),
    standardUsers: {
      ...(file.standardUsers?.localgui && { localgui: permissionsFromNames(file.standardUsers.localgui) }),
      ...(file.standardUsers?.anonymous && { anonymous: permissionsFromNames(file.standardUsers.anonymous) }),
    },
    settings: mergedSettings(file),
    meter: file.meter === undefined ? null : { source: file.meter, line: locate(doc, ['meter'], at) },
  };
  checkAcrossEntries(data, plan, report);
  return errors.length > 0 ? failed(errors) : { ok: true, plan };
}

type CommissioningFile = z.infer<ReturnType<typeof commissioningSchema>>;

const PermissionListSchema = z.array(z.string().superRefine(deviceCheck((name) => permissionBit(name))));
const UsernameSchema = z.string().superRefine(deviceCheck(checkUsername));
const LockoutSchema = z.strictObject({
  delayAfterFailures: z.number().int().optional(),
  baseDelayMs: z.number().int().optional(),
  lockAfterFailures: z.number().int().optional(),
  lockSeconds: z.number().int().optional(),
  accountLockAfterFailures: z.number().int().optional(),
});

/** The schema, with the password rules at the file's own minimum length. */
function commissioningSchema(minLength: number) {
  const UserSchema = z
    .strictObject({
      name: UsernameSchema,
      password: z.string().optional(),
      role: z
        .string()
        .superRefine(deviceCheck((role) => rolePermissions(role)))
        .optional(),
      permissions: PermissionListSchema.optional(),
      localOnly: z.boolean().optional(),
    })
    .superRefine((user, ctx) => {
      if (user.role !== undefined && user.permissions !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['role'],
          message: 'give either role or permissions, not both',
        });
      }
      if (user.role === undefined && user.permissions === undefined) {
        ctx.addIssue({
          code: 'custom',
          message:
            'a user needs a role (VIEWER, OPERATOR, ENGINEER, INSTALLER, SECADM, SECAUD) or permissions',
        });
      }
      if (user.password === undefined) return;
      const problem = deviceRule(() => checkPassword(user.password, { username: user.name, minLength }));
      if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: problem });
    });
  return z.strictObject({
    version: z.literal(COMMISSIONING_FILE_VERSION, {
      error: (issue) =>
        issue.input === undefined
          ? `required: add 'version: ${COMMISSIONING_FILE_VERSION}' to the file`
          : `this firmware reads commissioning files of version ${COMMISSIONING_FILE_VERSION}`,
    }),
    admin: z
      .strictObject({
        password: z
          .string()
          .superRefine(deviceCheck((value: string) => checkPassword(value, { username: 'admin', minLength })))
          .optional(),
      })
      .optional(),
    users: z.array(UserSchema).optional(),
    apiKeys: z
      .array(
        z.strictObject({
          name: UsernameSchema,
          preset: z.string().superRefine(deviceCheck((preset) => presetPermissions(preset))),
        }),
      )
      .optional(),
    standardUsers: z
      .strictObject({ localgui: PermissionListSchema.optional(), anonymous: PermissionListSchema.optional() })
      .optional(),
    whitelist: z
      .array(
        z.string().superRefine((entry, ctx) => {
          if (parseWhitelistEntry(entry) === null) {
            ctx.addIssue({ code: 'custom', message: `'${entry}' is not an IPv4/IPv6 address or CIDR range` });
          }
        }),
      )
      .optional(),
    modbus: z
      .strictObject({ tcp: z.boolean().optional(), rtu: z.boolean().optional(), tls: z.boolean().optional() })
      .optional(),
    passwordMinLength: z.number().int().optional(),
    lockout: LockoutSchema.optional(),
    http: z
      .string()
      .superRefine((mode, ctx) => {
        if (!HTTP_MODES.includes(mode as HttpMode)) ctx.addIssue({ code: 'custom', message: HTTP_MODE_RULE });
      })
      .optional(),
    meter: z
      .string()
      .superRefine((text, ctx) => {
        try {
          parseMeterSpec(text);
        } catch (error) {
          if (!(error instanceof MeterSpecError)) throw error;
          ctx.addIssue({ code: 'custom', message: error.message });
        }
      })
      .optional(),
    hostnames: z
      .array(
        z.string().superRefine((name, ctx) => {
          const problem = hostnameProblem(name);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .optional(),
  });
}

/** What spans entries: predefined and repeated names, the five free slots, the settings as a whole. */
/**
 * Names across entries (predefined, unique regardless of case, at most five entries), on the file as
 * written: it runs even when the schema found errors, so one pass reports every error. Entries whose
 * name is no string are the schema's to report. Returns how many problems it reported.
 */
function checkNames(data: unknown, report: (path: readonly PropertyKey[], message: string) => void): number {
  const list = (field: string) => {
    const value = (data as Record<string, unknown> | null)?.[field];
    return Array.isArray(value) ? value : [];
  };
  const entries = [
    ...list('users').map((entry, i) => ({ entry, path: ['users', i] })),
    ...list('apiKeys').map((entry, i) => ({ entry, path: ['apiKeys', i] })),
  ];
  const seen = new Map<string, string>();
  let problems = 0;
  entries.forEach(({ entry, path }, i) => {
    const name = (entry as { name?: unknown } | null)?.name;
    if (i === DEFINABLE_SLOTS) {
      report(
        path,
        `at most ${DEFINABLE_SLOTS} users and API keys in all (slots 3–7); this is entry ${i + 1}`,
      );
      problems++;
    }
    if (typeof name !== 'string') return;
    const namePath = [...path, 'name'];
    // Names are unique regardless of case, as on the device.
    const key = name.toLowerCase();
    if (PREDEFINED_NAMES.includes(key)) {
      report(namePath, `'${name}' is a predefined user; choose another name`);
      problems++;
    } else if (seen.has(key)) {
      report(namePath, `the name '${name}' is already used by ${seen.get(key)}`);
      problems++;
    }
    seen.set(key, formatPath(path));
  });
  return problems;
}

function checkAcrossEntries(
  data: unknown,
  plan: CommissioningPlan,
  report: (path: readonly PropertyKey[], message: string) => void,
): void {
  const problems = checkNames(data, report);
  if (problems === 0) dryRun(plan, report);
  try {
    // The settings name no slot the file could change, so the factory table is enough to judge them.
    validateSecuritySettings(plan.settings, createDefaultTable(PLACEHOLDER_VERIFIER));
  } catch (error) {
    if (!isCoreError(error)) throw error;
    const field = error.details.field ?? '';
    report(
      fieldPath(field),
      error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message,
    );
  }
}

/**
 * The plan applied to a factory table in memory, as the device will apply it: whatever the user
 * table's own invariants refuse is reported against the entry that broke them, the first only.
 */
function dryRun(
  plan: CommissioningPlan,
  report: (path: readonly PropertyKey[], message: string) => void,
): void {
  const admin: Actor = {
    slot: ADMIN_SLOT,
    permissions: ALL_PERMISSIONS,
    mustChangePassword: false,
    localOnly: false,
  };
  let table = createDefaultTable(PLACEHOLDER_VERIFIER);
  const steps: [readonly PropertyKey[], () => UserTable][] = [
    ...(['localgui', 'anonymous'] as const).flatMap((name): [readonly PropertyKey[], () => UserTable][] => {
      const permissions = plan.standardUsers[name];
      const slot = name === 'localgui' ? LOCALGUI_SLOT : ANONYMOUS_SLOT;
      return permissions === undefined
        ? []
        : [[['standardUsers', name], () => setPermissions(table, admin, slot, permissions)]];
    }),
    ...plan.users.map((user, i): [readonly PropertyKey[], () => UserTable] => [
      ['users', i],
      () => addUser(table, admin, { ...user, verifier: PLACEHOLDER_VERIFIER }).table,
    ]),
    ...plan.apiKeys.map((key, i): [readonly PropertyKey[], () => UserTable] => [
      ['apiKeys', i],
      () => addApiKey(table, admin, { ...key, keyHash: new Uint8Array(32), createdAt: 0 }).table,
    ]),
  ];
  for (const [path, step] of steps) {
    const problem = deviceRule(() => {
      table = step();
    });
    if (problem) {
      report(path, problem);
      return;
    }
  }
}

/** Stands in for verifiers in the dry run: the KDF runs only when the device state is built. */
const PLACEHOLDER_VERIFIER: PasswordVerifier = {
  kdf: 'pbkdf2-sha256',
  iterations: 0,
  salt: new Uint8Array(16),
  publicKey: new Uint8Array(32),
};

function mergedSettings(file: CommissioningFile): SecuritySettings {
  const defaults = DEFAULT_SECURITY_SETTINGS;
  return {
    ...defaults,
    passwordMinLength: file.passwordMinLength ?? defaults.passwordMinLength,
    lockout: { ...defaults.lockout, ...file.lockout },
    whitelist: file.whitelist ?? defaults.whitelist,
    http: (file.http as HttpMode | undefined) ?? defaults.http,
    hostnames: file.hostnames ?? defaults.hostnames,
    communication: {
      ...defaults.communication,
      modbusTcp: file.modbus?.tcp ?? defaults.communication.modbusTcp,
      modbusRtu: file.modbus?.rtu ?? defaults.communication.modbusRtu,
      modbusTls: file.modbus?.tls ?? defaults.communication.modbusTls,
    },
  };
}

/** The minimum the file's passwords are judged by: its own `passwordMinLength` when that is valid. */
function declaredMinLength(data: unknown): number {
  const value = isRecord(data) ? data.passwordMinLength : undefined;
  return typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= PASSWORD_MIN_LENGTH_FLOOR &&
    value <= 64
    ? value
    : PASSWORD_MIN_LENGTH_FLOOR;
}

function hasAdminPassword(data: unknown): boolean {
  return isRecord(data) && isRecord(data.admin) && data.admin.password !== undefined;
}

/** Runs a check of the device's core; its error, as one line, or null when it passed. */
function deviceRule(check: () => unknown): string | null {
  try {
    check();
    return null;
  } catch (error) {
    if (!isCoreError(error)) throw error;
    return describeCoreError(error);
  }
}

/** A zod refinement from a device rule that throws a CoreError. */
function deviceCheck<T>(check: (value: T) => unknown) {
  return (value: T, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }) => {
    const problem = deviceRule(() => check(value));
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  };
}

function describeCoreError(error: CoreError): string {
  const known = error.details.known;
  return known && known.length > 0 ? `${error.message}; known: ${known.join(', ')}` : error.message;
}

/** Zod's issue as a sentence for someone editing YAML: which kind of value was expected and found. */
function issueMessage(issue: z.core.$ZodIssue, data: unknown): string {
  if (issue.code !== 'invalid_type') return issue.message;
  const found = valueAt(data, issue.path);
  if (found === undefined) return 'required';
  if (issue.path.length === 0 && found === null)
    return `the file is empty; it needs at least 'version: ${COMMISSIONING_FILE_VERSION}'`;
  const expected = KIND_NAMES[issue.expected] ?? issue.expected;
  if (issue.expected === 'int' && typeof found === 'number') return 'must be a whole number';
  // YAML reads 12345678 and true as a number and a boolean; a password or name like that needs quotes.
  const quote = issue.expected === 'string' && (typeof found === 'number' || typeof found === 'boolean');
  return `expected ${expected}, got ${kindOf(found)}${quote ? ' (put it in quotes)' : ''}`;
}

const KIND_NAMES: Record<string, string> = {
  object: 'a mapping (key: value)',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

function kindOf(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A settings rule's field (`lockout.lockSeconds`, `whitelist[3]`) as a path in the file. */
function fieldPath(field: string): PropertyKey[] {
  const FILE_NAMES: Record<string, string[]> = {
    'communication.modbusTcp': ['modbus', 'tcp'],
    'communication.modbusRtu': ['modbus', 'rtu'],
    'communication.modbusTls': ['modbus', 'tls'],
  };
  if (FILE_NAMES[field]) return FILE_NAMES[field];
  return field
    .split(/[.[\]]/)
    .filter((part) => part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/**
 * Strict JSON syntax, with the line of the first error. JSON.parse's message quotes the source (and
 * with it maybe a password), so only its sentence is kept; where it gives no position, the YAML
 * parser's JSON mode finds the spot.
 */
function jsonSyntaxError(
  text: string,
  doc: Document,
  at: (offset: number) => number,
): { line: number; message: string } | null {
  try {
    JSON.parse(text);
    return null;
  } catch (error) {
    const raw = (error as Error).message;
    const position = /at position (\d+)/.exec(raw);
    const message = `invalid JSON: ${raw
      .replace(/^(Unexpected token\b).*$/s, '$1')
      .replace(/ in JSON at position \d+.*$/s, '')}`;
    if (position) return { line: at(Number(position[1])), message };
    if (/end of JSON input/.test(raw)) return { line: at(text.length), message };
    const strict = parseDocument(text, { prettyErrors: false, schema: 'json' });
    const first = [...strict.errors, ...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])[0];
    return { line: first ? at(first.pos[0]) : 1, message };
  }
}

/** yaml's messages start with a capital and may end with a colon before a context excerpt. */
function yamlMessage(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}

function failed(errors: readonly CommissioningError[]): CommissioningResult {
  return { ok: false, errors: [...errors].sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };
}
