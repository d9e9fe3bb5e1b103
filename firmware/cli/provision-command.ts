/**
 * `metergate provision --data-dir D --file commissioning.yaml`: builds a new device's data dir offline
 * from a commissioning file. The file is checked in full first (a bad one creates nothing); then the
 * data dir is made as the device's first boot makes it (root key, flash image, factory table) and the
 * declared state is applied through the SecurityService as the admin, as the REST API would apply it.
 * The admin ends with a unique password that need not be changed. Prints the generated admin
 * password and API keys once, on stdout; nothing else ever shows a secret.
 */
import { randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DataDirBusyError,
  type DataDirPaths,
  dataDirPaths,
  deviceSerial,
  lockDataDir,
} from '../boot/data-dir.ts';
import { isCoreError } from '../core/core-error.ts';
import { checkPassword } from '../core/password-rules.ts';
import { permissionNames } from '../core/permission-table.ts';
import { ANONYMOUS_SLOT, LOCALGUI_SLOT } from '../core/slots.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../keys/file-key-provider.ts';
import { loadProfile, ProfileError } from '../meter/meter-profile.ts';
import { parseMeterSpec } from '../meter/meter-spec.ts';
import type { RequestContext } from '../services/request-context.ts';
import { SecurityService } from '../services/security-service.ts';
import { ConfigStore } from '../store/config-store.ts';
import { FileFlash } from '../store/file-flash.ts';
import { SecureStore } from '../store/secure-store.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import {
  type CommissioningPlan,
  formatCommissioningError,
  parseCommissioningFile,
} from './commissioning-file.ts';

const USAGE = `usage: metergate provision --data-dir DIR --file FILE [--admin-password-file F] [--keys-file F]

Builds a new device's data directory (flash image and keys) offline from a commissioning file
(YAML, or JSON when FILE ends in .json): admin password, users with a role or permissions, API keys
with a preset, the rights of localgui and anonymous, client whitelist, Modbus enables, password and
lockout policy. See docs/operations.md (Provisioning) and docs/examples/commissioning.yaml.

  --data-dir DIR            the new data directory; refused if it already holds a flash image or keys
  --file FILE               the commissioning file (version: 1)
  --admin-password-file F   read the admin password from F (first line) instead of the file
  --keys-file F             also write the generated API keys to F (new file, mode 0600) as JSON

Without an admin password one is generated and printed once on stdout, as are the API keys.
The whole file is checked before anything is created; errors name the line and field (exit code 2).`;

/** 20 characters from 57 hard to misread (no 0/O, 1/l/I): about 116 bits. */
const GENERATED_PASSWORD_LENGTH = 20;
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

const CLI_CONTEXT: RequestContext = { interface: 'cli' };

