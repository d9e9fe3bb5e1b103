/**
 * `metergate factory-reset` (dist/cli.mjs) run by an unprivileged user through `setpriv`: refused even
 * when that user owns the data dir (as the firmware user does), so whoever takes over the firmware
 * process cannot reset the device to admin / CBM_1234 without physical presence; root still can.
 * Needs root (to switch users) and setpriv; skipped, saying so, without them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI_ENTRY, runCli, startDevice } from '../../support/device-process.ts';

/** `nobody` on Debian-like systems; any unprivileged uid does. */
const UNPRIVILEGED = 65534;

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid);
}

const canSwitchUser =
  process.geteuid?.() === 0 && spawnSync('setpriv', ['--version'], { encoding: 'utf8' }).status === 0;

describe('factory-reset from the command line', {
  skip: canSwitchUser ? false : 'needs root and setpriv',
}, () => {
  it('an unprivileged user owning the data dir is refused and nothing is erased; root resets', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'metergate-reset-uid-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    chmodSync(root, 0o755);
    const dir = join(root, 'data');
    await (await startDevice(['--data-dir', dir])).stop();
    // The firmware user's data dir, as an installation running the device unprivileged has it.
    chownTree(dir, UNPRIVILEGED);
    const key = readFileSync(join(dir, 'keys', 'root.key'));

    const asUser = spawnSync(
      'setpriv',
      [
        `--reuid=${UNPRIVILEGED}`,
        `--regid=${UNPRIVILEGED}`,
        '--clear-groups',
        process.execPath,
        CLI_ENTRY,
        'factory-reset',
        '--data-dir',
        dir,
        '--yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(asUser.status, 1, `exit ${asUser.status}: ${asUser.stdout}${asUser.stderr}`);
    assert.match(asUser.stderr, /run it as root on the device \(you are uid 65534\)/);
    assert.deepEqual(readFileSync(join(dir, 'keys', 'root.key')), key, 'the root key is untouched');

    const asRoot = runCli(['factory-reset', '--data-dir', dir, '--yes']);
    assert.equal(asRoot.status, 0, asRoot.stderr);
    assert.throws(() => readFileSync(join(dir, 'keys', 'root.key')), /ENOENT/);
  });
});
