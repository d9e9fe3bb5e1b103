/**
 * The security log's two rings on a simulated flash image: refusals never push changes out, ids stay
 * unique and increasing across both rings, the refusal limiter turns a flood into summaries, and what
 * a reader missed (overwritten or summarized) is reported, warned about once, and survives a reopen.
 * A log written in format 1 (one ring, MGL1) stays readable.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import nacl from 'tweetnacl';
import type { SecurityEvent, StoredEvent } from '../../../firmware/store/event-log.ts';
import { CHANGES_LOG, MIN_BLOCK_COUNT, REFUSALS_LOG } from '../../../firmware/store/flash-layout.ts';
import { DEFAULT_REFUSAL_POLICY } from '../../../firmware/store/refusal-limiter.ts';
import { cbor } from '../../../firmware/store/sealed-record.ts';
import { LOST_EVENT_TYPE, SecurityLog } from '../../../firmware/store/security-log.ts';
import { NorFlash } from '../../../sim/nor-flash.ts';
import { FIXED_TIME, tempDataDir } from '../../support/store-fixture.ts';

const KEY = new Uint8Array(randomBytes(32));
const PLACES = { changes: CHANGES_LOG, refusals: REFUSALS_LOG };
const HOURS = 3;

function open(path: string): { flash: NorFlash; log: SecurityLog; close(): void } {
  const flash = NorFlash.open({ path, create: true, blockCount: MIN_BLOCK_COUNT });
  return { flash, log: new SecurityLog(flash, KEY, PLACES), close: () => flash.close() };
}

const change = (n: number, time = FIXED_TIME + n): SecurityEvent => ({
  time,
  type: 'user.add',
  interface: 'https',
  result: 'ok',
  slot: 0,
  source: '192.0.2.1',
  detail: `change ${n}`,
});
const refusal = (n: number, source: string, time = FIXED_TIME + n): SecurityEvent => ({
  time,
  type: n % 2 ? 'login' : 'apikey.auth',
  interface: 'https',
  result: n % 5 ? 'failed' : 'denied',
  source,
  detail: 'stale or unknown nonce',
});

function assertIncreasing(events: readonly StoredEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok((events[i] as StoredEvent).id > (events[i - 1] as StoredEvent).id, `ids at ${i}`);
  }
}

const summaryCount = (events: readonly StoredEvent[]) =>
  events
    .filter((e) => e.type === 'audit.summary')
    .reduce((sum, e) => sum + Number(/^(\d+) more refusals/.exec(e.detail ?? '')?.[1]), 0);

describe('SecurityLog', () => {
  it('keeps every change through a three-hour flood of refusals from many sources', (t: TestContext) => {
    const ring = open(tempDataDir(t).imagePath);
    t.after(() => ring.close());
    const changes: SecurityEvent[] = [];
    let time = FIXED_TIME;
    let refusals = 0;
    for (let minute = 0; minute < HOURS * 60; minute++) {
      // 60 refusals a minute from 20 addresses, and a change every 10 minutes.
      for (let i = 0; i < 60; i++) {
        time += 1000;
        ring.log.append(refusal(refusals++, `198.51.100.${i % 20}`, time));
      }
      if (minute % 10 === 0) {
        const event = change(changes.length, time);
        changes.push(event);
        ring.log.append(event);
      }
      ring.log.flush(time);
    }
    ring.log.flush(time, true);
    const stored = ring.log.readAll();
    assertIncreasing(stored);
    assert.equal(ring.log.damagedEntries, 0);
    // 18 changes fit the changes ring easily: all of them are there, in order.
    const kept = stored.filter((e) => e.type === 'user.add').map(({ id: _id, ...rest }) => rest);
    assert.deepEqual(kept, changes);
    // The flood is in summaries; the refusals ring went round, which counts as lost entries.
    const lost = ring.log.lost();
    assert.ok(lost, 'the loss is reported');
    // Logged one by one: the overall burst, then one every 10 s.
    const { overallBurst, overallEveryMs } = DEFAULT_REFUSAL_POLICY;
    const logged = refusals - lost.summarized;
    assert.ok(logged <= overallBurst + (time - FIXED_TIME) / overallEveryMs + 1, JSON.stringify(lost));
    assert.ok(logged >= (time - FIXED_TIME) / overallEveryMs - 1, JSON.stringify(lost));
    assert.ok(lost.overwritten > 0, JSON.stringify(lost));
    assert.equal(stored.filter((e) => e.type === LOST_EVENT_TYPE).length, 1, 'one warning, not one a loss');
    // Bounded flash cost: 36 refusals and 6 summaries an hour whatever the rate, about 20 a block.
    const perHour = ring.flash.blocksErased / HOURS;
    assert.ok(perHour <= 24, `${perHour} erases an hour`);
  });

  it('logs a burst up to the per-source and overall budgets, then summarizes the rest per source', (t) => {
    const ring = open(tempDataDir(t).imagePath);
    t.after(() => ring.close());
    const { perSourceBurst, overallBurst, summarizedSources } = DEFAULT_REFUSAL_POLICY;
    let n = 0;
    // One source sends 50: the first 30 are logged.
    for (let i = 0; i < 50; i++) ring.log.append(refusal(n++, '203.0.113.1'));
    // Ten sources send 10 each: seven of them fill the overall budget; then two send 5 each.
    for (let s = 10; s < 20; s++) for (let i = 0; i < 10; i++) ring.log.append(refusal(n++, `192.0.2.${s}`));
    for (const s of ['2001:db8::7', '2001:db8::8'])
      for (let i = 0; i < 5; i++) ring.log.append(refusal(n++, s));
    ring.log.flush(FIXED_TIME + n, true);
    const stored = ring.log.readAll();
    const single = stored.filter((e) => e.type === 'login' || e.type === 'apikey.auth');
    assert.equal(single.length, overallBurst);
    assert.equal(single.filter((e) => e.source === '203.0.113.1').length, perSourceBurst);
    const summaries = stored.filter((e) => e.type === 'audit.summary');
    assert.equal(summaries.length, summarizedSources + 1);
    assert.match(
      summaries[0]?.detail ?? '',
      /^20 more refusals from 203\.0\.113\.1 in 0 s, not logged one by one: (login|apikey\.auth) (failed|denied) \d+/,
    );
    assert.equal(summaries[0]?.source, '203.0.113.1');
    assert.deepEqual(
      summaries.slice(1, 4).map((e) => e.source),
      ['192.0.2.17', '192.0.2.18', '192.0.2.19'],
    );
    assert.match(summaries.at(-1)?.detail ?? '', /^10 more refusals from 2 other sources/);
    assert.equal(summaries.at(-1)?.source, undefined);
    assert.equal(summaryCount(stored) + single.length, n, 'every refusal logged or counted');
    assert.equal(ring.log.lost()?.summarized, n - single.length);
  });

  it('writes the summary after 10 minutes, refills the budget, and a read acknowledges the loss', (t) => {
    const ring = open(tempDataDir(t).imagePath);
    t.after(() => ring.close());
    for (let i = 0; i < 40; i++) ring.log.append(refusal(i, '203.0.113.9'));
    assert.equal(ring.log.lost()?.summarized, 10);
    ring.log.markRead(ring.log.readAll().at(-1)?.id ?? 0);
    assert.equal(ring.log.lost(), null);
    const later = FIXED_TIME + DEFAULT_REFUSAL_POLICY.summaryEveryMs + 1;
    ring.log.append(refusal(1, '203.0.113.9', later));
    const stored = ring.log.readAll();
    // The summary was written once due, and the source's budget has refilled: logged in full.
    assert.equal(stored.at(-2)?.type, 'audit.summary');
    assert.equal(stored.at(-1)?.time, later);
    assert.equal(ring.log.lost(), null);
  });

  it('reports entries overwritten before a reader saw them, and the state survives a reopen', (t) => {
    const path = tempDataDir(t).imagePath;
    let ring = open(path);
    const filler = 'x'.repeat(1500); // two changes a block: the 8-block changes ring holds 16
    for (let i = 0; i < 10; i++) ring.log.append({ ...change(i), detail: filler });
    ring.log.markRead(ring.log.readAll().at(-1)?.id ?? 0);
    for (let i = 10; i < 30; i++) ring.log.append({ ...change(i), detail: filler });
    const lost = ring.log.lost();
    assert.ok(lost && lost.overwritten > 0 && lost.summarized === 0, JSON.stringify(lost));
    // Ids are 1, 2, 3…: the entries gone are the missing ids; only those after the read count.
    const present = new Set(ring.log.readAll().map((e) => e.id));
    const newest = Math.max(...present);
    const unreadGone = Array.from({ length: newest }, (_, i) => i + 1).filter(
      (id) => id > 10 && !present.has(id),
    );
    assert.equal(present.has(10), false, 'some entries that were read went too');
    assert.equal(lost.overwritten, unreadGone.length);
    ring.close();

    ring = open(path);
    assert.deepEqual(ring.log.lost(), lost, 'the loss survives a reopen');
    ring.log.markRead(ring.log.readAll().at(-1)?.id ?? 0);
    ring.log.append(change(99));
    ring.close();
    ring = open(path);
    t.after(() => ring.close());
    assert.equal(ring.log.lost(), null, 'the read survives a reopen (stored with the next entry)');
    // Ids go on increasing after the reopen.
    assertIncreasing(ring.log.readAll());
  });

  it('reads a log of format 1 (one MGL1 ring) and numbers new events above it', (t) => {
    const path = tempDataDir(t).imagePath;
    const flash = NorFlash.open({ path, create: true, blockCount: MIN_BLOCK_COUNT });
    // A format 1 block with two entries, sequence 3, in the second half of the log blocks.
    const block = REFUSALS_LOG.firstBlock + 2;
    const header = new Uint8Array(16).fill(0xff);
    header.set([0x4d, 0x47, 0x4c, 0x31, 0, 0, 0, 3]);
    flash.program(block, 0, header);
    let at = 16;
    const old = [change(1), refusal(2, '192.0.2.9')];
    old.forEach((event, index) => {
      const nonce = new Uint8Array(randomBytes(24));
      const box = nacl.secretbox(cbor.encode([3, index, event]), nonce, KEY);
      const entry = new Uint8Array(26 + box.length);
      new DataView(entry.buffer).setUint16(0, box.length);
      entry.set(nonce, 2);
      entry.set(box, 26);
      flash.program(block, at, entry);
      at += entry.length;
    });
    flash.close();
    const ring = open(path);
    t.after(() => ring.close());
    ring.log.append(change(3));
    ring.log.append(refusal(4, '192.0.2.9'));
    const stored = ring.log.readAll();
    assert.equal(ring.log.damagedEntries, 0);
    assert.deepEqual(
      stored.map(({ id: _id, ...e }) => e),
      [...old, change(3), refusal(4, '192.0.2.9')],
    );
    assert.deepEqual(
      stored.slice(0, 2).map((e) => e.id),
      [3 * 256, 3 * 256 + 1],
    );
    assertIncreasing(stored);
  });
});
