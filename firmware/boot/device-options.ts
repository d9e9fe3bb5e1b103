/**
 * The device's command line (DESIGN §6): every flag, its default, and validation that names the flag
 * that is wrong. Port 0 means "any free port"; `null` means the listener is off.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SCREEN_SIZE, type ScreenSize } from '../display/screen-renderer.ts';
import { type MeterSpec, MeterSpecError, parseMeterSpec } from '../meter/meter-spec.ts';

export interface DeviceOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly httpPort: number | null;
  readonly httpsPort: number | null;
  readonly modbusPort: number | null;
  readonly modbusTlsPort: number | null;
  /** Serial device for Modbus RTU, or null. */
  readonly rtu: string | null;
  /** `tty` (the console), `none`, or a serial device / pty path. */
  readonly display: string;
  /** The display's text size in characters. */
  readonly displaySize: ScreenSize;
  /** Run against the simulated meter (`--sim`, or `--meter sim`). */
  readonly sim: boolean;
  /**
   * The metering front end (`--meter`; `--sim` is `--meter sim`). Null: none was chosen, and the
   * device refuses to start (NO_METER_MESSAGE). Absent (in-process test fixtures): `sim` decides.
   */
  readonly meter?: MeterSpec | null;
  /** The built website (index.html, assets/), served at `/`. */
  readonly webDir: string;
  /** Simulator: die as by power loss once this many bytes have been written to flash. */
  readonly simPowercutAfterBytes: number | null;
  /** Where the root key comes from: a file in the data dir, or the Pi's OTP key (default `file`). */
  readonly keyProvider?: 'file' | 'otp';
  /** The anti-rollback counter's file; null: `<data-dir>/keys/rollback.counter`. */
  readonly counterFile?: string | null;
  /** The update launcher's layout (docs/updates.md), passed by the launcher; null: none. */
  readonly firmwareDir?: string | null;
  /** Where an accepted update bundle waits for the launcher; null: `<data-dir>/update`. */
  readonly updateSpool?: string | null;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Why a device started without a metering front end refuses to start (docs/meters.md quotes it). */
export const NO_METER_MESSAGE =
  'no meter source chosen: this device never invents values. Start it with --meter SOURCE, e.g. ' +
  "--meter 'modbus-rtu:/dev/ttyUSB0?baud=9600&parity=even&unit=1&profile=eastron-sdm630', " +
  "--meter 'modbus-tcp://192.0.2.10:502?unit=1&profile=eastron-sdm630', or --sim for the simulated " +
  'meter (see docs/meters.md, "Choosing the meter source")';

export const DEVICE_USAGE = `usage: metergate [run] [options]

Boots the metergate device.

  --data-dir DIR                  data directory: flash image, keys (default ./var)
  --host ADDR                     address to listen on (default 127.0.0.1)
  --http-port N                   HTTP port, 0 = any free port (default 8080)
  --https-port N                  HTTPS port (default 8443)
  --modbus-port N                 Modbus TCP port when enabled (default 5020)
  --modbus-tls-port N             Modbus/TCP Security port when enabled (default 8020)
  --rtu PATH                      serial device for Modbus RTU
  --display tty|none|PATH         local display: console, off, or a serial device / pty
                                  (default: tty when started in a terminal, else none)
  --display-size COLSxROWS        the display's size in characters (default 20x8)
  --meter SOURCE                  the metering front end (required, or --sim):
                                    sim
                                    modbus-rtu:/dev/ttyUSB0?baud=9600&parity=even&unit=1&profile=NAME
                                      (also stopbits=1|2, databits=7|8)
                                    modbus-tcp://HOST:PORT?unit=1&profile=NAME
                                  polling options of both Modbus forms: interval=1s, timeout=1s,
                                  retries=1, stale-after=3 (missed polls); see docs/meters.md
  --sim                           use the simulated meter (the same as --meter sim)
  --web-dir DIR                   the built website (default: web/ beside the firmware bundle)
  --sim-powercut-after-bytes N    simulator: lose power after N bytes written to flash
  --key-provider file|otp         root key: a file in the data dir, or derived from the
                                  Raspberry Pi's OTP key, falling back to the file (default file)
  --counter-file PATH             the anti-rollback counter (default DIR/keys/rollback.counter);
                                  outside the data dir, a wiped or replaced data dir is refused
  --firmware-dir DIR              the update launcher's A/B layout (the launcher passes it)
  --update-spool DIR              where an uploaded update waits (default DIR/update)
  -h, --help                      this text

When every listener is bound, one line 'metergate ready <json>' is printed on stdout.`;

