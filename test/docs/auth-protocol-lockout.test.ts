/**
 * docs/auth-protocol.md §9 cannot drift from the throttle: its default policy is the firmware's, its
 * fixed rules are the firmware's constants, and its two tables (failures of one (name, address) pair;
 * failures of one name from many addresses) are replayed row by row against LoginThrottle with the
 * default policy, each attempt made as soon as it is allowed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CLEAN_PERIOD_MS,
  LoginThrottle,
  MAX_LOCK_MS,
  type ThrottleVerdict,
  TRUSTED_SOURCE_MS,
} from '../../firmware/auth/login-throttle.ts';
import { STALE_NONCE_BURST, STALE_NONCE_REFILL_MS } from '../../firmware/auth/stale-nonce-limit.ts';
import { DEFAULT_SECURITY_SETTINGS } from '../../firmware/core/security-settings.ts';
import { REPO_ROOT } from '../support/device-process.ts';

const DOC = readFileSync(join(REPO_ROOT, 'docs', 'auth-protocol.md'), 'utf8');
const T0 = 1_700_000_000_000;

/** The body rows (cells) of the table after `<!-- marker -->`. */
function table(marker: string): string[][] {
  const at = DOC.indexOf(`<!-- ${marker} -->`);
  assert.ok(at >= 0, `no table marked "${marker}" in docs/auth-protocol.md`);
  const lines = DOC.slice(at).split('\n').slice(1);
  const rows = lines.slice(
    0,
    lines.findIndex((line) => !line.startsWith('|')),
  );
  return rows.slice(2).map((row) =>
    row
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );
}

/** "24 h", "7 days", "6 s", "10" in milliseconds (plain numbers as they are). */
function quantity(text: string): number {
  const match = /^(\d+)(?: (s|h|days))?$/.exec(text);
  assert.ok(match, `not a quantity: ${text}`);
  const unit = { s: 1000, h: 3_600_000, days: 86_400_000 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

/** The failure numbers a row's first cell names: "3rd", "1st, 2nd", "1st to 99th", "19th and every later". */
function failures(cell: string): number[] {
  const numbers = [...cell.matchAll(/(\d+)(?:st|nd|rd|th)/g)].map((m) => Number(m[1]));
  assert.ok(numbers.length > 0, `no failure number in "${cell}"`);
  if (/ to /.test(cell)) {
    const [from, to] = numbers as [number, number];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  }
  if (/and every later/.test(cell)) return Array.from({ length: 6 }, (_, i) => (numbers[0] as number) + i);
  return numbers;
}

/** "allowed …", "wait 2 s", "locked 300 s" as the verdict it means. */
function verdict(cell: string): ThrottleVerdict {
  if (cell.startsWith('allowed')) return { allowed: true };
  const match = /^(wait|locked) (\d+) s$/.exec(cell);
  assert.ok(match, `not a verdict: ${cell}`);
  return {
    allowed: false,
    reason: match[1] === 'wait' ? 'delayed' : 'locked',
    retryAfterMs: Number(match[2]) * 1000,
  };
}

/** The table as failure number → the verdict after it, checked to be complete from 1 on. */
function expectations(marker: string): Map<number, ThrottleVerdict> {
  const expected = new Map<number, ThrottleVerdict>();
  for (const [which, then] of table(marker)) {
    for (const n of failures(which as string)) expected.set(n, verdict(then as string));
  }
  const numbers = [...expected.keys()];
  assert.deepEqual(
    numbers,
    numbers.map((_, i) => i + 1),
    `${marker}: rows from the 1st failure on, none missing`,
  );
  return expected;
}

describe('docs/auth-protocol.md §9 and the throttle', () => {
  it('documents the default lockout policy', () => {
    const documented = Object.fromEntries(
      table('lockout settings').map(([name, value]) => [(name as string).replaceAll('`', ''), Number(value)]),
    );
    assert.deepEqual(documented, { ...DEFAULT_SECURITY_SETTINGS.lockout });
  });

  it('documents the fixed rules as the firmware has them', () => {
    const rules = table('lockout rules').map(([, value]) => quantity(value as string));
    assert.deepEqual(rules, [
      MAX_LOCK_MS,
      CLEAN_PERIOD_MS,
      TRUSTED_SOURCE_MS,
      STALE_NONCE_BURST,
      STALE_NONCE_REFILL_MS,
    ]);
  });

  it("replays the pair table: one address's failures, each as soon as allowed", () => {
    const throttle = new LoginThrottle(() => DEFAULT_SECURITY_SETTINGS.lockout);
    let now = T0;
    for (const [n, expected] of expectations('lockout table: pair')) {
      const before = throttle.check('admin', 'A', now);
      if (!before.allowed) now += before.retryAfterMs;
      assert.deepEqual(throttle.check('admin', 'A', now), { allowed: true }, `before failure ${n}`);
      throttle.fail('admin', 'A', now);
      assert.deepEqual(throttle.check('admin', 'A', now), expected, `after failure ${n}`);
    }
  });

  it('replays the account table: one failure from each of many addresses, seen from a new one and a trusted one', () => {
    const throttle = new LoginThrottle(() => DEFAULT_SECURITY_SETTINGS.lockout);
    let now = T0;
    throttle.succeed('admin', 'home', now);
    for (const [n, expected] of expectations('lockout table: account')) {
      const before = throttle.check('admin', 'fresh', now);
      if (!before.allowed) now += before.retryAfterMs;
      assert.deepEqual(
        throttle.check('admin', `attacker${n}`, now),
        { allowed: true },
        `before failure ${n}`,
      );
      throttle.fail('admin', `attacker${n}`, now);
      assert.deepEqual(throttle.check('admin', 'fresh', now), expected, `after failure ${n}`);
      assert.deepEqual(
        throttle.check('admin', 'home', now),
        { allowed: true },
        `trusted, after failure ${n}`,
      );
    }
  });
});
