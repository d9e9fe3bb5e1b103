/**
 * The power-cut loop of power-cut.test.ts for what the security record anchors (issue 14 §4):
 *
 * - a configuration change (config copy A, the anchoring security commit, config copy B), cut after
 *   every byte it programs: each reboot serves exactly the old or exactly the new configuration (the
 *   new one as soon as the security record's copy A is whole), never a degraded state, and a second
 *   reboot repairs nothing;
 * - a write of bound files (tls/: `.next` files, the anchoring commit, renames), cut after every byte
 *   of the commit and between the commit and the renames: each reboot reads exactly the old or the new
 *   files and refuses none.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_DEVICE_CONFIG, type DeviceConfig } from '../../firmware/core/device-config.ts';
import { AnchoredFiles } from '../../firmware/store/anchored-files.ts';
import { ConfigStore } from '../../firmware/store/config-store.ts';
import { PowerLossError } from '../../firmware/store/flash.ts';
import { CONFIG_RECORD_BLOCKS, SECURITY_RECORD_BLOCKS } from '../../firmware/store/flash-layout.ts';
import {
  type Booted,
  bootNormal,
  imageBlock,
  readImage,
  restore,
  sealedLength,
  snapshot,
  tempDataDir,
} from '../support/store-fixture.ts';

const OLD_CONFIG: DeviceConfig = { ...DEFAULT_DEVICE_CONFIG, vtRatio: 100, ctRatio: 5 };
const NEW_CONFIG: DeviceConfig = { ...DEFAULT_DEVICE_CONFIG, vtRatio: 200, ctRatio: 40, wordOrder: 'CDAB' };

function openConfig(booted: Awaited<ReturnType<typeof bootNormal>>): ConfigStore {
  return ConfigStore.open(booted.flash, booted.normal.rootKey, booted.store);
}

function programmed(booted: Booted): number {
  return booted.flash.bytesProgrammed + booted.flash.blocksErased;
}

describe('power cut after every byte of an anchored write', () => {
  it('a configuration change: old or new configuration, never degraded', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    openConfig(first).commit(OLD_CONFIG);
    first.close();
    const pristine = join(data.dir, 'pristine');
    mkdirSync(pristine);
    snapshot(data, pristine);

    const measured = await bootNormal(data);
    const measuredConfig = openConfig(measured);
    assert.deepEqual(measuredConfig.config, OLD_CONFIG);
    assert.equal(programmed(measured), 0, 'boot of the prepared image wrote to flash');
    measuredConfig.commit(NEW_CONFIG);
    const total = measured.flash.bytesProgrammed;
    measured.close();
    const image = readImage(data);
    const configA = sealedLength(imageBlock(image, CONFIG_RECORD_BLOCKS[0]));
    const securityA = sealedLength(imageBlock(image, SECURITY_RECORD_BLOCKS[0]));
    const newFrom = configA + securityA;
    assert.ok(total > newFrom + securityA, `T=${total}`);

    const outcomes = { old: 0, new: 0 };
    for (let n = 0; n <= total; n++) {
      restore(data, pristine);
      const cut = await bootNormal(data, { powerCutAfterBytes: n });
      const config = openConfig(cut);
      assert.equal(programmed(cut), 0, `n=${n}: boot wrote to flash`);
      let thrown: unknown = null;
      try {
        config.commit(NEW_CONFIG);
      } catch (error) {
        thrown = error;
      }
      cut.close();
      if (n < total) assert.ok(thrown instanceof PowerLossError, `n=${n}: ${String(thrown)}`);
      else assert.equal(thrown, null);

      const isNew = n >= newFrom;
      const rebooted = await bootNormal(data);
      const reopened = openConfig(rebooted);
      assert.deepEqual(reopened.config, isNew ? NEW_CONFIG : OLD_CONFIG, `n=${n}`);
      assert.deepEqual(reopened.health, { state: 'stored', detail: null }, `n=${n}`);
      assert.ok(
        !rebooted.store.log.readAll().some((e) => e.type.startsWith('config.')),
        `n=${n}: a tamper event`,
      );
      rebooted.close();
      outcomes[isNew ? 'new' : 'old']++;

      const second = await bootNormal(data);
      const again = openConfig(second);
      assert.deepEqual(again.config, isNew ? NEW_CONFIG : OLD_CONFIG, `n=${n}: second reboot`);
      assert.deepEqual(second.normal.repaired, [], `n=${n}: second reboot repaired the record`);
      assert.equal(programmed(second), 0, `n=${n}: second reboot wrote to flash`);
      second.close();
    }
    assert.equal(outcomes.old, newFrom);
    t.diagnostic(`configuration change: T=${total} bytes; ${outcomes.old} old, ${outcomes.new} new`);
  });

  it('bound files: old or new files, never refused', async (t) => {
    const data = tempDataDir(t);
    const tlsDir = join(data.dir, 'tls');
    const first = await bootNormal(data);
    const firstFiles = new AnchoredFiles(tlsDir, 'tls/', first.store);
    firstFiles.verify();
    firstFiles.write({
      'cert.pem': Buffer.from('old certificate'),
      'modbus-ca.sealed': Buffer.from('old ca'),
      'modbus-crl.sealed': Buffer.from('old crl'),
    });
    first.close();
    const pristine = join(data.dir, 'pristine');
    mkdirSync(pristine);
    snapshot(data, pristine);
    cpSync(tlsDir, join(pristine, 'tls'), { recursive: true });
    const restoreAll = () => {
      restore(data, pristine);
      rmSync(tlsDir, { recursive: true, force: true });
      cpSync(join(pristine, 'tls'), tlsDir, { recursive: true });
    };
    // Two files replaced and one removed (as a new CA drops its CRL), in one write.
    const OLD = {
      'cert.pem': 'old certificate',
      'modbus-ca.sealed': 'old ca',
      'modbus-crl.sealed': 'old crl',
    };
    const NEW = {
      'cert.pem': 'new certificate',
      'modbus-ca.sealed': 'new ca',
      'modbus-crl.sealed': undefined,
    };
    const change = {
      'cert.pem': Buffer.from(NEW['cert.pem']),
      'modbus-ca.sealed': Buffer.from(NEW['modbus-ca.sealed']),
      'modbus-crl.sealed': null,
    };
    const read = (files: AnchoredFiles) => ({
      'cert.pem': files.read('cert.pem')?.toString(),
      'modbus-ca.sealed': files.read('modbus-ca.sealed')?.toString(),
      'modbus-crl.sealed': files.read('modbus-crl.sealed')?.toString(),
    });

    const measured = await bootNormal(data);
    new AnchoredFiles(tlsDir, 'tls/', measured.store).write(change);
    const total = measured.flash.bytesProgrammed;
    measured.close();
    const securityA = sealedLength(imageBlock(readImage(data), SECURITY_RECORD_BLOCKS[0]));

    /** Reboots twice: the files read are `expected` and nothing is refused, the second time too. */
    const check = async (label: string, expected: Record<string, string | undefined>) => {
      for (const pass of ['first', 'second']) {
        const rebooted = await bootNormal(data);
        const files = new AnchoredFiles(tlsDir, 'tls/', rebooted.store);
        assert.deepEqual([...files.verify().values()], [], `${label}, ${pass} reboot: refused`);
        assert.deepEqual(read(files), expected, `${label}, ${pass} reboot`);
        assert.deepEqual(
          readdirSync(tlsDir).filter((name) => name.endsWith('.next') || name.endsWith('.old')),
          [],
          `${label}: .next or .old left`,
        );
        rebooted.close();
      }
    };

    for (let n = 0; n <= total; n++) {
      restoreAll();
      const cut = await bootNormal(data, { powerCutAfterBytes: n });
      let thrown: unknown = null;
      try {
        new AnchoredFiles(tlsDir, 'tls/', cut.store).write(change);
      } catch (error) {
        thrown = error;
      }
      cut.close();
      if (n < total) assert.ok(thrown instanceof PowerLossError, `n=${n}: ${String(thrown)}`);
      await check(`n=${n}`, n >= securityA ? NEW : OLD);
    }

    // The commit through, the renames not: the new files still as .next, the old ones in place, the
    // removed one still as .old.
    for (const renamed of [0, 1, 2]) {
      restoreAll();
      const booted = await bootNormal(data);
      new AnchoredFiles(tlsDir, 'tls/', booted.store).write(change);
      booted.close();
      const names = ['cert.pem', 'modbus-ca.sealed'] as const;
      for (const name of names.slice(renamed)) {
        renameSync(join(tlsDir, name), join(tlsDir, `${name}.next`));
        writeFileSync(join(tlsDir, name), readFileSync(join(pristine, 'tls', name)));
      }
      writeFileSync(join(tlsDir, 'modbus-crl.sealed.old'), OLD['modbus-crl.sealed']);
      await check(`commit done, ${renamed} of 2 renamed`, NEW);
    }
  });
});
