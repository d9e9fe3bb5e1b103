/**
 * The CSV exports against the device process: the event log (`GET /api/v1/audit?format=csv`) and the
 * measurement history (`GET /api/v1/measurements/history?format=csv`).
 *
 * The attack first: text in the event log can come from an attacker without any credentials. A
 * refused request is logged as `access.denied` with the path it asked for, and the device decodes the
 * path, so `%0A` becomes a line break and `%22` a quote. Written into CSV as it is, such a path ends
 * the line and starts a new one with `=HYPERLINK("evil.example","open me")`, which a spreadsheet runs
 * as a formula when the administrator opens the export (OWASP "CSV injection"); a comma starts a new
 * field the same way. The export must keep each event on its own line with every field intact, and no
 * field may begin with = + - @ TAB or CR.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

/** RFC 4180 as a spreadsheet reads it: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let k = 0; k < text.length; k++) {
    const ch = text[k] as string;
    if (quoted) {
      if (ch === '"' && text[k + 1] === '"') {
        field += '"';
        k++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[k + 1] === '\n') k++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

const FORMULA_START = /^[=+\-@\t\r]/;

/** Paths an anonymous attacker asks for, each refused and logged with its decoded text. */
const ATTACK_PATHS = [
  '/api/v1/users/3%0A=HYPERLINK(%22evil.example%22,%22open me%22)',
  '/api/v1/users/3,=1+2,@SUM(1+1),-2+3',
  '/api/v1/users/3%0D+cmd|%22 -C calc%22!A0',
];

describe('CSV export', () => {
  let fx: RestFixture;
  before(async () => {
    fx = await startRestFixture();
  });
  after(async () => {
    await fx?.close();
  });

  it('an attacker-chosen path in the event log neither breaks a line or field nor starts a formula', async () => {
    const attacker = fx.http();
    for (const path of ATTACK_PATHS) {
      const refused = await attacker.request('DELETE', path);
      assert.equal(refused.status, 401, `${path} is refused`);
    }
    const json = await fx.admin.request<{ events: { id: number; detail?: string }[] }>(
      'GET',
      '/api/v1/audit?type=access.denied&limit=200',
    );
    assert.equal(json.status, 200);
    const logged = json.body.events.filter((e) => e.detail?.startsWith('DELETE /api/v1/users/3'));
    assert.equal(logged.length, ATTACK_PATHS.length, 'each refusal is logged');
    assert.ok(
      logged.some((e) => e.detail?.includes('\n=HYPERLINK("evil.example","open me")')),
      'the log holds the decoded path: the attack reaches the export',
    );

    const csv = await fx.admin.request<string>('GET', '/api/v1/audit?format=csv&type=access.denied');
    assert.equal(csv.status, 200);
    assert.match(String(csv.headers['content-type']), /^text\/csv; charset=utf-8/);
    assert.match(
      String(csv.headers['content-disposition']),
      /^attachment; filename="metergate-[\w.-]+\.csv"$/,
    );
    const rows = parseCsv(csv.body);
    assert.deepEqual(rows[0], [
      'id',
      'time',
      'type',
      'interface',
      'result',
      'slot',
      'role',
      'source',
      'detail',
    ]);
    for (const row of rows) {
      assert.equal(row.length, 9, `one event per line, 9 fields: ${JSON.stringify(row)}`);
      for (const field of row)
        assert.doesNotMatch(field, FORMULA_START, `a field starts a formula: ${field}`);
    }
    // Nothing lost: each event's detail is in the export whole (a formula-like one behind an apostrophe).
    for (const event of logged) {
      const row = rows.find((r) => r[0] === String(event.id));
      assert.ok(row, `event ${event.id} is exported`);
      assert.equal(row[8]?.replace(/^'(?=[=+\-@\t\r])/, ''), event.detail);
      assert.equal(row[2], 'access.denied');
    }
    assert.equal(rows.length - 1, json.body.events.length, 'every matching event, not a page');
  });

  it('exports the event log to audit.read only', async () => {
    const anonymous = await fx.http().request('GET', '/api/v1/audit?format=csv');
    assert.equal(anonymous.status, 401);
    assert.doesNotMatch(String(anonymous.headers['content-type']), /csv/);
  });

  it('gives the measurement history as JSON and CSV, with timestamps, oldest first', async () => {
    await sleep(2500);
    const client = fx.https();
    const json = await client.request<{
      resolution: string;
      intervalSeconds: number;
      points: {
        time: string;
        voltage: (number | null)[];
        current: (number | null)[];
        totalActivePower: number | null;
      }[];
    }>('GET', '/api/v1/measurements/history?resolution=1s');
    assert.equal(json.status, 200);
    assert.equal(json.body.resolution, '1s');
    assert.equal(json.body.intervalSeconds, 1);
    const points = json.body.points;
    assert.ok(points.length >= 2, `seconds recorded since boot: ${points.length}`);
    assert.ok(points.length <= 600);
    const times = points.map((p) => Date.parse(p.time));
    for (let k = 1; k < times.length; k++)
      assert.equal((times[k] as number) - (times[k - 1] as number), 1000);
    const measured = points.filter((p) => p.totalActivePower !== null);
    assert.ok(measured.length >= 1, 'the simulator answers: values are recorded');
    for (const p of measured) {
      assert.equal(p.voltage.length, 3);
      assert.ok(
        p.voltage.every((u) => typeof u === 'number' && u > 100),
        `voltages ${p.voltage}`,
      );
    }

    const csv = await client.request<string>('GET', '/api/v1/measurements/history?resolution=1s&format=csv');
    assert.equal(csv.status, 200);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    const rows = parseCsv(csv.body);
    assert.deepEqual(rows[0], [
      'time',
      'U1 V',
      'U2 V',
      'U3 V',
      'I1 A',
      'I2 A',
      'I3 A',
      'P1 W',
      'P2 W',
      'P3 W',
      'P total W',
    ]);
    assert.ok(rows.length - 1 >= points.length, 'a line per second');
    for (const row of rows.slice(1)) {
      assert.equal(row.length, 11);
      assert.ok(!Number.isNaN(Date.parse(row[0] as string)), `a timestamp: ${row[0]}`);
    }

    const minutes = await client.request<{ intervalSeconds: number; points: unknown[] }>(
      'GET',
      '/api/v1/measurements/history?resolution=1min',
    );
    assert.equal(minutes.status, 200);
    assert.equal(minutes.body.intervalSeconds, 60);
  });

  it('names a bad resolution or format', async () => {
    for (const query of ['resolution=5s', 'format=xlsx']) {
      const answer = await fx.admin.request<{ error: { code: string; field: string } }>(
        'GET',
        `/api/v1/measurements/history?${query}`,
      );
      assert.equal(answer.status, 400, query);
      assert.equal(answer.body.error.code, 'invalid-field');
      assert.equal(answer.body.error.field, query.split('=')[0]);
    }
  });
});
