/**
 * The encrypted backup file of the security settings (docs/operations.md, "Backup and restore"): a
 * versioned header naming the format and the KDF, then the contents as CBOR sealed with AES-256-GCM
 * under a key derived from the administrator's passphrase with scrypt. Sealing and opening only: what
 * goes in and what a restore does with it is backup-service.ts's. No file or socket here; the KDF runs
 * on libuv's thread pool (node:crypto's async scrypt), off the event loop.
 *
 * Layout (integers big-endian):
 *
 * | offset | size | field                                                                     |
 * | 0      | 16   | magic `metergate-backup` (ASCII)                                           |
 * | 16     | 1    | format version: 1                                                          |
 * | 17     | 1    | KDF: 1 = scrypt                                                            |
 * | 18     | 1    | scrypt log2(N)                                                             |
 * | 19     | 1    | scrypt r                                                                   |
 * | 20     | 1    | scrypt p                                                                   |
 * | 21     | 16   | salt (random)                                                              |
 * | 37     | 12   | AES-GCM nonce (random)                                                     |
 * | 49     | 4    | ciphertext length L                                                        |
 * | 53     | 16   | passphrase check: HMAC-SHA256(check key, bytes 0–52), first 16 bytes        |
 * | 69     | L    | ciphertext, AES-256-GCM, additional data = bytes 0–68                      |
 * | 69+L   | 16   | GCM tag                                                                    |
 *
 * scrypt yields 64 bytes: the first 32 the AES key, the last 32 the check key. The check tells a
 * wrong passphrase from a changed file (it lets nobody guess faster: the tag would do as well); every
 * header byte is authenticated as GCM's additional data.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from 'node:crypto';
import { cbor } from './sealed-record.ts';

export const BACKUP_MAGIC = Buffer.from('metergate-backup', 'ascii');
export const BACKUP_FORMAT_VERSION = 1;
const KDF_SCRYPT = 1;
const HEADER_BYTES = 69;
const TAG_BYTES = 16;
const CHECK_OFFSET = 53;

/** scrypt cost as written: N = 2^15, r = 8, p = 3 (OWASP's equivalent of N = 2^17, p = 1; 32 MiB). */
export const BACKUP_KDF = { log2N: 15, r: 8, p: 3 } as const;
/** What a restore accepts: at most 64 MiB per scrypt pass (128·N·r), p ≤ 8, never below the floor. */
const MAX_KDF_MEMORY = 64 * 1024 * 1024;
const MIN_LOG2N = 14;

/** Passphrase rules: 12 to 256 characters (after NFC), no control characters. */
export const PASSPHRASE_MIN_LENGTH = 12;
export const PASSPHRASE_MAX_LENGTH = 256;

export type BackupErrorCode =
  | 'weak-passphrase'
  | 'backup-format'
  | 'backup-truncated'
  | 'backup-wrong-passphrase'
  | 'backup-damaged'
  | 'backup-invalid';

/** A backup refused, or a passphrase that may not protect one; `code` is stable (REST 400). */
export class BackupError extends Error {
  override readonly name = 'BackupError';
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    readonly field = 'backup',
  ) {
    super(message);
  }
}

/** The passphrase, NFC-normalized; throws BackupError `weak-passphrase` naming the rule it breaks. */
export function checkBackupPassphrase(passphrase: string): string {
  const normalized = passphrase.normalize('NFC');
  const length = [...normalized].length;
  if (length < PASSPHRASE_MIN_LENGTH) {
    throw new BackupError(
      'weak-passphrase',
      `the passphrase has ${length} characters: a backup needs at least ${PASSPHRASE_MIN_LENGTH}`,
      'passphrase',
    );
  }
  if (length > PASSPHRASE_MAX_LENGTH) {
    throw new BackupError(
      'weak-passphrase',
      `the passphrase has ${length} characters: at most ${PASSPHRASE_MAX_LENGTH}`,
      'passphrase',
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f]/.test(normalized)) {
    throw new BackupError('weak-passphrase', 'the passphrase holds a control character', 'passphrase');
  }
  return normalized;
}

/** Seals `contents` (CBOR-encodable) under `passphrase` (checked by checkBackupPassphrase). */
export async function sealBackup(
  contents: unknown,
  passphrase: string,
  kdf: { readonly log2N: number; readonly r: number; readonly p: number } = BACKUP_KDF,
): Promise<Buffer> {
  const checked = checkBackupPassphrase(passphrase);
  const plaintext = cbor.encode(contents);
  const header = Buffer.alloc(HEADER_BYTES);
  BACKUP_MAGIC.copy(header, 0);
  header.writeUInt8(BACKUP_FORMAT_VERSION, 16);
  header.writeUInt8(KDF_SCRYPT, 17);
  header.writeUInt8(kdf.log2N, 18);
  header.writeUInt8(kdf.r, 19);
  header.writeUInt8(kdf.p, 20);
  randomBytes(16).copy(header, 21);
  randomBytes(12).copy(header, 37);
  header.writeUInt32BE(plaintext.length, 49);
  const keys = await deriveKeys(checked, header);
  passphraseCheck(keys.check, header).copy(header, CHECK_OFFSET);
  const cipher = createCipheriv('aes-256-gcm', keys.aes, header.subarray(37, 49));
  cipher.setAAD(header);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  keys.aes.fill(0);
  keys.check.fill(0);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]);
}

