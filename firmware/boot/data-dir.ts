/**
 * The device's data directory: where the flash image, the key store and the lock live, and the lock
 * that keeps a second device process (or a factory reset) from using a data dir that is in use.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface DataDirPaths {
  readonly dir: string;
  /** The simulated flash partition. */
  readonly flashImage: string;
  /** Root key and anti-rollback counter (mode 0700). */
  readonly keysDir: string;
  readonly lockFile: string;
}

export function dataDirPaths(dir: string): DataDirPaths {
  const root = resolve(dir);
  return {
    dir: root,
    flashImage: join(root, 'flash.img'),
    keysDir: join(root, 'keys'),
    lockFile: join(root, 'metergate.pid'),
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