/** Parses argv (without node and script). Throws UsageError naming the bad flag. */
export function parseDeviceOptions(
  argv: readonly string[],
  env: { isTTY: boolean; webDir: string },
): DeviceOptions | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const extra = positionals.filter((arg, i) => !(i === 0 && arg === 'run'));
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const meter = meterSpec(values.meter, values.sim ?? false);
  return {
    dataDir: values['data-dir'] ?? './var',
    host: values.host ?? '127.0.0.1',
    httpPort: port(values['http-port'], '--http-port', 8080),
    httpsPort: port(values['https-port'], '--https-port', 8443),
    modbusPort: port(values['modbus-port'], '--modbus-port', 5020),
    modbusTlsPort: port(values['modbus-tls-port'], '--modbus-tls-port', 8020),
    rtu: values.rtu ?? null,
    display: values.display ?? (env.isTTY ? 'tty' : 'none'),
    displaySize: screenSize(values['display-size']),
    sim: meter?.kind === 'sim',
    meter,
    webDir: values['web-dir'] ?? env.webDir,
    simPowercutAfterBytes:
      values['sim-powercut-after-bytes'] === undefined
        ? null
        : count(values['sim-powercut-after-bytes'], '--sim-powercut-after-bytes'),
    keyProvider: keyProvider(values['key-provider']),
    counterFile: counterFile(values['counter-file']),
    firmwareDir: values['firmware-dir'] ?? null,
    updateSpool: values['update-spool'] ?? null,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      'data-dir': { type: 'string' },
      host: { type: 'string' },
      'http-port': { type: 'string' },
      'https-port': { type: 'string' },
      'modbus-port': { type: 'string' },
      'modbus-tls-port': { type: 'string' },
      rtu: { type: 'string' },
      display: { type: 'string' },
      'display-size': { type: 'string' },
      sim: { type: 'boolean' },
      meter: { type: 'string' },
      'web-dir': { type: 'string' },
      'sim-powercut-after-bytes': { type: 'string' },
      'key-provider': { type: 'string' },
      'counter-file': { type: 'string' },
      'firmware-dir': { type: 'string' },
      'update-spool': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function port(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = count(value, flag);
  if (n > 65535) throw new UsageError(`${flag} must be a port number 0–65535, got '${value}'`);
  return n;
}

function count(value: string, flag: string): number {
  if (!/^\d{1,10}$/.test(value)) throw new UsageError(`${flag} must be a whole number, got '${value}'`);
  return Number(value);
}

function meterSpec(value: string | undefined, sim: boolean): MeterSpec | null {
  if (value === undefined) return sim ? { kind: 'sim' } : null;
  let spec: MeterSpec;
  try {
    spec = parseMeterSpec(value);
  } catch (error) {
    if (error instanceof MeterSpecError) throw new UsageError(`--meter: ${error.message}`);
    throw error;
  }
  if (sim && spec.kind !== 'sim') {
    throw new UsageError(`--sim and --meter ${spec.kind} contradict each other: choose one meter source`);
  }
  return spec;
}

function keyProvider(value: string | undefined): 'file' | 'otp' {
  if (value === undefined || value === 'file' || value === 'otp') return value ?? 'file';
  throw new UsageError(`--key-provider must be 'file' or 'otp', got '${value}'`);
}

function counterFile(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (value.trim() === '' || value.endsWith('/')) {
    throw new UsageError(`--counter-file must name a file, got '${value}'`);
  }
  return value;
}

function screenSize(value: string | undefined): ScreenSize {
  if (value === undefined) return DEFAULT_SCREEN_SIZE;
  const match = /^(\d{1,3})x(\d{1,3})$/.exec(value);
  const cols = Number(match?.[1]);
  const rows = Number(match?.[2]);
  if (!match || cols < 16 || cols > 80 || rows < 4 || rows > 40) {
    throw new UsageError(`--display-size must be COLSxROWS with 16–80 columns and 4–40 rows, got '${value}'`);
  }
  return { cols, rows };
}
