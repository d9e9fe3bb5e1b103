/**
 * The simulator's (and the Pi fallback's) key provider: the root key and the anti-rollback counter in
 * a directory of mode 0700, files of mode 0600, written atomically (temp file, fsync, rename) so a
 * power cut leaves the old or the new value, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type KeyProvider, type MonotonicCounter, ROOT_KEY_BYTES } from './key-provider.ts';

const ROOT_KEY_FILE = 'root.key';
/** The counter's default place: `<data-dir>/keys/rollback.counter` (`--counter-file` moves it). */
export const COUNTER_FILE = 'rollback.counter';

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

export class FileKeyProvider implements KeyProvider {
  readonly description: string;

  constructor(private readonly dir: string) {
    this.description = `file:${dir}`;
  }

  loadRootKey(): Uint8Array | null {
    const path = join(this.dir, ROOT_KEY_FILE);
    const bytes = readIfExists(path);
    if (bytes === null) return null;
    if (bytes.length !== ROOT_KEY_BYTES) {
      throw new KeyFileError(`root key ${path} is ${bytes.length} bytes, expected ${ROOT_KEY_BYTES}`);
    }
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new KeyFileError(
        `root key ${path} has mode ${mode.toString(8)}; it must be readable by the firmware user only (chmod 600)`,
      );
    }
    return new Uint8Array(bytes);
  }

  createRootKey(): Uint8Array {
    const key = new Uint8Array(randomBytes(ROOT_KEY_BYTES));
    writeAtomically(this.dir, ROOT_KEY_FILE, key);
    return key;
  }

  destroyRootKey(): void {
    rmSync(join(this.dir, ROOT_KEY_FILE), { force: true });
  }
}

/** The counter in one file (its directory is made mode 0700 when missing). */
export class FileMonotonicCounter implements MonotonicCounter {
  /** @param path the counter file, e.g. `<data-dir>/keys/rollback.counter` */
  constructor(readonly path: string) {}

  read(): number | null {
    const bytes = readIfExists(this.path);
    if (bytes === null) return null;
    const text = bytes.toString('ascii').trim();
    if (!/^\d{1,15}$/.test(text)) {
      throw new KeyFileError(`anti-rollback counter ${this.path} is damaged`);
    }
    return Number(text);
  }

  advance(value: number): void {
    const current = this.read();
    if (current !== null && value <= current) return;
    writeAtomically(dirname(this.path), basename(this.path), new TextEncoder().encode(`${value}\n`));
  }

  reset(): void {
    rmSync(this.path, { force: true });
  }
}

function readIfExists(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Writes `dir/name` (mode 0600, in a 0700 dir) so that a power cut leaves the old content or the new:
 * temp file, fsync, rename, fsync the directory.
 */
export function writeAtomically(dir: string, name: string, data: Uint8Array): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${name}.tmp`);
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, join(dir, name));
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