export async function provisionCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    'data-dir': { type: 'string' },
    file: { type: 'string' },
    'admin-password-file': { type: 'string' },
    'keys-file': { type: 'string' },
  });
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (!values['data-dir']) throw new CliError('--data-dir is required: the new device data directory', 2);
  if (!values.file) throw new CliError('--file is required: the commissioning file (YAML or JSON)', 2);
  const fileName = values.file;
  const adminPasswordFile = values['admin-password-file'];

  const result = parseCommissioningFile(readText(fileName, '--file'), {
    fileName,
    checkMeter: meterProfileProblem,
    ...(adminPasswordFile !== undefined && {
      adminPassword: {
        value: firstLine(readText(adminPasswordFile, '--admin-password-file')),
        source: adminPasswordFile,
      },
    }),
  });
  if (!result.ok) {
    for (const error of result.errors) io.err(formatCommissioningError(error));
    const count = result.errors.length;
    throw new CliError(`${count} error${count === 1 ? '' : 's'} in ${fileName}; nothing was created`, 2);
  }
  const { plan } = result;
  const paths = dataDirPaths(values['data-dir']);
  refuseUsedDataDir(paths);
  const keysFile = values['keys-file'];
  if (keysFile !== undefined) refuseUsedKeysFile(keysFile);

  const adminPassword = plan.adminPassword ?? generatePassword(plan.settings.passwordMinLength, 'admin');
  // A user without a password in the file (an exported file has none) gets one to change at first login.
  const generated = new Map(
    plan.users
      .filter((user) => user.password === null)
      .map((user) => [user.name, generatePassword(plan.settings.passwordMinLength, user.name)]),
  );
  const built = await buildDataDir(paths, plan, adminPassword, generated, io);

  io.out(
    `provisioned ${paths.dir} (serial ${built.serial}): admin, ${plan.users.length} user${plan.users.length === 1 ? '' : 's'}, ` +
      `${built.keys.length} API key${built.keys.length === 1 ? '' : 's'}; boot it with: metergate run --data-dir ${paths.dir}`,
  );
  if (plan.adminPassword === null) io.out(`admin password (generated, shown only now): ${adminPassword}`);
  for (const [name, password] of generated)
    io.out(`password of ${name} (generated, shown only now; to be changed at first login): ${password}`);
  for (const { name, preset, key } of built.keys)
    io.out(`API key ${name} (${preset}, shown only now): ${key}`);
  if (keysFile !== undefined) {
    const json = `${JSON.stringify(Object.fromEntries(built.keys.map((k) => [k.name, k.key])), null, 2)}\n`;
    try {
      writeFileSync(keysFile, json, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      throw new CliError(
        `the device is provisioned, but --keys-file ${keysFile} could not be written (${(error as Error).message}): take the keys from above`,
      );
    }
    io.err(`API keys written to ${keysFile} (mode 0600)`);
  }
  return 0;
}

/**
 * First boot and the declared state, under the data-dir lock. Whatever fails half-way is removed
 * again: a data dir is provisioned completely or not at all.
 */
async function buildDataDir(
  paths: DataDirPaths,
  plan: CommissioningPlan,
  adminPassword: string,
  generated: ReadonlyMap<string, string>,
  io: CommandIo,
): Promise<{ serial: string; keys: { name: string; preset: string; key: string }[] }> {
  const dirExisted = existsSync(paths.dir);
  const serialExisted = existsSync(paths.serialFile);
  let unlock: () => void;
  try {
    unlock = lockDataDir(paths);
  } catch (error) {
    if (error instanceof DataDirBusyError) throw new CliError(error.message);
    throw error;
  }
  let flash: FileFlash | null = null;
  try {
    io.err(`first boot of ${paths.dir}: root key, flash image, factory table…`);
    flash = FileFlash.open({ path: paths.flashImage, create: true });
    const opened = await SecureStore.open({
      flash,
      keys: new FileKeyProvider(paths.keysDir),
      counter: new FileMonotonicCounter(paths.counterFile),
      now: Date.now,
    });
    if (opened.mode !== 'normal') throw new CliError(`the new flash store did not open: ${opened.reason}`);
    const security = new SecurityService(opened.store, { now: Date.now });

    io.err(`deriving password verifiers (${1 + plan.users.length})…`);
    // The factory admin may only set its own password; that also clears must-change-password, which is
    // right for a unique per-device password.
    await security.changeOwnPassword(security.actorFor(0), true, adminPassword, CLI_CONTEXT);
    const admin = security.actorFor(0);
    await security.updateSettings(admin, plan.settings, CLI_CONTEXT);
    for (const [slot, permissions] of [
      [LOCALGUI_SLOT, plan.standardUsers.localgui],
      [ANONYMOUS_SLOT, plan.standardUsers.anonymous],
    ] as const) {
      if (permissions !== undefined) await security.updateEntry(admin, slot, { permissions }, CLI_CONTEXT);
    }
    for (const user of plan.users) {
      const password = user.password ?? generated.get(user.name);
      if (password === undefined) throw new Error(`no password for ${user.name}`);
      await security.addUser(
        admin,
        { ...user, password, mustChangePassword: user.password === null },
        CLI_CONTEXT,
      );
      io.err(`user ${user.name}: ${permissionNames(user.permissions).join(', ') || '(no permissions)'}`);
    }
    if (plan.meter !== null) {
      const config = ConfigStore.open(flash, opened.rootKey, opened.store);
      config.commit({ ...config.config, meterSource: plan.meter.source });
      io.err(`meter source stored: ${plan.meter.source}`);
    }
    const keys: { name: string; preset: string; key: string }[] = [];
    for (const apiKey of plan.apiKeys) {
      const { key } = await security.addApiKey(admin, apiKey, CLI_CONTEXT);
      keys.push({ ...apiKey, key });
    }
    flash.sync();
    return { serial: deviceSerial(paths), keys };
  } catch (error) {
    flash?.close();
    flash = null;
    removeBuilt(paths, dirExisted, serialExisted);
    if (isCoreError(error)) throw new CliError(`${error.message}; nothing was created`);
    throw error;
  } finally {
    flash?.close();
    unlock();
  }
}

