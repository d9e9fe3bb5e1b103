/**
 * The anchors of the security record (record-anchors.ts) through the real store on a real image file:
 * the log anchor taken by every commit and checked at boot (a ring behind its anchor, a ring with a
 * block missing in between), records written before anchors (read as unanchored, anchored by the first
 * boot, their configuration adopted), the configuration record's anchor (uncommitted copies dropped, a
 * replay refused), the files bound to the counter (adopted, planted, removed), malformed anchors, and
 * a deleted keys directory with records on flash.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_DEVICE_CONFIG } from '../../../firmware/core/device-config.ts';
import { deriveKey } from '../../../firmware/keys/record-keys.ts';
import { AnchoredFiles, FILE_ROLLBACK_EVENT } from '../../../firmware/store/anchored-files.ts';
import { CONFIG_RECORD_KIND, ConfigStore } from '../../../firmware/store/config-store.ts';
import {
  CHANGES_LOG,
  CONFIG_RECORD_BLOCKS,
  FIRST_LOG_BLOCK,
  LOG_BLOCK_COUNT,
  SECURITY_RECORD_BLOCKS,
} from '../../../firmware/store/flash-layout.ts';
import { decodeAnchors } from '../../../firmware/store/record-anchors.ts';
import { SealedRecordPair } from '../../../firmware/store/sealed-record.ts';
import { TRUNCATED_EVENT_TYPE } from '../../../firmware/store/security-log.ts';
import { TlsService } from '../../../firmware/tls/tls-service.ts';
import { DEFAULT_BLOCK_SIZE, NorFlash } from '../../../sim/nor-flash.ts';
import { createTestCa } from '../../support/modbus-certificates.ts';
import {
  boot,
  bootNormal,
  type DataDir,
  FIXED_TIME,
  readImage,
  tempDataDir,
  writeImage,
} from '../../support/store-fixture.ts';

const EVENT = { time: FIXED_TIME, type: 'user.add', interface: 'rest', result: 'ok' } as const;

/** Rewrites both copies of the security record without their `a` field, as older firmware wrote them. */
function stripAnchors(data: DataDir): void {
  const rootKey = new Uint8Array(readFileSync(data.rootKeyPath));
  const flash = NorFlash.open({ path: data.imagePath });
  try {
    const pair = new SealedRecordPair(
      flash,
      SECURITY_RECORD_BLOCKS,
      1,
      deriveKey(rootKey, 'record/security'),
    );
    const copy = pair.readCopy(0);
    assert.equal(copy.state, 'valid');
    if (copy.state !== 'valid') return;
    const { a: _anchors, ...legacy } = copy.payload as Record<string, unknown>;
    pair.writeCopy(0, copy.seq, legacy);
    pair.writeCopy(1, copy.seq, legacy);
  } finally {
    flash.close();
  }
}

/** Writes both configuration copies directly (as older firmware did: no anchor). */
function writeConfigCopies(data: DataDir, seq: number, payload: unknown): void {
  const rootKey = new Uint8Array(readFileSync(data.rootKeyPath));
  const flash = NorFlash.open({ path: data.imagePath });
  try {
    const pair = new SealedRecordPair(
      flash,
      CONFIG_RECORD_BLOCKS,
      CONFIG_RECORD_KIND,
      deriveKey(rootKey, 'record/config'),
    );
    pair.writeCopy(0, seq, payload);
    pair.writeCopy(1, seq, payload);
  } finally {
    flash.close();
  }
}

