/**
 * Issue 13, attack 2: wiping the security event log without credentials. An administrator makes
 * changes; then ~2000 refused requests from the network (login attempts with random nonces, bad API
 * keys) from a few source addresses. The changes must still be in GET /api/v1/audit, the flood must be
 * there as summary events with counts, and the answer must say that entries were lost since the log
 * was last read (IEC 62443-4-2 CR 2.9), once: the read acknowledges it. The website's event page
 * shows that notice too (chromium).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DeviceClient } from '../../../firmware/client/device-client.ts';
import { launchChromium, spkiPin } from '../../support/browser.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';
import { logIn } from '../web/website-steps.ts';

interface AuditEvent {
  id: number;
  time: string;
  type: string;
  result: string;
  interface: string;
  source?: string;
  slot?: number;
  detail?: string;
}
interface Lost {
  since: string;
  count: number;
  overwritten: number;
  summarized: number;
}
interface AuditPage {
  events: AuditEvent[];
  next: number | null;
  lost?: Lost | null;
}

const NEW_USER = 'flood_witness';
const NEW_USER_PASSWORD = 'Zeuge der Flut 77';
/** Requests per kind; two kinds, so ~2000 refusals, four times the old ring. */
const PER_KIND = 1000;
const SOURCES = [2, 3, 4, 5];

const b64url = (bytes: Buffer) => bytes.toString('base64url');

/** Runs `task` `count` times, `width` at a time. */
async function inParallel(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

describe('a flood of refused requests does not wipe the security event log', () => {
  let fx: RestFixture;
  let userSlot: number;

  before(async () => {
    fx = await startRestFixture();
  });
  after(async () => {
    await fx?.close();
  });

  /** Every event, newest first, through the paging the website uses; the first page's answer too. */
  async function readAll(admin: DeviceClient): Promise<{ events: AuditEvent[]; first: AuditPage }> {
    const events: AuditEvent[] = [];
    let first: AuditPage | null = null;
    let before: number | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const query: string = before === null ? '' : `&before=${before}`;
      const response: { status: number; body: AuditPage } = await admin.request<AuditPage>(
        'GET',
        `/api/v1/audit?limit=200${query}`,
      );
      assert.equal(response.status, 200, JSON.stringify(response.body));
      first ??= response.body;
      events.push(...response.body.events);
      before = response.body.next;
      if (before === null) break;
    }
    return { events, first: first as AuditPage };
  }

  it('keeps the admin changes, summarizes the flood and flags the loss once', async () => {
    const created = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name: NEW_USER,
      password: await fx.admin.seal(NEW_USER, NEW_USER_PASSWORD),
      permissions: ['measurements.read'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    userSlot = created.body.slot;
    // The admin has read the log: what follows is lost "since the last read".
    const seen = await readAll(fx.admin);
    assert.equal(seen.first.lost ?? null, null, 'nothing lost before the flood');

    const clients = SOURCES.map((n) => fx.https({ localAddress: `127.0.0.${n}` }));
    const client = (i: number) => clients[i % clients.length] as DeviceClient;
    await inParallel(PER_KIND, 8, async (i) => {
      const login = await client(i).request('POST', '/api/v1/auth/login', {
        username: 'admin',
        nonce: b64url(randomBytes(32)),
        signature: b64url(randomBytes(64)),
      });
      assert.ok(login.status >= 400 && login.status < 500, `login answered ${login.status}`);
    });
    await inParallel(PER_KIND, 8, async (i) => {
      const denied = await client(i).request('GET', '/api/v1/measurements', undefined, {
        authorization: `Bearer ${b64url(randomBytes(32))}`,
      });
      assert.equal(denied.status, 401, JSON.stringify(denied.body));
    });

    const { events, first } = await readAll(fx.admin);
    const ok = (type: string, detail?: RegExp) =>
      events.find(
        (e) =>
          e.type === type && e.result === 'ok' && e.slot === 0 && (!detail || detail.test(e.detail ?? '')),
      );
    // The changes: the admin's own password (the fixture) and the new user.
    assert.ok(
      ok('user.add', new RegExp(`slot=${userSlot}`)),
      `the admin's user.add was pushed out of the log (${events.length} events left)`,
    );
    assert.ok(ok('password.change'), "the admin's password change was pushed out of the log");
    assert.ok(
      events.some((e) => e.type === 'first-boot'),
      'the first-boot event was pushed out',
    );

    // The flood: a few events in full, the rest counted in summaries, per source.
    const refusals = events.filter((e) => e.result !== 'ok' && e.type !== 'audit.summary');
    assert.ok(refusals.length < 200, `${refusals.length} refusals logged one by one`);
    const summaries = events.filter((e) => e.type === 'audit.summary');
    assert.ok(summaries.length > 0, 'no summary of the flood');
    const counted = summaries.reduce((sum, e) => sum + Number(/^(\d+) more/.exec(e.detail ?? '')?.[1]), 0);
    assert.equal(
      refusals.filter((e) => /^127\.0\.0\.[2-5]$/.test(e.source ?? '')).length + counted,
      2 * PER_KIND,
      `every refusal is logged or counted: ${summaries.map((e) => e.detail).join(' | ')}`,
    );
    for (const n of SOURCES) {
      assert.ok(
        summaries.some((e) => e.source === `127.0.0.${n}` && /failed login|login/.test(e.detail ?? '')),
        `no summary for 127.0.0.${n}`,
      );
    }

    // The loss is flagged in the answer, and in a warning event; the read acknowledges it.
    assert.ok(first.lost, `no lost flag in GET /api/v1/audit: ${JSON.stringify(first.lost)}`);
    assert.ok(first.lost.summarized >= counted, JSON.stringify(first.lost));
    assert.equal(first.lost.count, first.lost.summarized + first.lost.overwritten);
    assert.ok(
      events.some((e) => e.type === 'audit.lost'),
      'no warning event about the lost entries',
    );
    const again = await fx.admin.request<AuditPage>('GET', '/api/v1/audit?limit=5');
    assert.equal(again.body.lost, null, 'the read did not acknowledge the loss');
  });

  it('the website event page shows the loss to the administrator', async () => {
    const attacker = fx.https({ localAddress: '127.0.0.9' });
    for (let i = 0; i < 100; i++) {
      const denied = await attacker.request('GET', '/api/v1/measurements', undefined, {
        authorization: `Bearer ${b64url(randomBytes(32))}`,
      });
      assert.equal(denied.status, 401);
    }
    const browser = await launchChromium(spkiPin(fx.ca));
    try {
      const page = await browser.newPage();
      page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
      await page.goto(`${fx.httpsUrl}/`);
      await logIn(page, 'admin', ADMIN_PASSWORD);
      await page.goto(`${fx.httpsUrl}/#/events`);
      const notice = page.getByRole('alert').filter({ hasText: 'lost since the log was last read' });
      await notice.waitFor({ timeout: 15_000 });
      const text = (await notice.textContent()) ?? '';
      // Of the 100, only what the overall budget had left after the first flood (one every 10 s) was
      // logged one by one.
      const lost = Number(/(\d+) events lost since the log was last read/.exec(text)?.[1]);
      const summarized = Number(/(\d+) refusals only counted in summary events/.exec(text)?.[1]);
      assert.ok(lost >= 90 && lost <= 100 && summarized === lost, text);
    } finally {
      await browser.close();
    }
  });
});
