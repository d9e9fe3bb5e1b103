/**
 * `metergate inspect --data-dir D [--json]`: the slots (names, types, permission names, flags), the
 * health of both record copies, of the configuration record, of the files bound to the counter and of
 * the event log (against the anchors of the committed state). Read-only, and never prints a secret or
 * verifier.
 */
import { existsSync } from 'node:fs';
import { dataDirPaths, TLS_FILES_PREFIX } from '../boot/data-dir.ts';
import { SLOT_COUNT } from '../core/slots.ts';
import { describeEntry, slotOfEntry, type UserTable } from '../core/user-table.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../keys/file-key-provider.ts';
import { OtpKeyProvider } from '../keys/otp-key-provider.ts';
import { AnchoredFiles } from '../store/anchored-files.ts';
import { ConfigStore } from '../store/config-store.ts';
import { FileFlash } from '../store/file-flash.ts';
import { FlashImageError } from '../store/flash.ts';
import { SecureStore } from '../store/secure-store.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';

/** How SecureStore.open (read-only) begins the reason for a data dir a boot would initialise. */
const NOT_INITIALISED = 'not initialised';

const USAGE = `usage: metergate inspect --data-dir DIR [--json] [--key-provider file|otp] [--counter-file PATH]

Shows the user table, the security settings and the health of the flash store of a data directory.
Never shows a password, verifier or key. Exit code 3 when the store would put the device in safe mode;
a data dir in factory state (after a factory reset) says 'factory state: boots as a new device', exit 0.
--key-provider otp: the data dir of a device run with its root key from the Raspberry Pi's OTP key
(run it on that Pi); default file. --counter-file: the counter of a device run with --counter-file.`;

export async function inspectCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
    'key-provider': { type: 'string' },
    'counter-file': { type: 'string' },
  });
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const provider = values['key-provider'] ?? 'file';
  if (provider !== 'file' && provider !== 'otp') {
    throw new CliError(`--key-provider must be 'file' or 'otp', got '${provider}'`, 2);
  }
  const paths = dataDirPaths(values['data-dir'] ?? './var');
  if (!existsSync(paths.flashImage)) {
    throw new CliError(`no flash image at ${paths.flashImage}: has a device booted on this data dir?`);
  }
  let flash: FileFlash;
  try {
    flash = FileFlash.open({ path: paths.flashImage });
  } catch (error) {
    if (error instanceof FlashImageError) throw new CliError(error.message, 3);
    throw error;
  }
  try {
    const opened = await SecureStore.open(
      {
        flash,
        keys:
          provider === 'otp'
            ? new OtpKeyProvider({ keysDir: paths.keysDir, log: (message) => io.err(message) })
            : new FileKeyProvider(paths.keysDir),
        counter: new FileMonotonicCounter(values['counter-file'] ?? paths.counterFile),
        now: Date.now,
      },
      { readOnly: true },
    );
    // Read-only, the store answers a data dir a boot would initialise (after a factory reset, before
    // the first boot finished) with a 'not initialised' refusal: that is no fault, the device boots
    // as a new one.
    if (opened.mode === 'safe' && opened.reason.startsWith(NOT_INITIALISED)) {
      if (values.json) io.out(JSON.stringify({ mode: 'factory', detail: opened.reason }, null, 2));
      else io.out(`data dir: ${paths.dir}\nfactory state: boots as a new device (${opened.reason})`);
      return 0;
    }
    if (opened.mode === 'safe') {
      if (values.json)
        io.out(JSON.stringify({ mode: 'safe', reason: opened.reason, copies: opened.copies }, null, 2));
      else {
        io.out(`data dir: ${paths.dir}\nmode: SAFE: ${opened.reason}`);
        for (const copy of opened.copies)
          io.out(`copy ${copy.copy}: ${copy.state}${copy.reason ? ` (${copy.reason})` : ''}`);
      }
      return 3;
    }
    const { store } = opened;
    const { table, settings } = store.state;
    const config = ConfigStore.open(flash, opened.rootKey, store, { readOnly: true }).health;
    const refusedFiles = [
      ...new AnchoredFiles(paths.tlsDir, TLS_FILES_PREFIX, store).verify({ readOnly: true }).values(),
    ];
    const integrity = store.log.integrity();
    const degraded = [
      ...(config.state === 'damaged' || config.state === 'rolled-back'
        ? [`configuration ${config.state}: ${config.detail}`]
        : []),
      ...refusedFiles,
      ...(integrity.state === 'broken' ? [`event log: ${integrity.detail}`] : []),
    ];
    const slots = Array.from({ length: SLOT_COUNT }, (_, slot) => describeEntry(table, slot));
    const events = store.log.readAll();
    const report = {
      mode: 'normal',
      sequence: store.sequence,
      copies: opened.copies,
      slots,
      settings: {
        passwordMinLength: settings.passwordMinLength,
        communication: settings.communication,
        whitelist: settings.whitelist,
        lockout: settings.lockout,
        tls: settings.tls,
      },
      configuration: config,
      files: { refused: refusedFiles },
      eventLog: {
        events: events.length,
        damaged: store.log.damagedEntries,
        integrity: { state: integrity.state, detail: integrity.detail },
      },
      degraded,
    };
    if (values.json) {
      io.out(JSON.stringify(report, null, 2));
      return 0;
    }
    io.out(`data dir: ${paths.dir}`);
    io.out(
      `mode: normal, security record sequence ${store.sequence} (${opened.copies
        .map((c) => `copy ${c.copy} ${c.state}${c.seq !== undefined ? ` #${c.seq}` : ''}`)
        .join(', ')})`,
    );
    io.out('');
    io.out(`${'slot'.padEnd(5)}${'type'.padEnd(10)}${'name'.padEnd(34)}permissions / flags`);
    for (const slot of slots) {
      const rights = slot.type === 'empty' ? '' : slot.permissions.join(', ') || '(none)';
      const flags = slot.flags.length ? `  [${slot.flags.join(', ')}]` : '';
      io.out(
        `${String(slot.slot).padEnd(5)}${slot.type.padEnd(10)}${(slot.name ?? '-').padEnd(34)}${rights}${flags}`,
      );
    }
    io.out('');
    const comm = settings.communication;
    io.out(
      `modbus tcp: ${onOff(comm.modbusTcp)}, modbus rtu: ${onOff(comm.modbusRtu)}, modbus/tcp security: ${onOff(comm.modbusTls)}, ` +
        `modbus tcp acts as ${principalText(table, comm.modbusPrincipal)}, modbus rtu as ${principalText(table, comm.rtuPrincipal)}`,
    );
    io.out(
      `client whitelist: ${settings.whitelist.length ? settings.whitelist.join(', ') : '(empty: every address may connect)'}`,
    );
    io.out(
      `event log: ${events.length} events${store.log.damagedEntries ? `, ${store.log.damagedEntries} damaged` : ''}, ${integrity.state}${integrity.detail ? ` (${integrity.detail})` : ''}`,
    );
    io.out(`configuration: ${config.state}${config.detail ? ` (${config.detail})` : ''}`);
    for (const problem of degraded) io.out(`DEGRADED: ${problem}`);
    return 0;
  } finally {
    flash.close();
  }
}

function onOff(value: boolean): string {
  return value ? 'enabled' : 'blocked';
}

/** A Modbus principal for people: the slot and name of the entry it names, or that it is gone. */
function principalText(table: UserTable, id: number): string {
  const slot = slotOfEntry(table, id);
  return slot === null
    ? `entry #${id} (deleted: acts as nobody)`
    : `slot ${slot} (${table.slots[slot]?.name})`;
}
