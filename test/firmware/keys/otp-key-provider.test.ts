/**
 * The OTP key provider against a fake `rpi-otp-private-key` on PATH (a shell script in a temp dir that
 * prints what the test put beside it): a provisioned key gives a stable root key that is not the OTP
 * key; all zeros, a failing or a missing tool fall back to the file key with a warning; a factory
 * reset yields a new root key although OTP stays the same.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { MIN_KDF_ITERATIONS } from '../../../firmware/auth/password-verifier.ts';
import { dataDirPaths } from '../../../firmware/boot/data-dir.ts';
import { parseDeviceOptions } from '../../../firmware/boot/device-options.ts';
import { factoryResetDataDir } from '../../../firmware/boot/factory-reset-data-dir.ts';
import { FileMonotonicCounter } from '../../../firmware/keys/file-key-provider.ts';
import {
  deriveOtpRootKey,
  OTP_SALT_FILE,
  OtpKeyProvider,
  type OtpKeyProviderOptions,
} from '../../../firmware/keys/otp-key-provider.ts';
import { SecureStore } from '../../../firmware/store/secure-store.ts';
import { NorFlash } from '../../../sim/nor-flash.ts';

const OTP_KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00';
const OTHER_BOARD_KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff1';
const ZERO_KEY = '0'.repeat(64);

interface Fixture {
  readonly dataDir: string;
  readonly keysDir: string;
  /** What the fake tool prints (and its exit code) from now on. */
  setOtp(output: string, exitCode?: number): void;
  /** A provider whose PATH has the fake tool first (or, with `withTool: false`, no such tool at all). */
  provider(withTool?: boolean): { provider: OtpKeyProvider; logs: string[] };
}

function fixture(t: TestContext): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'metergate-otp-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bin = join(root, 'bin');
  const emptyBin = join(root, 'empty-bin');
  mkdirSync(bin);
  mkdirSync(emptyBin);
  const tool = join(bin, 'rpi-otp-private-key');
  // The real tool prints the key as 64 hex digits and a newline (rpi-eeprom's tools/rpi-otp-private-key).
  writeFileSync(
    tool,
    '#!/bin/sh\ncat "$(dirname "$0")/otp.out"\nexit "$(cat "$(dirname "$0")/otp.status")"\n',
  );
  chmodSync(tool, 0o755);
  const dataDir = join(root, 'data');
  const keysDir = join(dataDir, 'keys');
  const setOtp = (output: string, exitCode = 0) => {
    writeFileSync(join(bin, 'otp.out'), output);
    writeFileSync(join(bin, 'otp.status'), String(exitCode));
  };
  setOtp(`${OTP_KEY}\n`);
  return {
    dataDir,
    keysDir,
    setOtp,
    provider(withTool = true) {
      const logs: string[] = [];
      // /bin for sh, cat and dirname; the fake first, or only a directory without the tool.
      const options: OtpKeyProviderOptions = {
        keysDir,
        log: (message) => logs.push(message),
        env: { PATH: `${withTool ? bin : emptyBin}:/usr/bin:/bin` },
      };
      return { provider: new OtpKeyProvider(options), logs };
    },
  };
}

function hex(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes).toString('hex');
}