describe('log anchor', () => {
  it('every commit anchors the newest id of each ring; a boot with the ring behind it reports, logs and re-anchors once', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    for (let i = 0; i < 5; i++) first.store.record({ ...EVENT, time: FIXED_TIME + i });
    first.store.record({ ...EVENT, result: 'denied', type: 'login' });
    first.store.commit(first.store.state, EVENT);
    const anchor = first.store.anchors.log;
    assert.ok(anchor && anchor[0] >= 6 && anchor[1] >= 1, JSON.stringify(anchor));
    first.close();

    // The refusals ring alone erased: the changes ring is whole, the refusals ring behind its anchor.
    const image = readImage(data);
    image.fill(0xff, (FIRST_LOG_BLOCK + 8) * DEFAULT_BLOCK_SIZE, (FIRST_LOG_BLOCK + 16) * DEFAULT_BLOCK_SIZE);
    writeImage(data, image);

    const look = await bootNormal(data, { readOnly: true });
    assert.equal(look.store.log.integrity().state, 'broken');
    assert.match(look.store.log.integrity().detail ?? '', /refusals ring: newest event id 0/);
    assert.equal(look.flash.bytesProgrammed + look.flash.blocksErased, 0, 'read-only open wrote');
    look.close();

    const found = await bootNormal(data);
    assert.ok(
      found.normal.repaired.some((r) => /anchored again/.test(r)),
      found.normal.repaired.join(),
    );
    const events = found.store.log.readAll();
    const truncated = events.filter((e) => e.type === TRUNCATED_EVENT_TYPE);
    assert.equal(truncated.length, 1);
    assert.ok((truncated[0]?.id ?? 0) > (anchor?.[1] ?? 0), 'ids went back below the anchor');
    found.close();

    const again = await bootNormal(data);
    assert.deepEqual(again.normal.repaired, []);
    assert.equal(again.store.log.readAll().filter((e) => e.type === TRUNCATED_EVENT_TYPE).length, 1);
    // Still reported (stored with the entries) until an audit reader reads it.
    assert.equal(again.store.log.integrity().state, 'broken');
    again.store.log.markRead(Number.MAX_SAFE_INTEGER);
    assert.equal(again.store.log.integrity().state, 'ok');
    again.close();
  });

  it('a block missing in the middle of a ring is found even when the newest is intact', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    // Enough changes for four blocks of the changes ring.
    const detail = 'x'.repeat(400);
    for (let i = 0; i < 40; i++) first.store.record({ ...EVENT, detail });
    first.store.commit(first.store.state, EVENT);
    first.close();
    const image = readImage(data);
    const used = Array.from({ length: CHANGES_LOG.blockCount }, (_, i) => CHANGES_LOG.firstBlock + i).filter(
      (block) => image[block * DEFAULT_BLOCK_SIZE] === 0x4d,
    );
    assert.ok(used.length >= 3, `${used.length} blocks used`);
    const middle = used[1] as number;
    image.fill(0xff, middle * DEFAULT_BLOCK_SIZE, (middle + 1) * DEFAULT_BLOCK_SIZE);
    writeImage(data, image);
    const look = await bootNormal(data, { readOnly: true });
    assert.equal(look.store.log.integrity().state, 'broken');
    assert.match(look.store.log.integrity().detail ?? '', /changes ring: blocks? .* missing/);
    look.close();
  });
});

