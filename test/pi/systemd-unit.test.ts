/**
 * The Raspberry Pi deployment: the systemd unit passes `systemd-analyze verify` (on a copy whose
 * ExecStart names this machine's node, as the installer writes it) and carries the hardening the
 * deployment promises; its ExecStart flags are flags the device accepts; `install-pi.sh --root DIR`
 * lays out the firmware, the system user, the data dir and the enabled unit with the right modes in a
 * temp root, again on a second run (idempotent), and never touches this machine's own /etc.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDeviceOptions } from '../../firmware/boot/device-options.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const UNIT_SOURCE = join(REPO_ROOT, 'scripts', 'systemd', 'metergate.service');
const INSTALLER = join(REPO_ROOT, 'scripts', 'install-pi.sh');

type Unit = Map<string, [string, string][]>;

/** A unit file's sections as ordered key/value lists (systemd keeps every assignment of a key). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: [string, string][] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = [];
      unit.set(header[1] as string, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `a key=value line in a section: '${line}'`);
    section.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return unit;
}

function values(unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** What `systemd-analyze verify` says about the unit file (warnings included: it exits 0 on those). */
function verifyProblems(path: string): string[] {
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', path], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.error, undefined, 'systemd-analyze runs (Debian package systemd)');
  const name = path.split('/').pop() as string;
  const problems = `${result.stdout}${result.stderr}`
    .split('\n')
    .filter((line) => line.includes(name) || line.includes(path));
  if (result.status !== 0) problems.push(`systemd-analyze verify exited with ${result.status}`);
  return problems;
}

/** The unit as install-pi.sh writes it: ExecStartPre and ExecStart name this machine's node. */
function withNode(text: string, node = process.execPath): string {
  return text.replace(/^(ExecStart(?:Pre)?=\+?)\/usr\/bin\/node /gm, `$1${node} `);
}

/** A copy of the unit whose ExecStart names this machine's node: verify wants an existing executable. */
function unitCopy(dir: string, edit: (text: string) => string = (text) => text): string {
  const path = join(dir, 'metergate.service');
  const text = withNode(readFileSync(UNIT_SOURCE, 'utf8'));
  writeFileSync(path, edit(text));
  return path;
}

