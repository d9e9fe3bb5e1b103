/**
 * The security event ring on simulated flash: round trip with increasing ids, persistence across a
 * reopen, overwrite-oldest when the 16 blocks are full, torn appends (power cut mid-entry) and a
 * flipped bit in one entry.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { EventLog, type SecurityEvent, type StoredEvent } from '../../../firmware/store/event-log.ts';
import { PowerLossError } from '../../../firmware/store/flash.ts';
import { FIRST_LOG_BLOCK, LOG_BLOCK_COUNT, MIN_BLOCK_COUNT } from '../../../firmware/store/flash-layout.ts';
import { DEFAULT_BLOCK_SIZE, flipBit, NorFlash } from '../../../sim/nor-flash.ts';
import { FIXED_TIME, tempDataDir } from '../../support/store-fixture.ts';

const KEY = new Uint8Array(randomBytes(32));
const BLOCK = DEFAULT_BLOCK_SIZE;
const HEADER = 16;

interface Ring {
  readonly flash: NorFlash;
  readonly log: EventLog;
  close(): void;
}

function openRing(path: string, powerCutAfterBytes?: number): Ring {
  const flash = NorFlash.open({ path, create: true, blockCount: MIN_BLOCK_COUNT, powerCutAfterBytes });
  return {
    flash,
    log: new EventLog(flash, FIRST_LOG_BLOCK, LOG_BLOCK_COUNT, KEY),
    close: () => flash.close(),
  };
}

function imagePath(t: TestContext): string {
  return tempDataDir(t).imagePath;
}

function event(n: number, detail?: string): SecurityEvent {
  return {
    time: FIXED_TIME + n,
    type: 'login',
    interface: 'web',
    result: n % 3 === 0 ? 'denied' : 'ok',
    slot: n % 8,
    source: `192.0.2.${n % 250}`,
    ...(detail === undefined ? {} : { detail }),
  };
}

/** What readAll should give for `events` (ids aside). */
function withoutIds(stored: readonly StoredEvent[]): SecurityEvent[] {
  return stored.map(({ id: _id, ...rest }) => rest);
}

function assertIncreasingIds(stored: readonly StoredEvent[]): void {
  for (let i = 1; i < stored.length; i++) {
    assert.ok(
      (stored[i] as StoredEvent).id > (stored[i - 1] as StoredEvent).id,
      `ids not increasing at ${i}: ${stored.map((e) => e.id).join(',')}`,
    );
  }
}

/** Log blocks holding a header, in block order. */
function blocksInUse(image: Uint8Array): number[] {
  const used: number[] = [];
  for (let i = 0; i < LOG_BLOCK_COUNT; i++) {
    const at = (FIRST_LOG_BLOCK + i) * BLOCK;
    if (image[at] === 0x4d) used.push(FIRST_LOG_BLOCK + i);
  }
  return used;
}