describe('records from before anchors', () => {
  it('are read as unanchored, and the first boot anchors log, configuration and files in place', async (t) => {
    const data = tempDataDir(t);
    (await bootNormal(data)).close();
    // As older firmware wrote it: without the keys added since (energyOffset, meterSource).
    const { energyOffset: _offset, meterSource: _meter, ...older } = DEFAULT_DEVICE_CONFIG;
    const legacyConfig = { ...older, vtRatio: 50 };
    writeConfigCopies(data, 7, legacyConfig);
    const tls = join(data.dir, 'tls');
    mkdirSync(tls);
    writeFileSync(join(tls, 'cert.pem'), 'legacy certificate');
    stripAnchors(data);

    const look = await bootNormal(data, { readOnly: true });
    assert.deepEqual(look.store.anchors, { config: null, log: null, files: null });
    assert.equal(look.store.log.integrity().state, 'unanchored');
    const lookConfig = ConfigStore.open(look.flash, look.normal.rootKey, look.store, { readOnly: true });
    assert.equal(lookConfig.health.state, 'unanchored');
    assert.equal(lookConfig.config.vtRatio, 50);
    look.close();

    const booted = await bootNormal(data);
    assert.ok(booted.normal.repaired.some((r) => /predates log anchors/.test(r)));
    const config = ConfigStore.open(booted.flash, booted.normal.rootKey, booted.store);
    assert.deepEqual(config.health, { state: 'stored', detail: null });
    assert.equal(config.config.vtRatio, 50);
    assert.equal(config.config.meterSource, null, 'a record without meterSource reads as none stored');
    const files = new AnchoredFiles(tls, 'tls/', booted.store);
    assert.deepEqual([...files.verify().values()], []);
    assert.equal(files.read('cert.pem')?.toString(), 'legacy certificate');
    assert.equal(booted.store.anchors.config?.seq, 7);
    assert.ok(booted.store.anchors.files?.['tls/cert.pem']);
    booted.close();

    // Anchored now: the same configuration blocks of an earlier sequence are a replay.
    writeConfigCopies(data, 6, { ...DEFAULT_DEVICE_CONFIG, vtRatio: 40 });
    const replayed = await bootNormal(data);
    const refused = ConfigStore.open(replayed.flash, replayed.normal.rootKey, replayed.store);
    assert.equal(refused.health.state, 'rolled-back');
    assert.equal(refused.config.vtRatio, DEFAULT_DEVICE_CONFIG.vtRatio);
    assert.ok(replayed.store.log.readAll().some((e) => e.type === 'config.rollback'));
    replayed.close();
  });
});

describe('configuration anchor', () => {
  it('with nothing committed, copies on flash are uncommitted writes: erased, defaults served', async (t) => {
    const data = tempDataDir(t);
    (await bootNormal(data)).close();
    writeConfigCopies(data, 3, { ...DEFAULT_DEVICE_CONFIG, vtRatio: 77 });
    const booted = await bootNormal(data);
    const config = ConfigStore.open(booted.flash, booted.normal.rootKey, booted.store);
    assert.deepEqual(config.health, { state: 'default', detail: null });
    assert.equal(config.config.vtRatio, 1);
    booted.close();
    const image = readImage(data);
    for (const block of CONFIG_RECORD_BLOCKS) {
      assert.ok(
        image.subarray(block * DEFAULT_BLOCK_SIZE, (block + 1) * DEFAULT_BLOCK_SIZE).every((b) => b === 0xff),
      );
    }
  });

  it('a copy of the anchored sequence but another content (replayed uncommitted write) is refused', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    ConfigStore.open(first.flash, first.normal.rootKey, first.store).commit({
      ...DEFAULT_DEVICE_CONFIG,
      vtRatio: 10,
    });
    const seq = first.store.anchors.config?.seq as number;
    first.close();
    writeConfigCopies(data, seq, { ...DEFAULT_DEVICE_CONFIG, vtRatio: 11 });
    const booted = await bootNormal(data);
    const config = ConfigStore.open(booted.flash, booted.normal.rootKey, booted.store);
    assert.equal(config.health.state, 'rolled-back');
    assert.equal(config.config.vtRatio, 1);
    // Stored again: a new sequence, above everything seen, and served after a reboot.
    config.commit({ ...DEFAULT_DEVICE_CONFIG, vtRatio: 12 });
    booted.close();
    const after = await bootNormal(data);
    const reopened = ConfigStore.open(after.flash, after.normal.rootKey, after.store);
    assert.deepEqual([reopened.health.state, reopened.config.vtRatio], ['stored', 12]);
    assert.ok((after.store.anchors.config?.seq as number) > seq);
    after.close();
  });
});