/**
 * Opens a backup: the header first (magic, version, KDF and its cost, length), then the passphrase
 * check, then the tag; returns the decoded contents. Throws BackupError with the first thing wrong.
 */
export async function openBackup(file: Uint8Array, passphrase: string): Promise<unknown> {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const prefix = bytes.subarray(0, Math.min(bytes.length, BACKUP_MAGIC.length));
  if (!prefix.equals(BACKUP_MAGIC.subarray(0, prefix.length)) || bytes.length === 0) {
    throw new BackupError(
      'backup-format',
      'this is not a metergate backup file (no metergate-backup header)',
    );
  }
  if (bytes.length < HEADER_BYTES + TAG_BYTES) {
    throw new BackupError(
      'backup-truncated',
      `the backup is truncated: ${bytes.length} bytes, not even a header (${HEADER_BYTES + TAG_BYTES})`,
    );
  }
  const version = bytes.readUInt8(16);
  if (version !== BACKUP_FORMAT_VERSION) {
    throw new BackupError(
      'backup-format',
      `the backup is in format version ${version}; this firmware reads version ${BACKUP_FORMAT_VERSION}`,
    );
  }
  const kdf = {
    id: bytes.readUInt8(17),
    log2N: bytes.readUInt8(18),
    r: bytes.readUInt8(19),
    p: bytes.readUInt8(20),
  };
  if (kdf.id !== KDF_SCRYPT)
    throw new BackupError('backup-format', `the backup names an unknown KDF (${kdf.id})`);
  if (
    kdf.log2N < MIN_LOG2N ||
    kdf.log2N > 24 ||
    kdf.r < 1 ||
    kdf.p < 1 ||
    kdf.p > 8 ||
    128 * 2 ** kdf.log2N * kdf.r > MAX_KDF_MEMORY
  ) {
    throw new BackupError(
      'backup-format',
      `the backup's scrypt cost (N=2^${kdf.log2N}, r=${kdf.r}, p=${kdf.p}) is outside what this device accepts`,
    );
  }
  const length = bytes.readUInt32BE(49);
  const expected = HEADER_BYTES + length + TAG_BYTES;
  if (bytes.length < expected) {
    throw new BackupError(
      'backup-truncated',
      `the backup is truncated: ${bytes.length} bytes of ${expected}`,
    );
  }
  if (bytes.length > expected) {
    throw new BackupError(
      'backup-damaged',
      `the backup has ${bytes.length - expected} bytes too many: it was changed`,
    );
  }
  const header = bytes.subarray(0, HEADER_BYTES);
  const keys = await deriveKeys(checkPassphraseForOpening(passphrase), header);
  try {
    const check = passphraseCheck(keys.check, header.subarray(0, CHECK_OFFSET));
    if (!timingSafeEqual(check, header.subarray(CHECK_OFFSET, HEADER_BYTES))) {
      throw new BackupError(
        'backup-wrong-passphrase',
        'the passphrase does not open this backup (or its header was changed)',
        'passphrase',
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', keys.aes, header.subarray(37, 49));
    decipher.setAAD(header);
    decipher.setAuthTag(bytes.subarray(expected - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(bytes.subarray(HEADER_BYTES, expected - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new BackupError(
        'backup-damaged',
        'the backup was changed or damaged: its authentication tag does not match',
      );
    }
    try {
      return cbor.decode(plaintext);
    } catch {
      throw new BackupError('backup-invalid', 'the backup opens but holds no readable contents');
    }
  } finally {
    keys.aes.fill(0);
    keys.check.fill(0);
  }
}

/** Only the length bound: an old backup keeps opening if the rules grow stricter. */
function checkPassphraseForOpening(passphrase: string): string {
  const normalized = passphrase.normalize('NFC');
  if ([...normalized].length > PASSPHRASE_MAX_LENGTH) {
    throw new BackupError(
      'weak-passphrase',
      `the passphrase has more than ${PASSPHRASE_MAX_LENGTH} characters`,
      'passphrase',
    );
  }
  return normalized;
}

function deriveKeys(passphrase: string, header: Buffer): Promise<{ aes: Buffer; check: Buffer }> {
  const N = 2 ** header.readUInt8(18);
  const r = header.readUInt8(19);
  const p = header.readUInt8(20);
  return new Promise((resolve, reject) => {
    scrypt(
      Buffer.from(passphrase, 'utf8'),
      header.subarray(21, 37),
      64,
      { N, r, p, maxmem: MAX_KDF_MEMORY + 1024 * 1024 },
      (error, key) => {
        if (error) reject(error);
        else resolve({ aes: key.subarray(0, 32), check: key.subarray(32) });
      },
    );
  });
}

function passphraseCheck(key: Buffer, covered: Buffer): Buffer {
  return createHmac('sha256', key).update(covered.subarray(0, CHECK_OFFSET)).digest().subarray(0, 16);
}
