/**
 * The backup file format (store/backup-file.ts) at the byte level: a round trip; every header byte
 * and a body byte changed, every cut, a wrong passphrase, each refused with its code and never opened;
 * the passphrase rules; a KDF cost beyond the device's bound refused before any work.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BackupError,
  checkBackupPassphrase,
  openBackup,
  sealBackup,
} from '../../../firmware/store/backup-file.ts';

const PASSPHRASE = 'a passphrase for tests';
/** The cheapest cost a restore accepts, to keep the test fast. */
const CHEAP = { log2N: 14, r: 8, p: 1 };
const CONTENTS = { format: 'test', users: ['a', 'b'], bytes: Buffer.from([1, 2, 3]) };

async function refusal(file: Uint8Array, passphrase = PASSPHRASE): Promise<string> {
  try {
    await openBackup(file, passphrase);
  } catch (error) {
    assert.ok(error instanceof BackupError, String(error));
    return error.code;
  }
  assert.fail('the file opened');
}

describe('backup file', () => {
  it('opens what it sealed, with the passphrase NFC-normalized', async () => {
    const file = await sealBackup(CONTENTS, 'Zähler passphrase'.normalize('NFD'), CHEAP);
    assert.equal(file.subarray(0, 16).toString('ascii'), 'metergate-backup');
    assert.deepEqual(await openBackup(file, 'Zähler passphrase'.normalize('NFC')), CONTENTS);
  });

  it('refuses every changed header byte and a changed body byte; never opens', async () => {
    const file = await sealBackup(CONTENTS, PASSPHRASE, CHEAP);
    const codes = new Set<string>();
    for (let offset = 0; offset < 69; offset++) {
      const changed = Buffer.from(file);
      changed[offset] = (changed[offset] as number) ^ 0x01;
      codes.add(await refusal(changed));
    }
    for (const offset of [69, file.length - 17, file.length - 1]) {
      const changed = Buffer.from(file);
      changed[offset] = (changed[offset] as number) ^ 0x80;
      assert.equal(await refusal(changed), 'backup-damaged', `byte ${offset}`);
    }
    // The passphrase check covers bytes 0–52: a changed salt, nonce or check reads as a wrong passphrase.
    for (const code of ['backup-format', 'backup-truncated', 'backup-wrong-passphrase'])
      assert.ok(codes.has(code), code);
    assert.ok([...codes].every((code) => code.startsWith('backup-')));
  });

  it('refuses every cut, a byte too many, and a wrong passphrase', async () => {
    const file = await sealBackup(CONTENTS, PASSPHRASE, CHEAP);
    for (let length = 1; length < file.length; length += 7) {
      assert.equal(await refusal(file.subarray(0, length)), 'backup-truncated', `${length} bytes`);
    }
    assert.equal(await refusal(Buffer.concat([file, Buffer.of(0)])), 'backup-damaged');
    assert.equal(await refusal(file, `${PASSPHRASE}.`), 'backup-wrong-passphrase');
    assert.equal(await refusal(new Uint8Array()), 'backup-format');
  });

  it('refuses a KDF cost beyond the bound before deriving anything', async () => {
    const file = await sealBackup(CONTENTS, PASSPHRASE, CHEAP);
    const costly = Buffer.from(file);
    costly[18] = 22;
    const started = Date.now();
    assert.equal(await refusal(costly), 'backup-format');
    assert.ok(Date.now() - started < 50, 'no KDF ran');
  });

  it('passphrase rules: 12 to 256 characters, no control characters', () => {
    assert.throws(() => checkBackupPassphrase('eleven char'), { code: 'weak-passphrase' });
    assert.equal(checkBackupPassphrase('twelve chars'), 'twelve chars');
    assert.throws(() => checkBackupPassphrase('x'.repeat(257)), { code: 'weak-passphrase' });
    assert.throws(() => checkBackupPassphrase('tab\tinside passphrase'), { code: 'weak-passphrase' });
  });
});