describe('bound files', () => {
  it('a file planted where none is anchored, a removed one, and one written again', async (t) => {
    const data = tempDataDir(t);
    const tls = join(data.dir, 'tls');
    const first = await bootNormal(data);
    const files = new AnchoredFiles(tls, 'tls/', first.store);
    files.verify();
    files.write({ 'a.sealed': Buffer.from('a1'), 'b.sealed': Buffer.from('b1') });
    files.write({ 'b.sealed': null });
    first.close();
    writeFileSync(join(tls, 'b.sealed'), 'b1');
    rmSync(join(tls, 'a.sealed'));

    const booted = await bootNormal(data);
    const again = new AnchoredFiles(tls, 'tls/', booted.store);
    const refused = again.verify();
    assert.match(refused.get('b.sealed') ?? '', /not part of the committed state/);
    assert.match(refused.get('a.sealed') ?? '', /missing/);
    assert.equal(again.read('b.sealed'), null);
    const events = booted.store.log.readAll().filter((e) => e.type === FILE_ROLLBACK_EVENT);
    assert.equal(events.length, 2);
    again.write({ 'a.sealed': Buffer.from('a2') });
    assert.equal(again.read('a.sealed')?.toString(), 'a2');
    assert.deepEqual([...again.refusals().keys()], ['b.sealed']);
    booted.close();
  });
});

describe('Modbus trust files', () => {
  it('a CRL beside the CA put back from an older copy leaves Modbus/TLS without a CA', async (t) => {
    const data = tempDataDir(t);
    const tlsDir = join(data.dir, 'tls');
    const ca = await createTestCa();
    const first = await bootNormal(data);
    const files = new AnchoredFiles(tlsDir, 'tls/', first.store);
    files.verify();
    const tls = new TlsService(files, first.normal.rootKey, () => Date.now());
    tls.uploadModbusCa(ca.cert);
    files.write({ 'client-ca.crl': Buffer.from('a revocation list') });
    first.close();

    const reboot = async () => {
      const booted = await bootNormal(data);
      const bound = new AnchoredFiles(tlsDir, 'tls/', booted.store);
      bound.verify();
      return { booted, tls: new TlsService(bound, booted.normal.rootKey, () => Date.now()) };
    };
    let { booted, tls: service } = await reboot();
    assert.match(service.modbusCa() ?? '', /BEGIN CERTIFICATE/);
    booted.close();

    writeFileSync(join(tlsDir, 'client-ca.crl'), 'an older revocation list');
    ({ booted, tls: service } = await reboot());
    assert.equal(service.modbusCa(), null);
    booted.close();
  });
});

describe('malformed anchors and deleted keys', () => {
  it('decodeAnchors names the malformed field', () => {
    assert.deepEqual(decodeAnchors({ v: 1 }), { config: null, log: null, files: null });
    assert.throws(() => decodeAnchors({ a: [] }), /a: expected a map/);
    assert.throws(() => decodeAnchors({ a: { c: [1] } }), /a\.c/);
    assert.throws(() => decodeAnchors({ a: { l: [1, -1] } }), /a\.l/);
    assert.throws(() => decodeAnchors({ a: { f: { x: new Uint8Array(3) } } }), /a\.f\.x/);
  });

  it('keys deleted with only log blocks left on flash: safe mode, nothing written', async (t) => {
    const data = tempDataDir(t);
    (await bootNormal(data)).close();
    const image = readImage(data);
    // Erase every record block: only the log remains.
    image.fill(0xff, 0, FIRST_LOG_BLOCK * DEFAULT_BLOCK_SIZE);
    assert.ok(
      image
        .subarray(
          FIRST_LOG_BLOCK * DEFAULT_BLOCK_SIZE,
          (FIRST_LOG_BLOCK + LOG_BLOCK_COUNT) * DEFAULT_BLOCK_SIZE,
        )
        .some((b) => b !== 0xff),
    );
    writeImage(data, image);
    rmSync(data.keysDir, { recursive: true });
    const booted = await boot(data);
    assert.equal(booted.result.mode, 'safe');
    assert.match(
      booted.result.mode === 'safe' ? booted.result.reason : '',
      /root key and the anti-rollback counter are missing/,
    );
    assert.equal(booted.flash.bytesProgrammed + booted.flash.blocksErased, 0);
    booted.close();
  });
});
