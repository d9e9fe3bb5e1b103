/**
 * The device's data directory: where the flash image, the key store and the lock live, and the lock
 * that keeps a second device process (or a factory reset) from using a data dir that is in use.
 */
import { randomInt } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface DataDirPaths {
  readonly dir: string;
  /** The simulated flash partition. */
  readonly flashImage: string;
  /** Root key and, by default, the anti-rollback counter (mode 0700). */
  readonly keysDir: string;
  /** The anti-rollback counter's default place (`--counter-file` puts it elsewhere). */
  readonly counterFile: string;
  readonly lockFile: string;
  /** HTTPS certificate and its sealed private key. */
  readonly tlsDir: string;
  /** The device's serial number (hardware identity: survives a factory reset). */
  readonly serialFile: string;
}

/** The TLS files' names in the security record's file anchors: `tls/cert.pem`, … */
export const TLS_FILES_PREFIX = 'tls/';

export function dataDirPaths(dir: string): DataDirPaths {
  const root = resolve(dir);
  return {
    dir: root,
    flashImage: join(root, 'flash.img'),
    keysDir: join(root, 'keys'),
    counterFile: join(root, 'keys', 'rollback.counter'),
    lockFile: join(root, 'metergate.pid'),
    tlsDir: join(root, 'tls'),
    serialFile: join(root, 'serial'),
  };
}

export class DataDirBusyError extends Error {
  override readonly name = 'DataDirBusyError';
}

/** Creates the directory (mode 0700) and takes its lock; throws DataDirBusyError when a live process holds it. */
export function lockDataDir(paths: DataDirPaths): () => void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const holder = lockHolder(paths);
  if (holder !== null) {
    throw new DataDirBusyError(`data directory ${paths.dir} is in use by process ${holder}`);
  }
  rmSync(paths.lockFile, { force: true });
  const fd = openSync(paths.lockFile, 'wx', 0o600);
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  return () => rmSync(paths.lockFile, { force: true });
}

/** The PID of the live process holding the lock, or null (no lock, or a stale one). */
export function lockHolder(paths: DataDirPaths): number | null {
  let text: string;
  try {
    text = readFileSync(paths.lockFile, 'utf8').trim();
  } catch {
    return null;
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** The serial number, made once (like a factory-programmed one) and kept through factory resets. */
export function deviceSerial(paths: DataDirPaths): string {
  try {
    const serial = readFileSync(paths.serialFile, 'ascii').trim();
    if (/^MG\d{8}$/.test(serial)) return serial;
  } catch {
    // first boot: made below
  }
  const serial = `MG${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
  writeFileSync(paths.serialFile, `${serial}\n`, { mode: 0o644 });
  return serial;
}