describe('EventLog', () => {
  it('reads back every appended event in order, ids increasing', (t) => {
    const ring = openRing(imagePath(t));
    t.after(() => ring.close());
    assert.deepEqual(ring.log.readAll(), []);
    const events = [
      event(1),
      event(2, 'slot 4'),
      { time: FIXED_TIME, type: 'boot', interface: 'system', result: 'ok' } as const,
      event(3),
    ];
    for (const e of events) ring.log.append(e);
    const stored = ring.log.readAll();
    assert.deepEqual(withoutIds(stored), events);
    assertIncreasingIds(stored);
    assert.equal(new Set(stored.map((e) => e.id)).size, events.length);
    assert.equal(ring.log.damagedEntries, 0);
  });

  it('drops undefined optional fields instead of storing them', (t) => {
    const ring = openRing(imagePath(t));
    t.after(() => ring.close());
    ring.log.append({ ...event(1), detail: undefined });
    const [stored] = ring.log.readAll();
    assert.ok(stored, 'the event was not stored');
    assert.equal(Object.hasOwn(stored, 'detail'), false);
  });

  it('survives a reopen and appends after the events already there', (t) => {
    const path = imagePath(t);
    const events = Array.from({ length: 10 }, (_, i) => event(i));
    let ring = openRing(path);
    for (const e of events.slice(0, 6)) ring.log.append(e);
    const firstIds = ring.log.readAll().map((e) => e.id);
    ring.close();

    ring = openRing(path);
    assert.deepEqual(
      ring.log.readAll().map((e) => e.id),
      firstIds,
    );
    for (const e of events.slice(6)) ring.log.append(e);
    ring.close();

    ring = openRing(path);
    t.after(() => ring.close());
    const stored = ring.log.readAll();
    assert.deepEqual(withoutIds(stored), events);
    assert.deepEqual(
      stored.slice(0, 6).map((e) => e.id),
      firstIds,
    );
    assertIncreasingIds(stored);
    // The reopened log went on filling the same block instead of starting a new one.
    assert.deepEqual(blocksInUse(readFileSync(path)), [FIRST_LOG_BLOCK]);
  });

  it('overwrites the oldest events once all 16 blocks are full, without throwing', (t) => {
    const path = imagePath(t);
    let ring = openRing(path);
    // About 1 KiB each: three entries a block, so 80 events go round the ring once and a bit.
    const filler = 'x'.repeat(1000);
    const events = Array.from({ length: 80 }, (_, i) => event(i, `${i}:${filler}`));
    for (const e of events.slice(0, 40)) ring.log.append(e);
    ring.close();
    ring = openRing(path); // the wrap also works across a reopen
    t.after(() => ring.close());
    for (const e of events.slice(40)) ring.log.append(e);

    const stored = ring.log.readAll();
    assertIncreasingIds(stored);
    assert.equal(ring.log.damagedEntries, 0);
    // The newest events are all there, in order, and form a contiguous tail of what was appended.
    assert.ok(stored.length < events.length, `nothing was overwritten (${stored.length} kept)`);
    assert.ok(stored.length >= (LOG_BLOCK_COUNT - 1) * 3, `too little kept: ${stored.length}`);
    assert.deepEqual(withoutIds(stored), events.slice(events.length - stored.length));
    assert.equal(
      stored.some((e) => e.detail === events[0]?.detail),
      false,
    );
    assert.equal(blocksInUse(readFileSync(path)).length, LOG_BLOCK_COUNT);
    // Blocks outside the ring are untouched.
    const image = readFileSync(path);
    assert.ok(
      image.subarray(0, FIRST_LOG_BLOCK * BLOCK).every((byte) => byte === 0xff),
      'the log wrote outside its ring',
    );
  });

  it('goes round the ring several times, keeping exactly the newest 16 blocks', (t) => {
    const ring = openRing(imagePath(t));
    t.after(() => ring.close());
    const filler = 'y'.repeat(3000); // one entry a block
    const events = Array.from({ length: 3 * LOG_BLOCK_COUNT + 5 }, (_, i) => event(i, `${i}:${filler}`));
    for (const e of events) ring.log.append(e);
    const stored = ring.log.readAll();
    assert.deepEqual(withoutIds(stored), events.slice(-LOG_BLOCK_COUNT));
    assertIncreasingIds(stored);
  });

  it('skips an entry torn by a power cut, keeps appending, and reads it all after reopen', (t) => {
    const path = imagePath(t);
    const before = [event(1), event(2), event(3)];
    let ring = openRing(path);
    for (const e of before) ring.log.append(e);
    ring.close();

    // Cut at several points inside one entry: at its first byte, in the box, right before the length
    // (its commit point), and between the two bytes of the length.
    const torn = event(4, 'torn');
    ring = openRing(path);
    const probe = ring.flash.bytesProgrammed;
    ring.log.append(torn);
    const entryBytes = ring.flash.bytesProgrammed - probe;
    ring.close();
    assert.ok(entryBytes > 40, `entry of ${entryBytes} bytes`);

    for (const cut of [1, Math.floor(entryBytes / 2), entryBytes - 3, entryBytes - 2, entryBytes - 1]) {
      const tornPath = tempDataDir(t).imagePath;
      ring = openRing(tornPath);
      for (const e of before) ring.log.append(e);
      ring.close();

      ring = openRing(tornPath, cut);
      assert.throws(() => ring.log.append(torn), PowerLossError, `cut=${cut}`);
      ring.close();

      ring = openRing(tornPath);
      const afterCut = ring.log.readAll();
      assert.deepEqual(withoutIds(afterCut), before, `cut=${cut}`);
      assert.ok(ring.log.damagedEntries > 0, `cut=${cut}: the torn entry was not noticed`);
      const later = [event(5), event(6)];
      for (const e of later) ring.log.append(e);
      ring.close();

      ring = openRing(tornPath);
      const stored = ring.log.readAll();
      assert.deepEqual(withoutIds(stored), [...before, ...later], `cut=${cut}`);
      assertIncreasingIds(stored);
      ring.close();
    }
  });

  it('a power cut before any byte of the entry loses only that entry', (t) => {
    const path = imagePath(t);
    let ring = openRing(path);
    ring.log.append(event(1));
    ring.close();
    ring = openRing(path, 0);
    assert.throws(() => ring.log.append(event(2)), PowerLossError);
    ring.close();
    ring = openRing(path);
    t.after(() => ring.close());
    ring.log.append(event(3));
    assert.deepEqual(withoutIds(ring.log.readAll()), [event(1), event(3)]);
    assert.equal(ring.log.damagedEntries, 0);
  });

  it('a power cut while a new block header is programmed leaves no block with a bogus sequence', (t) => {
    // One entry fills a block, so the second append starts a new block: erase, then a 16-byte header.
    const filler = 'h'.repeat(3000);
    for (let cut = 0; cut <= 16; cut++) {
      const path = tempDataDir(t).imagePath;
      let ring = openRing(path);
      ring.log.append(event(1, filler));
      ring.close();
      ring = openRing(path, cut);
      assert.throws(() => ring.log.append(event(2, filler)), PowerLossError, `cut=${cut}`);
      ring.close();
      ring = openRing(path);
      ring.log.append(event(3, filler));
      const stored = ring.log.readAll();
      ring.close();
      assert.deepEqual(withoutIds(stored), [event(1, filler), event(3, filler)], `cut=${cut}`);
      // Block sequence numbers go 1, 2 (or 3 when the torn header made a valid empty block): a torn
      // header must not turn into a huge sequence number that throws the event ids forward.
      const [first, second] = stored.map((e) => e.id);
      assert.equal(first, 256, `cut=${cut}`);
      assert.ok(second === 512 || second === 768, `cut=${cut}: next id ${second}`);
    }
  });

  it('a flipped bit makes its entry and the rest of its block unreadable; other blocks still read', (t) => {
    const path = imagePath(t);
    let ring = openRing(path);
    const filler = 'z'.repeat(900); // four entries a block
    const events = Array.from({ length: 12 }, (_, i) => event(i, `${i}:${filler}`));
    for (const e of events) ring.log.append(e);
    const stored = ring.log.readAll();
    ring.close();
    assert.deepEqual(withoutIds(stored), events);
    const perBlock = new Map<number, number>();
    for (const e of stored)
      perBlock.set(Math.floor(e.id / 256), (perBlock.get(Math.floor(e.id / 256)) ?? 0) + 1);
    assert.ok(perBlock.size >= 3, `expected events spread over 3+ blocks: ${[...perBlock]}`);
    const firstBlockCount = [...perBlock.values()][0] as number;
    assert.ok(firstBlockCount >= 3, `${firstBlockCount} entries in the first block`);

    // Flip a bit inside the second entry of the first log block (its box, well past the prefix).
    const image = readFileSync(path);
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    const blockStart = FIRST_LOG_BLOCK * BLOCK;
    const firstLength = view.getUint16(blockStart + HEADER);
    const secondEntry = blockStart + HEADER + 2 + 24 + firstLength;
    flipBit(path, secondEntry + 2 + 24 + 20, 3);

    ring = openRing(path);
    t.after(() => ring.close());
    const damaged = ring.log.readAll();
    assert.ok(ring.log.damagedEntries > 0, 'the damaged entry was not counted');
    // Entry 0 survives; entries 1… of that block are gone; every other block reads in full.
    const expected = [stored[0], ...stored.slice(firstBlockCount)];
    assert.deepEqual(damaged, expected);

    // Appending still works (the damaged block is not the active one) and reads back.
    ring.log.append(event(99));
    assert.deepEqual(withoutIds(ring.log.readAll()), [...withoutIds(expected as StoredEvent[]), event(99)]);
  });

  it('a flipped bit in the newest block stops appends there; new events go to a fresh block', (t) => {
    const path = imagePath(t);
    let ring = openRing(path);
    const events = [event(1), event(2)];
    for (const e of events) ring.log.append(e);
    ring.close();
    const image = readFileSync(path);
    const blockStart = FIRST_LOG_BLOCK * BLOCK;
    const length = new DataView(image.buffer, image.byteOffset).getUint16(blockStart + HEADER);
    // Second entry's box.
    flipBit(path, blockStart + HEADER + 2 + 24 + length + 2 + 24 + 5, 0);

    ring = openRing(path);
    t.after(() => ring.close());
    ring.log.append(event(3));
    const stored = ring.log.readAll();
    assert.deepEqual(withoutIds(stored), [event(1), event(3)]);
    assert.equal(ring.log.damagedEntries, 1);
    assertIncreasingIds(stored);
    assert.deepEqual(blocksInUse(readFileSync(path)), [FIRST_LOG_BLOCK, FIRST_LOG_BLOCK + 1]);
  });

  it('holds no event field in plain text', (t) => {
    const path = imagePath(t);
    const ring = openRing(path);
    t.after(() => ring.close());
    ring.log.append({
      ...event(1),
      type: 'user.add',
      detail: 'visible_detail_text',
      source: '198.51.100.77',
    });
    const image = readFileSync(path);
    for (const text of ['visible_detail_text', '198.51.100.77', 'user.add', 'login', 'web']) {
      assert.equal(image.indexOf(text), -1, `'${text}' found in the image`);
    }
  });
});
