/**
 * The exhaustive power-cut test of DESIGN §4: for (a) the admin's password change and (b) adding an
 * API key, the commit is replayed from the same prepared image with the power cut after every byte
 * n = 0 … T (T = all bytes the commit programs, record copies and log entry; n = T is the uncut run).
 * After each cut a normal reboot must give exactly the old or exactly the new table (the new one as
 * soon as copy A's magic is on flash and the counter advanced), and a second reboot the same state
 * with both copies valid and nothing left to repair. The security log keeps every earlier event and
 * holds the commit's event exactly when the whole commit got through.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createVerifier, MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import { ADMIN_SLOT } from '../../firmware/core/slots.ts';
import { actorFor, addApiKey, setPassword } from '../../firmware/core/user-table.ts';
import type { SecurityEvent } from '../../firmware/store/event-log.ts';
import { PowerLossError } from '../../firmware/store/flash.ts';
import { SECURITY_RECORD_BLOCKS } from '../../firmware/store/flash-layout.ts';
import type { SecurityState } from '../../firmware/store/security-record.ts';
import {
  bootNormal,
  canonical,
  commitAndPowerOff,
  type DataDir,
  FIXED_TIME,
  imageBlock,
  readImage,
  restore,
  sealedLength,
  snapshot,
  tempDataDir,
} from '../support/store-fixture.ts';

const ADMIN_VERIFIER = await createVerifier('Power-cut-admin-7', { iterations: MIN_KDF_ITERATIONS });

function withAdminPassword(state: SecurityState): SecurityState {
  const table = setPassword(state.table, actorFor(state.table, ADMIN_SLOT), ADMIN_SLOT, ADMIN_VERIFIER, {
    currentPasswordVerified: true,
  });
  return { ...state, table };
}

interface Operation {
  readonly label: string;
  /** Brings a fresh data dir to the state the operation starts from. */
  prepare(data: DataDir): Promise<void>;
  /** The state the operation commits, from the prepared one. */
  next(old: SecurityState): SecurityState;
  readonly event: SecurityEvent;
}

const operations: Operation[] = [
  {
    label: '(a) admin password change',
    async prepare(data) {
      (await bootNormal(data)).close();
    },
    next: withAdminPassword,
    event: { time: FIXED_TIME, type: 'password.change', interface: 'web', result: 'ok', slot: 0 },
  },
  {
    label: '(b) adding an API key',
    async prepare(data) {
      const first = await bootNormal(data);
      const state = first.store.state;
      first.close();
      await commitAndPowerOff(data, withAdminPassword(state));
    },
    next(old) {
      const { table } = addApiKey(old.table, actorFor(old.table, ADMIN_SLOT), {
        name: 'scada_reader',
        preset: 'read-only',
        keyHash: new Uint8Array(createHash('sha256').update('api key shown once').digest()),
        createdAt: FIXED_TIME,
      });
      return { ...old, table };
    },
    event: {
      time: FIXED_TIME,
      type: 'api-key.add',
      interface: 'rest',
      result: 'ok',
      slot: 0,
      detail: 'slot 3',
    },
  },
];

describe('power cut after every byte of a commit', () => {
  for (const operation of operations) {
    it(operation.label, async (t) => {
      const started = performance.now();
      const data = tempDataDir(t);
      await operation.prepare(data);
      const pristine = join(data.dir, 'pristine');
      mkdirSync(pristine);
      snapshot(data, pristine);

      // The prepared state, and what the operation turns it into.
      const prepared = await bootNormal(data, { readOnly: true });
      const old = prepared.store.state;
      const oldSeq = prepared.store.sequence;
      const oldEvents = prepared.store.log.readAll().map((e) => e.type);
      prepared.close();
      const next = operation.next(old);
      const oldForm = canonical(old);
      const newForm = canonical(next);
      assert.notDeepEqual(oldForm, newForm);

      // T: every byte the uncut commit programs. Copy A is the first `lengthA` of them.
      restore(data, pristine);
      const measured = await bootNormal(data);
      assert.equal(measured.flash.bytesProgrammed, 0, 'boot of the prepared image programmed bytes');
      measured.store.commit(next, operation.event);
      const total = measured.flash.bytesProgrammed;
      measured.close();
      const lengthA = sealedLength(imageBlock(readImage(data), SECURITY_RECORD_BLOCKS[0]));
      assert.ok(total > 2 * lengthA, `T=${total}, copy A ${lengthA} bytes`);

      const outcomes = { old: 0, new: 0 };
      for (let n = 0; n <= total; n++) {
        restore(data, pristine);
        const cut = await bootNormal(data, { powerCutAfterBytes: n });
        assert.equal(cut.flash.bytesProgrammed, 0, `n=${n}: boot programmed bytes`);
        let thrown: unknown = null;
        try {
          cut.store.commit(next, operation.event);
        } catch (error) {
          thrown = error;
        }
        cut.close();
        if (n < total) {
          if (!(thrown instanceof PowerLossError))
            assert.fail(`n=${n}: expected a power loss, got ${String(thrown)}`);
          assert.equal(thrown.bytesWritten, n);
        } else {
          assert.equal(thrown, null, `n=${n}: the uncut commit threw`);
        }

        // Reboot: old or new, never anything else; new once copy A (magic last) is whole.
        const isNew = n >= lengthA;
        const first = await bootNormal(data);
        const form = canonical(first.store.state);
        assert.deepStrictEqual(
          form,
          isNew ? newForm : oldForm,
          `n=${n}: expected the ${isNew ? 'new' : 'old'} state`,
        );
        const seq = isNew ? oldSeq + 1 : oldSeq;
        assert.equal(first.store.sequence, seq, `n=${n}`);
        assert.equal(readFileSync(data.counterPath, 'ascii').trim(), String(seq), `n=${n}: counter`);
        assert.deepEqual(
          first.store.log.readAll().map((e) => e.type),
          n >= total ? [...oldEvents, operation.event.type] : oldEvents,
          `n=${n}: security log`,
        );
        outcomes[isNew ? 'new' : 'old']++;
        first.close();

        // A second reboot: the repair held, both copies hold the state, nothing left to mend.
        const second = await bootNormal(data);
        assert.deepStrictEqual(canonical(second.store.state), form, `n=${n}: second reboot`);
        assert.deepEqual(second.normal.repaired, [], `n=${n}: second reboot repaired again`);
        assert.deepEqual(
          second.normal.copies,
          [
            { copy: 'A', state: 'valid', seq },
            { copy: 'B', state: 'valid', seq },
          ],
          `n=${n}: copies after repair`,
        );
        assert.equal(second.flash.bytesProgrammed + second.flash.blocksErased, 0, `n=${n}`);
        second.close();
      }

      assert.ok(outcomes.old > 0 && outcomes.new > 0, JSON.stringify(outcomes));
      assert.equal(outcomes.old, lengthA);
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(
        `${operation.label}: T=${total} bytes (copy A ${lengthA}); ${total + 1} cuts: ` +
          `${outcomes.old} old, ${outcomes.new} new; ${seconds.toFixed(1)} s`,
      );
    });
  }
});
