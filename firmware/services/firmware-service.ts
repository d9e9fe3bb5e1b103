/**
 * Firmware updates as the running device sees them (docs/updates.md): the status of the A/B layout the
 * launcher keeps, and an upload streamed to the spool after the same checks the launcher makes (key,
 * signature, target, floor, minimum version, size, hash). An accepted bundle becomes
 * SPOOL/pending.mgb; the restart that installs it is the process's (exit 75, the unit restarts it and
 * the launcher's prepare step installs). A device started without `--firmware-dir` (not by the
 * launcher) reports its version and refuses uploads.
 */
import { once } from 'node:events';
import {
  createWriteStream,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type WriteStream,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { BundleError, isBundleError } from '../update/bundle-error.ts';
import {
  type BundleManifest,
  checkBundleHeader,
  HEADER_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_PAYLOAD_BYTES,
  PayloadCheck,
  readBundleHeader,
  type Target,
} from '../update/bundle-format.ts';
import { currentPolicy, type FirmwareStatus, PENDING_BUNDLE, readStatus } from '../update/firmware-slots.ts';

/** The largest upload: the frame, the largest manifest and the largest payload. */
export const MAX_BUNDLE_BYTES = HEADER_BYTES + MAX_MANIFEST_BYTES + MAX_PAYLOAD_BYTES;

export type FirmwareErrorCode = 'updates-unavailable' | 'update-in-progress';

export class FirmwareError extends Error {
  override readonly name = 'FirmwareError';

  constructor(
    readonly code: FirmwareErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface FirmwareServiceOptions {
  /** The launcher's layout (`--firmware-dir`); null: not started by the launcher. */
  readonly firmwareDir: string | null;
  readonly spoolDir: string;
  readonly target: Target | null;
  /** The version this process was built as (version.ts), shown when there is no layout. */
  readonly builtVersion: string;
}

export type FirmwareReport = { readonly managed: boolean; readonly built: string } & Partial<FirmwareStatus>;

export class FirmwareService {
  private uploading = false;

  constructor(private readonly options: FirmwareServiceOptions) {}

  /**
   * The launcher's last result once, as a security event: what prepare did before this start (an
   * install, a refusal, a fallback) is logged at the first boot after it. A marker in the spool
   * remembers the result already logged.
   */
  takeLastResult(): { type: string; result: 'ok' | 'failed'; detail: string } | null {
    const { firmwareDir, spoolDir } = this.options;
    if (firmwareDir === null) return null;
    const last = readStatus(firmwareDir, spoolDir).lastResult;
    const marker = join(spoolDir, 'logged-result');
    if (!last || readText(marker) === last.at) return null;
    mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
    writeFileSync(marker, last.at, { mode: 0o600 });
    const detail = [last.version, last.code].filter(Boolean).join(' ');
    return { type: `firmware.${last.result}`, result: last.result === 'installed' ? 'ok' : 'failed', detail };
  }

  status(): FirmwareReport {
    const { firmwareDir, spoolDir, builtVersion } = this.options;
    if (firmwareDir === null) return { managed: false, built: builtVersion };
    return { managed: true, built: builtVersion, ...readStatus(firmwareDir, spoolDir) };
  }

  /**
   * Streams a bundle to the spool, checking it as it comes: the signed header before the payload is
   * read, the payload's size and hash at the end. Throws BundleError (nothing is kept) or
   * FirmwareError; resolves with the accepted manifest once SPOOL/pending.mgb holds it.
   */
  async accept(body: AsyncIterable<Uint8Array>): Promise<BundleManifest> {
    const { firmwareDir, spoolDir, target } = this.options;
    if (firmwareDir === null || target === null) {
      throw new FirmwareError(
        'updates-unavailable',
        'this device was not started by the update launcher (--firmware-dir): install updates with scripts/install-pi.sh',
      );
    }
    if (this.uploading) throw new FirmwareError('update-in-progress', 'another bundle is being uploaded');
    this.uploading = true;
    mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
    const temp = join(spoolDir, 'upload.tmp');
    // Opened once the signed header passed: a refused header never touches the disk.
    let out: WriteStream | null = null;
    try {
      let head = Buffer.alloc(0);
      let manifest: BundleManifest | null = null;
      let check: PayloadCheck | null = null;
      const write = (chunk: Uint8Array) => {
        check?.update(chunk);
        out?.write(chunk);
      };
      for await (const chunk of body) {
        if (manifest) {
          write(chunk);
          continue;
        }
        head = Buffer.concat([head, chunk]);
        // Refused as soon as the frame is wrong (magic, manifest length); read on while it is short.
        let header: ReturnType<typeof readBundleHeader>;
        try {
          header = readBundleHeader(head);
        } catch (error) {
          if (isBundleError(error, 'bundle.truncated')) continue;
          throw error;
        }
        manifest = checkBundleHeader(header, currentPolicy(firmwareDir, target));
        check = new PayloadCheck(manifest);
        out = createWriteStream(temp, { mode: 0o600 });
        out.write(head.subarray(0, header.payloadOffset));
        write(head.subarray(header.payloadOffset));
      }
      if (!manifest || !check || !out) {
        readBundleHeader(head);
        throw new BundleError('bundle.truncated', 'the bundle ends inside its header');
      }
      check.finish();
      out.end();
      await finished(out);
      renameSync(temp, join(spoolDir, PENDING_BUNDLE));
      return manifest;
    } catch (error) {
      if (out) {
        out.destroy();
        await once(out, 'close');
      }
      rmSync(temp, { force: true });
      throw error;
    } finally {
      this.uploading = false;
    }
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