describe('OTP key provider', () => {
  it('derives a stable root key from a provisioned OTP key, never the OTP key itself', (t) => {
    const fx = fixture(t);
    const first = fx.provider();
    assert.equal(first.provider.loadRootKey(), null, 'no generation salt yet: first boot');
    const created = first.provider.createRootKey();
    assert.equal(created.length, 32);
    assert.notEqual(hex(created), OTP_KEY);
    assert.ok(first.logs.some((line) => /derived from the OTP/.test(line)));
    assert.ok(!first.logs.some((line) => /WARNING/.test(line)));
    assert.match(first.provider.description, /^otp:/);

    const saltPath = join(fx.keysDir, OTP_SALT_FILE);
    assert.equal(statSync(saltPath).mode & 0o777, 0o600);
    assert.equal(statSync(fx.keysDir).mode & 0o777, 0o700);
    assert.ok(!existsSync(join(fx.keysDir, 'root.key')), 'no root key file is written in OTP mode');

    const again = fx.provider();
    assert.equal(hex(again.provider.loadRootKey()), hex(created), 'the same key after a reboot');

    fx.setOtp(`${OTHER_BOARD_KEY}\n`);
    assert.notEqual(
      hex(fx.provider().provider.loadRootKey()),
      hex(created),
      'the data dir on another board gives another root key',
    );
    const salt = new Uint8Array(readFileSync(saltPath));
    assert.equal(
      hex(created),
      hex(deriveOtpRootKey(Buffer.from(OTP_KEY, 'hex'), salt)),
      'HKDF(OTP key, salt)',
    );
  });

  it('falls back to the file key with a warning when the OTP key is all zeros', (t) => {
    const fx = fixture(t);
    fx.setOtp(`${ZERO_KEY}\n`);
    const { provider, logs } = fx.provider();
    assert.equal(provider.loadRootKey(), null);
    const created = provider.createRootKey();
    assert.ok(existsSync(join(fx.keysDir, 'root.key')), 'the fallback writes the file key');
    assert.ok(!existsSync(join(fx.keysDir, OTP_SALT_FILE)));
    assert.ok(
      logs.some((line) => /WARNING.*not provisioned.*falling back/.test(line)),
      logs.join('\n'),
    );
    assert.match(provider.description, /^file:.*OTP fallback/);
    assert.equal(hex(fx.provider().provider.loadRootKey()), hex(created));
  });

  it('falls back to the file key with a warning when the tool is missing', (t) => {
    const fx = fixture(t);
    const { provider, logs } = fx.provider(false);
    assert.equal(provider.loadRootKey(), null);
    provider.createRootKey();
    assert.ok(existsSync(join(fx.keysDir, 'root.key')));
    assert.ok(
      logs.some((line) => /WARNING.*rpi-otp-private-key not found.*falling back/.test(line)),
      logs.join('\n'),
    );
  });

  it('falls back when the tool fails or prints something else than a key', (t) => {
    const fx = fixture(t);
    fx.setOtp('Failed to read the current key from OTP\n', 1);
    const failing = fx.provider();
    assert.equal(failing.provider.loadRootKey(), null);
    assert.ok(
      failing.logs.some((line) => /WARNING.*failed \(1\)/.test(line)),
      failing.logs.join('\n'),
    );
    fx.setOtp('0x1234\n');
    const garbled = fx.provider();
    garbled.provider.loadRootKey();
    assert.ok(
      garbled.logs.some((line) => /WARNING.*no 64-digit hex key/.test(line)),
      garbled.logs.join('\n'),
    );
  });

  it('keeps a file key made before OTP was used, and warns when OTP goes away under an OTP data dir', (t) => {
    const fx = fixture(t);
    fx.setOtp(`${ZERO_KEY}\n`);
    const fileKey = fx.provider().provider.createRootKey();
    fx.setOtp(`${OTP_KEY}\n`);
    const later = fx.provider();
    assert.equal(hex(later.provider.loadRootKey()), hex(fileKey), 'the table stays readable');
    assert.ok(later.logs.some((line) => /WARNING.*until a factory reset/.test(line)));

    later.provider.destroyRootKey();
    const otpKey = fx.provider().provider.createRootKey();
    fx.setOtp(`${ZERO_KEY}\n`);
    const lost = fx.provider();
    assert.equal(lost.provider.loadRootKey(), null, 'no key without OTP: the store goes to safe mode');
    assert.ok(
      lost.logs.some((line) => /WARNING.*derived from the OTP key/.test(line)),
      lost.logs.join('\n'),
    );
    assert.notEqual(hex(otpKey), hex(fileKey));
  });

  it('refuses a generation salt readable by others', (t) => {
    const fx = fixture(t);
    fx.provider().provider.createRootKey();
    chmodSync(join(fx.keysDir, OTP_SALT_FILE), 0o644);
    assert.throws(() => fx.provider().provider.loadRootKey(), /chmod 600/);
  });

  it('gives a new root key after a factory reset although OTP is the same', async (t) => {
    const fx = fixture(t);
    const paths = dataDirPaths(fx.dataDir);
    const open = async () => {
      mkdirSync(paths.dir, { recursive: true });
      const flash = NorFlash.open({ path: paths.flashImage, create: true });
      try {
        const { provider } = fx.provider();
        const result = await SecureStore.open(
          { flash, keys: provider, counter: new FileMonotonicCounter(paths.counterFile), now: Date.now },
          { kdfIterations: MIN_KDF_ITERATIONS },
        );
        assert.equal(result.mode, 'normal', result.mode === 'safe' ? result.reason : '');
        return result.mode === 'normal' ? result : assert.fail();
      } finally {
        flash.close();
      }
    };
    const before = await open();
    assert.equal(before.firstBoot, true);
    const reboot = await open();
    assert.equal(reboot.firstBoot, false, 'the OTP-derived key reads the table after a reboot');
    assert.equal(hex(reboot.rootKey), hex(before.rootKey));

    factoryResetDataDir(paths);
    assert.ok(!existsSync(join(paths.keysDir, OTP_SALT_FILE)), 'the factory reset removed the salt');
    const after = await open();
    assert.equal(after.firstBoot, true, 'a factory reset is a first boot');
    assert.notEqual(hex(after.rootKey), hex(before.rootKey), 'with a new root key');

    // The provider's own destroy (what factoryReset calls on it) does the same.
    const { provider } = fx.provider();
    provider.destroyRootKey();
    assert.equal(fx.provider().provider.loadRootKey(), null);
  });
});

describe('--key-provider', () => {
  const env = { isTTY: false, webDir: '/nonexistent' };
  it('selects the provider, file by default, and names the flag when wrong', () => {
    const pick = (argv: string[]) => {
      const options = parseDeviceOptions(argv, env);
      return options === 'help' ? assert.fail() : options.keyProvider;
    };
    assert.equal(pick([]), 'file');
    assert.equal(pick(['--key-provider', 'otp']), 'otp');
    assert.throws(() => parseDeviceOptions(['--key-provider', 'tpm'], env), /--key-provider must be/);
  });
});