describe('systemd unit scripts/systemd/metergate.service', () => {
  const unit = parseUnit(readFileSync(UNIT_SOURCE, 'utf8'));
  const service = (key: string) => values(unit, 'Service', key);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'metergate-unit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes systemd-analyze verify, and the check catches a broken unit', () => {
    assert.deepEqual(verifyProblems(unitCopy(dir)), []);
    const broken = mkdtempSync(join(dir, 'broken-'));
    const problems = verifyProblems(
      unitCopy(broken, (text) => text.replace('ProtectHome=yes', 'ProtectHome=maybe')),
    );
    assert.ok(
      problems.some((line) => /protect home/i.test(line)),
      `a bad value is reported: ${problems.join('\n')}`,
    );
    const missing = mkdtempSync(join(dir, 'missing-'));
    const noNode = join(missing, 'metergate.service');
    writeFileSync(
      noNode,
      readFileSync(UNIT_SOURCE, 'utf8').replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'),
    );
    assert.notDeepEqual(verifyProblems(noNode), [], 'an ExecStart that does not exist is reported');
  });

  it('runs as the metergate user with only CAP_NET_BIND_SERVICE and the dialout group', () => {
    assert.deepEqual(service('User'), ['metergate']);
    assert.deepEqual(service('Group'), ['metergate']);
    assert.deepEqual(service('SupplementaryGroups'), ['dialout']);
    assert.deepEqual(service('AmbientCapabilities'), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(service('CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
    // A user namespace would make the capability useless for ports below 1024 on the host's network.
    assert.deepEqual(service('PrivateUsers'), []);
    assert.deepEqual(service('Restart'), ['on-failure']);
    assert.deepEqual(values(unit, 'Install', 'WantedBy'), ['multi-user.target']);
  });

  it('carries the hardening directives, and not MemoryDenyWriteExecute (V8 compiles at run time)', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      ReadWritePaths: '/var/lib/metergate',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      LockPersonality: 'yes',
      RestrictRealtime: 'yes',
      RestrictSUIDSGID: 'yes',
      SystemCallArchitectures: 'native',
      UMask: '0077',
      StateDirectoryMode: '0700',
    };
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(service(key), [value], `${key}=${value}`);
    }
    const families = service('RestrictAddressFamilies').flatMap((v) => v.split(/\s+/));
    for (const family of ['AF_UNIX', 'AF_INET', 'AF_INET6']) assert.ok(families.includes(family), family);
    // AF_NETLINK only for getifaddrs (os.networkInterfaces); nothing raw, no packet sockets.
    assert.deepEqual(
      families.filter((f) => !['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK'].includes(f)),
      [],
    );
    assert.ok(!service('MemoryDenyWriteExecute').includes('yes'), 'MemoryDenyWriteExecute breaks V8');
    // Each of these makes a device allow-list that would close the serial lines and /dev/vcio.
    for (const key of ['PrivateDevices', 'DeviceAllow', 'DevicePolicy', 'ProtectClock']) {
      assert.deepEqual(service(key), [], `${key} is not set`);
    }
  });

  it('runs the launcher: prepare as root before each start, then run as the service user', () => {
    assert.deepEqual(service('ExecStartPre'), [
      '+/usr/bin/node /opt/metergate/launcher.mjs prepare --firmware /opt/metergate --spool /var/lib/metergate/update',
    ]);
    const [execStart] = service('ExecStart');
    assert.match(
      execStart ?? '',
      /^\/usr\/bin\/node \/opt\/metergate\/launcher\.mjs run --firmware \/opt\/metergate --spool \/var\/lib\/metergate\/update --ready-timeout \d+ -- /,
    );
  });

  it('starts the device with flags it accepts: all interfaces, ports 80/443/502/802, /var/lib/metergate', () => {
    const [execStart] = service('ExecStart');
    assert.ok(execStart);
    const words = execStart.split(/\s+/);
    const flags = words.slice(words.indexOf('--') + 1);
    assert.equal(flags.at(-1), '$METERGATE_OPTS', 'extra flags from /etc/default/metergate come last');
    const parse = (extra: string[]) => {
      const options = parseDeviceOptions([...flags.slice(0, -1), ...extra], { isTTY: false, webDir: '/x' });
      return options === 'help' ? assert.fail('not help') : options;
    };
    const options = parse([]);
    assert.equal(options.host, '0.0.0.0');
    assert.equal(options.httpPort, 80);
    assert.equal(options.httpsPort, 443);
    assert.equal(options.modbusPort, 502);
    assert.equal(options.modbusTlsPort, 802);
    assert.equal(options.dataDir, '/var/lib/metergate');
    assert.equal(options.display, 'none');
    assert.equal(options.sim, false);
    assert.equal(options.keyProvider, 'file');
    const overridden = parse(['--key-provider', 'otp', '--display', '/dev/ttyUSB0', '--rtu', '/dev/ttyAMA0']);
    assert.equal(overridden.display, '/dev/ttyUSB0', 'a flag in METERGATE_OPTS overrides the unit');
    assert.equal(overridden.keyProvider, 'otp');
    assert.equal(overridden.rtu, '/dev/ttyAMA0');
    assert.deepEqual(service('EnvironmentFile'), ['-/etc/default/metergate']);
  });
});

