/**
 * The factory reset of a data dir (DESIGN §4), shared by the CLI and the display's key combination:
 * erases the whole flash partition (users, keys, settings, log), destroys the root key, resets the
 * rollback counter and removes the TLS certificate. The next boot makes a new root key and the factory
 * table (admin / CBM_1234, to be changed at first login). Takes the data-dir lock, so the device process
 * must have stopped using the data dir first.
 */
import { rmSync } from 'node:fs';
import { FileKeyProvider, FileMonotonicCounter } from '../keys/file-key-provider.ts';
import { destroyOtpGeneration } from '../keys/otp-key-provider.ts';
import { FileFlash } from '../store/file-flash.ts';
import { FlashImageError } from '../store/flash.ts';
import { factoryReset } from '../store/secure-store.ts';
import { type DataDirPaths, lockDataDir } from './data-dir.ts';

/**
 * Throws DataDirBusyError while another process holds the data dir. `counterFile`: the device's
 * `--counter-file` (default `<data-dir>/keys/rollback.counter`).
 */
export function factoryResetDataDir(paths: DataDirPaths, counterFile: string = paths.counterFile): void {
  const unlock = lockDataDir(paths);
  try {
    let flash: FileFlash;
    try {
      flash = FileFlash.open({ path: paths.flashImage, create: true });
    } catch (error) {
      if (!(error instanceof FlashImageError)) throw error;
      // An image of the wrong size is replaced by a blank one of the right size.
      rmSync(paths.flashImage, { force: true });
      flash = FileFlash.open({ path: paths.flashImage, create: true });
    }
    try {
      // First the OTP provider's generation salt (--key-provider otp), then the file key: whichever
      // provider the device ran with, its root key cannot be rebuilt afterwards.
      destroyOtpGeneration(paths.keysDir);
      factoryReset(flash, new FileKeyProvider(paths.keysDir), new FileMonotonicCounter(counterFile));
      rmSync(paths.tlsDir, { recursive: true, force: true });
    } finally {
      flash.close();
    }
  } finally {
    unlock();
  }
}
