/**
 * The Raspberry Pi's key provider (Pi 4/5): the root key is derived from the board's 256-bit device
 * private key in OTP, read with `rpi-otp-private-key`, so a copied SD card or data dir is useless on
 * any other board. The OTP key never touches a cipher itself: the root key is
 * HKDF-SHA256(OTP key, salt = the data dir's generation salt, info = OTP_ROOT_KEY_INFO).
 *
 * OTP is written once in a board's life (`rpi-otp-private-key -w`, see docs/raspberry-pi.md), so
 * "create" and "destroy" act on the generation salt (`keys/otp.salt`, 32 random bytes, mode 0600):
 * a factory reset deletes it, the next boot draws a new one, and the root key is a new one although
 * the OTP key is the same.
 *
 * Without a usable OTP key (tool missing, failing, or the key not provisioned: all zeros) it falls
 * back to the file provider in the same directory and logs a warning. The choice is made once, at
 * the first call, and kept for the provider's life.
 */
import { execFileSync } from 'node:child_process';
import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileKeyProvider, KeyFileError, writeAtomically } from './file-key-provider.ts';
import { type KeyProvider, ROOT_KEY_BYTES } from './key-provider.ts';

/** The HKDF info of the root key: fixed, so the same OTP key and salt always give the same root key. */
export const OTP_ROOT_KEY_INFO = 'metergate/otp-root-key/v1';
/** The generation salt's file in the keys directory. */
export const OTP_SALT_FILE = 'otp.salt';
/** The tool of the rpi-eeprom package that reads the device private key (64 hex digits). */
export const OTP_TOOL = 'rpi-otp-private-key';

const SALT_BYTES = 32;

export interface OtpKeyProviderOptions {
  /** The keys directory of the data dir (salt, and the fallback's root.key). */
  readonly keysDir: string;
  /** Warnings and the provider chosen (stderr in the device process). */
  readonly log: (message: string) => void;
  /** The reader command, looked up on PATH. Default `rpi-otp-private-key`. */
  readonly command?: string;
  /** The reader's environment (its PATH). Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long the reader may take. Default 10 s. */
  readonly timeoutMs?: number;
}

/** What reading OTP gave: the key, or why there is none. */
export type OtpReading = { readonly key: Uint8Array } | { readonly unavailable: string };

type Mode =
  | { readonly kind: 'otp'; readonly otpKey: Uint8Array }
  | { readonly kind: 'file'; readonly why: string };

export class OtpKeyProvider implements KeyProvider {
  private mode: Mode | null = null;
  private readonly fallback: FileKeyProvider;
  private readonly saltPath: string;

  constructor(private readonly options: OtpKeyProviderOptions) {
    this.fallback = new FileKeyProvider(options.keysDir);
    this.saltPath = join(options.keysDir, OTP_SALT_FILE);
  }

  get description(): string {
    if (this.mode === null) return `otp:${this.saltPath} (OTP not read yet)`;
    if (this.mode.kind === 'otp') return `otp:${this.saltPath}`;
    return `${this.fallback.description} (OTP fallback: ${this.mode.why})`;
  }

  loadRootKey(): Uint8Array | null {
    const mode = this.resolve();
    if (mode.kind === 'file') return this.fallback.loadRootKey();
    const salt = readSalt(this.saltPath);
    return salt === null ? null : deriveOtpRootKey(mode.otpKey, salt);
  }

  /** A new generation salt (OTP itself is never written) and the root key it gives. */
  createRootKey(): Uint8Array {
    const mode = this.resolve();
    if (mode.kind === 'file') return this.fallback.createRootKey();
    const salt = new Uint8Array(randomBytes(SALT_BYTES));
    writeAtomically(this.options.keysDir, OTP_SALT_FILE, salt);
    return deriveOtpRootKey(mode.otpKey, salt);
  }

  /** Factory reset: the generation salt and any file key go; OTP cannot be erased and need not be. */
  destroyRootKey(): void {
    destroyOtpGeneration(this.options.keysDir);
    this.fallback.destroyRootKey();
  }

  private resolve(): Mode {
    if (this.mode !== null) return this.mode;
    const { keysDir, log } = this.options;
    const reading = readOtpKey(this.options);
    const saltExists = readSalt(this.saltPath) !== null;
    if ('unavailable' in reading) {
      log(
        `WARNING: key provider otp: ${reading.unavailable}; falling back to the root key file in ${keysDir}`,
      );
      if (saltExists) {
        log(
          `WARNING: ${this.saltPath} exists: this data dir's root key was derived from the OTP key, ` +
            'so without OTP the store cannot be read (safe mode until OTP is readable again)',
        );
      }
      this.mode = { kind: 'file', why: reading.unavailable };
    } else if (!saltExists && this.fallback.loadRootKey() !== null) {
      // A data dir made with the file provider: switching would lose the table. Kept until a factory reset.
      log(
        `WARNING: key provider otp: ${keysDir} holds a root key file from before OTP was used; it stays ` +
          'in use until a factory reset moves the device to the OTP-derived key',
      );
      this.mode = { kind: 'file', why: 'data dir made with the file key' };
    } else {
      log('root key: derived from the OTP device private key');
      this.mode = { kind: 'otp', otpKey: reading.key };
    }
    return this.mode;
  }
}

/** HKDF-SHA256 of the OTP key under the generation salt. */
export function deriveOtpRootKey(otpKey: Uint8Array, salt: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', otpKey, salt, OTP_ROOT_KEY_INFO, ROOT_KEY_BYTES));
}

/** Runs the reader: 64 hex digits (whitespace around ignored); all zeros means "not provisioned". */
export function readOtpKey(
  options: Pick<OtpKeyProviderOptions, 'command' | 'env' | 'timeoutMs'>,
): OtpReading {
  const command = options.command ?? OTP_TOOL;
  let output: string;
  try {
    output = execFileSync(command, [], {
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 10_000,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 4096,
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { status?: number | null; stderr?: string };
    if (failure.code === 'ENOENT') {
      return { unavailable: `${command} not found (Raspberry Pi 4/5 with the rpi-eeprom package only)` };
    }
    const detail =
      String(failure.stderr ?? '')
        .trim()
        .split('\n')[0] || failure.message.split('\n')[0];
    return { unavailable: `${command} failed (${failure.status ?? failure.code ?? 'killed'}): ${detail}` };
  }
  const hex = output.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    return { unavailable: `${command} printed no 64-digit hex key` };
  }
  if (/^0+$/.test(hex)) return { unavailable: 'the OTP device private key is not provisioned (all zeros)' };
  return { key: new Uint8Array(Buffer.from(hex, 'hex')) };
}

/**
 * Deletes the generation salt. Every factory reset calls it, whatever `--key-provider` the device
 * ran with, so no provider can rebuild the old root key afterwards.
 */
export function destroyOtpGeneration(keysDir: string): void {
  rmSync(join(keysDir, OTP_SALT_FILE), { force: true });
}

function readSalt(path: string): Uint8Array | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (bytes.length !== SALT_BYTES) {
    throw new KeyFileError(`OTP generation salt ${path} is ${bytes.length} bytes, expected ${SALT_BYTES}`);
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(
      `OTP generation salt ${path} has mode ${mode.toString(8)}; it must be readable by the firmware user only (chmod 600)`,
    );
  }
  return new Uint8Array(bytes);
}
