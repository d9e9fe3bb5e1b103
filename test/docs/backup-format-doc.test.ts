/**
 * docs/operations.md's backup file format cannot drift from the code: a backup sealed by the firmware
 * is opened here by a reader written from the documented table alone (offsets and sizes parsed from
 * the doc, node:crypto directly), the KDF cost is the documented one, and the contents name the
 * documented format.
 */
import assert from 'node:assert/strict';
import { createDecipheriv, createHmac, scryptSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decode } from 'cbor-x';
import { BACKUP_KDF, sealBackup } from '../../firmware/store/backup-file.ts';
import { REPO_ROOT } from '../support/device-process.ts';

const PASSPHRASE = 'documented passphrase';

/** The rows of the table under "The backup file": field name (first words) → [offset, size]. */
function documentedLayout(doc: string): Map<string, { offset: string; size: string }> {
  const section = doc.slice(doc.indexOf('### The backup file'));
  const rows = new Map<string, { offset: string; size: string }>();
  for (const m of section.matchAll(/^\| ([0-9+L]+) \| ([0-9L]+) \| ([^|]+) \|$/gm)) {
    rows.set(
      (m[3] as string)
        .trim()
        .split(/[:(`;]/)[0]
        ?.trim() as string,
      {
        offset: m[1] as string,
        size: m[2] as string,
      },
    );
  }
  return rows;
}

test('a backup opens by the layout, KDF and contents docs/operations.md describes', async () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
  const layout = documentedLayout(doc);
  const at = (field: string) => {
    const row = layout.get(field);
    assert.ok(row, `the table has a row '${field}' (${[...layout.keys()].join(', ')})`);
    return row;
  };
  const num = (text: string) => Number(text);

  const cost = /scrypt \(N = 2\^(\d+), r = (\d+), p = (\d+)/.exec(doc);
  assert.ok(cost, 'the doc states the scrypt cost');
  assert.deepEqual(cost.slice(1).map(Number), [BACKUP_KDF.log2N, BACKUP_KDF.r, BACKUP_KDF.p]);

  const file = await sealBackup({ format: 'metergate-security-backup', v: 1 }, PASSPHRASE, {
    log2N: 14,
    r: 8,
    p: 1,
  });
  const magic = at('magic');
  assert.equal(
    file.subarray(num(magic.offset), num(magic.offset) + num(magic.size)).toString('ascii'),
    /magic `([^`]+)`/.exec(doc)?.[1],
  );
  assert.equal(file[num(at('format version').offset)], 1);
  assert.equal(file[num(at('KDF').offset)], 1);
  const kdfAt = num(at('scrypt log2').offset);
  const [log2N, r, p] = [file.readUInt8(kdfAt), file.readUInt8(kdfAt + 1), file.readUInt8(kdfAt + 2)];
  const salt = at('salt');
  const nonce = at('AES-GCM nonce');
  const length = at('ciphertext length L');
  const check = at('passphrase check');
  const ciphertext = at('AES-256-GCM ciphertext');
  const slice = (row: { offset: string; size: string }) =>
    file.subarray(num(row.offset), num(row.offset) + num(row.size));
  const L = file.readUInt32BE(num(length.offset));
  assert.equal(num(length.size), 4);
  const key = scryptSync(PASSPHRASE.normalize('NFC'), slice(salt), 64, {
    N: 2 ** log2N,
    r,
    p,
    maxmem: 64 * 1024 * 1024,
  });
  const header = file.subarray(0, num(ciphertext.offset));
  assert.deepEqual(
    createHmac('sha256', key.subarray(32))
      .update(file.subarray(0, num(check.offset)))
      .digest()
      .subarray(0, 16),
    slice(check),
    'the passphrase check is as documented',
  );
  const decipher = createDecipheriv('aes-256-gcm', key.subarray(0, 32), slice(nonce));
  decipher.setAAD(header);
  decipher.setAuthTag(file.subarray(num(ciphertext.offset) + L));
  const plain = Buffer.concat([
    decipher.update(file.subarray(num(ciphertext.offset), num(ciphertext.offset) + L)),
    decipher.final(),
  ]);
  assert.equal(file.length, num(ciphertext.offset) + L + num(at('GCM tag').size));
  assert.deepEqual(decode(plain), { format: 'metergate-security-backup', v: 1 });
});
