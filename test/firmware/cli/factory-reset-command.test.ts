/**
 * The CLI factory reset is root's only (DESIGN §4, docs/operations.md): a process of any other user,
 * the firmware user owning the data dir included, is refused naming the rule and erases nothing.
 */
import assert from 'node:assert/strict';
import { chownSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CliError } from '../../../firmware/cli/cli-error.ts';
import { factoryResetCommand } from '../../../firmware/cli/factory-reset-command.ts';
import { bootNormal, closeAll, tempDataDir } from '../../support/store-fixture.ts';

const FIRMWARE_UID = 4242;
const io = () => {
  const lines: string[] = [];
  return { lines, io: { out: (text: string) => lines.push(text), err: (text: string) => lines.push(text) } };
};

describe('factory-reset command', () => {
  it('refuses every user but root, the owner of the data dir included; nothing is erased', async (t) => {
    const data = tempDataDir(t);
    (await bootNormal(data)).close();
    closeAll(data);
    if (process.geteuid?.() === 0) chownSync(data.dir, FIRMWARE_UID, FIRMWARE_UID);
    const key = readFileSync(data.rootKeyPath);
    for (const euid of [FIRMWARE_UID, 1000, undefined]) {
      const { io: out } = io();
      await assert.rejects(
        factoryResetCommand(['--data-dir', data.dir, '--yes'], out, { euid: () => euid }),
        (error: unknown) =>
          error instanceof CliError && /physical presence: run it as root on the device/.test(error.message),
      );
    }
    assert.deepEqual(readFileSync(data.rootKeyPath), key, 'the root key is still there');
  });

  it('root erases the data dir', async (t) => {
    const data = tempDataDir(t);
    (await bootNormal(data)).close();
    closeAll(data);
    const { io: out, lines } = io();
    assert.equal(await factoryResetCommand(['--data-dir', data.dir, '--yes'], out, { euid: () => 0 }), 0);
    assert.match(lines.join('\n'), /factory reset of .* done/);
    assert.throws(() => readFileSync(data.rootKeyPath), /ENOENT/);
  });
});