describe('scripts/install-pi.sh --root', () => {
  const isRoot = process.getuid?.() === 0;
  let root: string;
  const hostPasswd = readFileSync('/etc/passwd', 'utf8');
  const at = (path: string) => join(root, path);
  const mode = (path: string) => statSync(at(path)).mode & 0o7777;
  const install = (...args: string[]) =>
    spawnSync('bash', [INSTALLER, '--root', root, '--skip-npm', '--node', process.execPath, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
  const passwdEntry = () =>
    readFileSync(at('etc/passwd'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('metergate:'));

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'metergate-install-'));
    // The bare bones of a root file system's user database, as useradd --prefix needs it.
    mkdirSync(at('etc'));
    writeFileSync(at('etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    writeFileSync(at('etc/group'), 'root:x:0:\ndialout:x:20:\n');
    writeFileSync(at('etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
    writeFileSync(at('etc/gshadow'), 'root:*::\ndialout:*::\n', { mode: 0o640 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('prints its usage with --help and refuses an unknown option', () => {
    const help = spawnSync('bash', [INSTALLER, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /usage: sudo scripts\/install-pi.sh/);
    assert.match(help.stdout, /--root DIR/);
    const bad = spawnSync('bash', [INSTALLER, '--frobnicate'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unknown option '--frobnicate'/);
  });

  it('lays out firmware, user, data dir, defaults and the enabled unit with their modes', () => {
    const result = install();
    assert.equal(result.status, 0, result.stderr);

    assert.equal(readlinkSync(at('opt/metergate/current')), 'slots/a', 'the first install goes to slot a');
    for (const file of [
      'dist/device.mjs',
      'dist/cli.mjs',
      'dist/web/index.html',
      'package.json',
      'package-lock.json',
    ]) {
      assert.equal(mode(`opt/metergate/current/${file}`), 0o644, file);
    }
    assert.equal(mode('opt/metergate/current/dist'), 0o755);
    assert.equal(mode('opt/metergate/launcher.mjs'), 0o644);
    assert.equal(mode('opt/metergate/docs/raspberry-pi.md'), 0o644);
    assert.equal(mode('opt/metergate/docs/updates.md'), 0o644);
    assert.equal(mode('usr/local/bin/metergate'), 0o755);
    assert.match(
      readFileSync(at('usr/local/bin/metergate'), 'utf8'),
      /exec \S+node \/opt\/metergate\/current\/dist\/cli\.mjs "\$@"/,
    );

    assert.equal(mode('var/lib/metergate'), 0o700, "the data dir is the firmware user's alone");
    assert.equal(mode('etc/default/metergate'), 0o644);
    assert.match(
      readFileSync(at('etc/default/metergate'), 'utf8'),
      /^METERGATE_OPTS="--key-provider file"$/m,
    );

    const unitPath = 'etc/systemd/system/metergate.service';
    assert.equal(mode(unitPath), 0o644);
    const installed = readFileSync(at(unitPath), 'utf8');
    assert.ok(installed.includes(`ExecStart=${process.execPath} /opt/metergate/launcher.mjs run `));
    assert.equal(
      installed,
      withNode(readFileSync(UNIT_SOURCE, 'utf8')),
      'only the node path differs from scripts/systemd/metergate.service',
    );
    assert.deepEqual(verifyProblems(at(unitPath)), [], 'the installed unit verifies');
    const wants = 'etc/systemd/system/multi-user.target.wants/metergate.service';
    assert.ok(lstatSync(at(wants)).isSymbolicLink());
    assert.equal(readlinkSync(at(wants)), '/etc/systemd/system/metergate.service');
    assert.throws(() => statSync(at('etc/systemd/system/metergate.service.d')), /ENOENT/, 'no OTP drop-in');

    if (isRoot) {
      const [entry] = passwdEntry();
      assert.ok(entry, 'the system user metergate exists in the root');
      const [, , uid, gid, , home, shell] = (entry as string).split(':');
      assert.ok(Number(uid) < 1000, `a system uid, got ${uid}`);
      assert.equal(home, '/var/lib/metergate');
      assert.equal(shell, '/usr/sbin/nologin');
      assert.match(readFileSync(at('etc/group'), 'utf8'), new RegExp(`^metergate:x:${gid}:`, 'm'));
      assert.equal(statSync(at('var/lib/metergate')).uid, Number(uid));
      assert.equal(statSync(at('opt/metergate/current/dist/device.mjs')).uid, 0, "the firmware stays root's");
    }
    assert.equal(readFileSync('/etc/passwd', 'utf8'), hostPasswd, "this machine's /etc/passwd is untouched");
  });

  it('runs again: one user, kept settings, repaired key modes', () => {
    // A data dir as a device leaves it, with modes someone loosened, and a flag set by the operator.
    mkdirSync(at('var/lib/metergate/keys'), { recursive: true });
    writeFileSync(at('var/lib/metergate/keys/root.key'), Buffer.alloc(32, 7));
    chmodSync(at('var/lib/metergate/keys/root.key'), 0o644);
    chmodSync(at('var/lib/metergate/keys'), 0o755);
    const defaults = at('etc/default/metergate');
    writeFileSync(
      defaults,
      readFileSync(defaults, 'utf8').replace(
        /^METERGATE_OPTS=.*$/m,
        'METERGATE_OPTS="--key-provider file --rtu /dev/ttyAMA0"',
      ),
    );

    const result = install();
    assert.equal(result.status, 0, result.stderr);
    assert.equal(mode('var/lib/metergate/keys'), 0o700);
    assert.equal(mode('var/lib/metergate/keys/root.key'), 0o600, 'the root key readable by its owner only');
    assert.deepEqual(
      readFileSync(at('var/lib/metergate/keys/root.key')),
      Buffer.alloc(32, 7),
      'the key is kept',
    );
    assert.match(
      readFileSync(defaults, 'utf8'),
      /^METERGATE_OPTS="--key-provider file --rtu \/dev\/ttyAMA0"$/m,
    );
    assert.equal(
      readlinkSync(at('opt/metergate/current')),
      'slots/b',
      'a second install goes beside the first',
    );
    assert.equal(readlinkSync(at('opt/metergate/previous')), 'slots/a');
    if (isRoot) {
      assert.equal(passwdEntry().length, 1, 'the user is not created twice');
      const uid = Number((passwdEntry()[0] as string).split(':')[2]);
      assert.equal(statSync(at('var/lib/metergate/keys/root.key')).uid, uid, 'owned by metergate');
    }
  });

  it('--update-key installs the trusted update keys, keeps them when not given, refuses a non-key', () => {
    const key = at('vendor.pub');
    const line = `ed25519 ${Buffer.alloc(32, 3).toString('base64')} vendor-2026\n`;
    writeFileSync(key, line);
    assert.equal(install('--update-key', key).status, 0);
    assert.equal(readFileSync(at('opt/metergate/trusted-keys'), 'utf8'), line);
    assert.equal(mode('opt/metergate/trusted-keys'), 0o644);
    assert.equal(install().status, 0);
    assert.equal(readFileSync(at('opt/metergate/trusted-keys'), 'utf8'), line, 'kept without --update-key');
    writeFileSync(at('secret'), `ed25519-secret ${Buffer.alloc(64, 1).toString('base64')}\n`);
    const bad = install('--update-key', at('secret'));
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /not a public key line/);
    assert.equal(
      readFileSync(at('opt/metergate/trusted-keys'), 'utf8'),
      line,
      'a refused key changes nothing',
    );
  });

  it('--key-provider otp sets the flag, keeps the others, and adds the video group for /dev/vcio', () => {
    const otp = install('--key-provider', 'otp');
    assert.equal(otp.status, 0, otp.stderr);
    assert.match(
      readFileSync(at('etc/default/metergate'), 'utf8'),
      /^METERGATE_OPTS="--key-provider otp --rtu \/dev\/ttyAMA0"$/m,
    );
    const dropin = 'etc/systemd/system/metergate.service.d/otp-key.conf';
    assert.equal(mode(dropin), 0o644);
    assert.deepEqual(values(parseUnit(readFileSync(at(dropin), 'utf8')), 'Service', 'SupplementaryGroups'), [
      'video',
    ]);

    const file = install('--key-provider', 'file');
    assert.equal(file.status, 0, file.stderr);
    assert.throws(() => statSync(at(dropin)), /ENOENT/, 'the drop-in goes with the OTP provider');
  });
});
