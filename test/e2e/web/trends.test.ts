/**
 * The dashboard's trend card and the CSV downloads, in chromium against the device process: the chart
 * draws exactly the points the device's history holds for the window it shows, a stretch of seconds
 * the device did not record (the process stopped with SIGSTOP for 3 s) is drawn as a gap, the 10 min /
 * 24 h switch changes what is loaded and downloaded, and the history and event log download as CSV.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { screenshot, waitUntil } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { heading } from './website-steps.ts';

interface HistoryPoint {
  time: string;
  voltage: (number | null)[];
}

/** What the L1 voltage line of the chart says it drew, and over which window. */
async function drawnL1(page: Page) {
  const svg = page.locator('svg[data-chart="V"]');
  const path = svg.locator('path[data-series="L1"]');
  return {
    from: (await svg.getAttribute('data-from')) ?? '',
    to: (await svg.getAttribute('data-to')) ?? '',
    points: Number(await path.getAttribute('data-points')),
    runs: Number(await path.getAttribute('data-runs')),
    d: (await path.getAttribute('d')) ?? '',
  };
}

/** The values of L1 in the device's history between `from` and `to`, and their runs between gaps. */
function expected(points: HistoryPoint[], from: string, to: string) {
  const inWindow = points.filter((p) => p.time >= from && p.time <= to).map((p) => p.voltage[0] ?? null);
  let runs = 0;
  inWindow.forEach((v, k) => {
    if (v !== null && (k === 0 || inWindow[k - 1] === null)) runs++;
  });
  return { steps: inWindow.length, points: inWindow.filter((v) => v !== null).length, runs };
}

describe('trends and CSV downloads, in chromium', () => {
  let site: WebsiteFixture;
  before(async () => {
    site = await startWebsite();
  });
  after(() => site.close());

  const history = async () => {
    const answer = await site.rest
      .http()
      .request<{ points: HistoryPoint[] }>('GET', '/api/v1/measurements/history?resolution=1s');
    assert.equal(answer.status, 200);
    return answer.body.points;
  };

  it('draws the points of the device history, and a gap where the device recorded none', async () => {
    await sleep(3000);
    const page = await site.open();
    await heading(page, 'Trends').waitFor();
    await page.locator('svg[data-chart="V"] path[data-series="L1"]').waitFor();
    const first = await drawnL1(page);
    const want = expected(await history(), first.from, first.to);
    assert.ok(first.points >= 2, `points drawn: ${first.points}`);
    assert.equal(first.points, want.points, 'one point per recorded second of the window');
    assert.equal((first.d.match(/[ML]/g) ?? []).length, first.points, 'the path has a vertex per point');
    for (const chart of ['A', 'W']) {
      assert.ok(
        Number(await page.locator(`svg[data-chart="${chart}"] path`).first().getAttribute('data-points')) >=
          2,
      );
    }

    // The device misses 3 seconds: its history has a gap there, and so has the line.
    const device = site.rest.device.process;
    assert.ok(device.pid);
    process.kill(device.pid, 'SIGSTOP');
    await sleep(3000);
    process.kill(device.pid, 'SIGCONT');
    await sleep(2000);
    const gapped = await waitUntil(async () => {
      const drawn = await drawnL1(page);
      return drawn.runs >= 2 ? drawn : null;
    }, 15_000);
    assert.ok(gapped, 'the line has a gap');
    const points = await history();
    const inHistory = expected(points, gapped.from, gapped.to);
    assert.ok(inHistory.steps > inHistory.points, 'the history has gaps in the window (null values)');
    assert.equal(gapped.points, inHistory.points);
    assert.equal(gapped.runs, inHistory.runs, 'a line per run of values, none bridging a gap');
    assert.equal((gapped.d.match(/M/g) ?? []).length, gapped.runs);
    await screenshot(page, 'dashboard-trends');
  });

  it('switches to 24 h and downloads the history as CSV', async () => {
    const page = await site.open();
    await heading(page, 'Trends').waitFor();
    const tenMinutes = page.getByRole('button', { name: '10 min' });
    const day = page.getByRole('button', { name: '24 h' });
    assert.equal(await tenMinutes.getAttribute('aria-pressed'), 'true');
    const link = page.getByRole('link', { name: 'Download CSV' });
    assert.match((await link.getAttribute('href')) ?? '', /resolution=1s&format=csv$/);

    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.match(download.suggestedFilename(), /^metergate-.+-history-1s\.csv$/);
    const csv = readFileSync((await download.path()) as string, 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'time,U1 V,U2 V,U3 V,I1 A,I2 A,I3 A,P1 W,P2 W,P3 W,P total W');
    assert.ok(lines.length > 3, `lines: ${lines.length}`);
    assert.ok(
      lines.slice(1).some((line) => /^\S+Z,[\d.]+,/.test(line)),
      'a second with values',
    );

    await day.click();
    assert.equal(await day.getAttribute('aria-pressed'), 'true');
    assert.match((await link.getAttribute('href')) ?? '', /resolution=1min&format=csv$/);
    // The device has run for less than a completed minute or just one: no line yet, or a short one.
    await page.locator('.trends').or(page.getByText('No history yet')).first().waitFor();
  });

  it('downloads the event log as CSV from the events page', async () => {
    const page = await site.open({ hash: '#/events', login: ['admin', ADMIN_PASSWORD] });
    await heading(page, 'Security event log').waitFor();
    const link = page.getByRole('link', { name: 'Download CSV' });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.match(download.suggestedFilename(), /^metergate-.+-events\.csv$/);
    const csv = readFileSync((await download.path()) as string, 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'id,time,type,interface,result,slot,role,source,detail');
    assert.ok(
      lines.some((line) => line.includes(',login,')),
      'the login is in the export',
    );
  });
});
