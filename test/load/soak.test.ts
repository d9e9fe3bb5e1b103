/**
 * A short soak of the real device process (scripts/soak/run-soak.ts; `npm run soak -- --seconds N` for
 * a long one): 32 Modbus TCP connections, 16 HTTPS API clients and a login a second at once. No
 * well-formed request fails, RSS stays within +20 % after the warm-up, and no file descriptor leaks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, runSoak, soakProblems } from '../../scripts/soak/run-soak.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 30);

test(`soak for ${SECONDS} s: zero failed requests, bounded RSS, no fd leak`, {
  timeout: (SECONDS + 60) * 1000,
}, async (t) => {
  const report = await runSoak(SECONDS);
  for (const line of formatReport(report).split('\n')) t.diagnostic(line);
  assert.ok(report.modbusReads > 1000, `only ${report.modbusReads} Modbus reads`);
  assert.ok(report.apiRequests > 200, `only ${report.apiRequests} REST requests`);
  assert.ok(report.logins >= SECONDS / 2, `only ${report.logins} logins`);
  assert.deepEqual(soakProblems(report), []);
});