/**
 * The file's `meter:` names a profile: it must load here as it must at boot (a built-in name, or a
 * profile file on this machine), else nothing is created and the error names the line.
 */
function meterProfileProblem(source: string): string | null {
  let spec: ReturnType<typeof parseMeterSpec>;
  try {
    spec = parseMeterSpec(source);
  } catch {
    return null; // the syntax is the schema's to report
  }
  if (spec.kind === 'sim') return null;
  try {
    loadProfile(spec.profile);
    return null;
  } catch (error) {
    const detail = error instanceof ProfileError ? error.message : (error as Error).message;
    return `profile '${spec.profile}': ${detail}`;
  }
}

/** Only a new device is provisioned: never a data dir that has a flash image or keys. */
function refuseUsedDataDir(paths: DataDirPaths): void {
  if (!existsSync(paths.dir)) return;
  if (!statSync(paths.dir).isDirectory()) throw new CliError(`${paths.dir} exists and is not a directory`);
  if (existsSync(paths.flashImage)) {
    throw new CliError(
      `${paths.dir} already holds a flash image (flash.img): provision builds new devices only; choose a new directory`,
    );
  }
  if (existsSync(paths.keysDir) && readdirSync(paths.keysDir).length > 0) {
    throw new CliError(
      `${paths.dir} already holds device keys (keys/): provision builds new devices only; choose a new directory`,
    );
  }
}

function refuseUsedKeysFile(path: string): void {
  if (existsSync(path)) throw new CliError(`--keys-file ${path} already exists; it is never overwritten`);
  if (!existsSync(dirname(path))) throw new CliError(`--keys-file ${path}: no directory ${dirname(path)}`);
}

function removeBuilt(paths: DataDirPaths, dirExisted: boolean, serialExisted: boolean): void {
  if (!dirExisted) {
    rmSync(paths.dir, { recursive: true, force: true });
    return;
  }
  rmSync(paths.flashImage, { force: true });
  rmSync(paths.keysDir, { recursive: true, force: true });
  if (!serialExisted) rmSync(paths.serialFile, { force: true });
}

/** A password from the OS CSPRNG that passes the device's own rules at the file's minimum length. */
function generatePassword(minLength: number, username: string): string {
  const length = Math.max(GENERATED_PASSWORD_LENGTH, minLength);
  for (;;) {
    const password = Array.from(
      { length },
      () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)] as string,
    ).join('');
    try {
      return checkPassword(password, { username, minLength });
    } catch (error) {
      // Astronomically rare (the user's name drawn by chance): draw again.
      if (!isCoreError(error, 'invalid-password')) throw error;
    }
  }
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `${flag} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
      2,
    );
  }
}

/** A password file's first line, without its line ending (editors add one). */
function firstLine(text: string): string {
  return text.split(/\r?\n/)[0] ?? '';
}
