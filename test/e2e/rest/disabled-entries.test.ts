/**
 * Disabling a user or API key, as an attacker holding its credentials meets it: against the device
 * process, over HTTPS and at its display (a socat pty). A disabled user with the right password is
 * refused in the words of a wrong password (no oracle for which names exist or are disabled), its
 * open session ends at once, a disabled API key is refused like a revoked one, a user without the
 * rights cannot enable or disable anyone, the admin cannot be disabled, and enabling lets the same
 * credentials in again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ClientError, type DeviceClient } from '../../../firmware/client/device-client.ts';
import { type DisplayTerminal, openTerminal, pickerKeys } from '../../support/display-fixture.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { type RestFixture, type SlotView, startRestFixture } from '../../support/rest-fixture.ts';

const ENGINEER = 'field.eng';
const ENGINEER_PASSWORD = 'Feeder-Bay-4471';
const VIEWER = 'night.watch';
const VIEWER_PASSWORD = 'Substation-View-93';

/** The device's refusal of a login, as the client raises it. */
async function loginRefusal(client: DeviceClient, username: string, password: string) {
  try {
    await client.login(username, password);
  } catch (error) {
    assert.ok(error instanceof ClientError, String(error));
    return { status: error.status, code: error.code, message: error.message };
  }
  assert.fail(`${username} logged in`);
}

/** What the display shows after a login attempt from the measurement image. */
async function displayLogin(terminal: DisplayTerminal, username: string, password: string): Promise<string> {
  await terminal.press('ok');
  await terminal.waitFor(/^MENU/);
  await terminal.choose('Security');
  await terminal.waitFor(/^SECURITY/);
  await terminal.choose('Log in');
  await terminal.waitFor(/^LOG IN: USER/);
  await terminal.press(...pickerKeys(username));
  await terminal.waitFor(/^PASSWORD/);
  await terminal.press(...pickerKeys(password));
  return terminal.waitFor(/^NOT DONE|Logged in as/);
}

async function backToImage(terminal: DisplayTerminal): Promise<void> {
  await terminal.press('ok');
  await terminal.waitFor(/^LOG IN: USER/);
  await terminal.press('back');
  await terminal.waitFor(/^SECURITY/);
  await terminal.press('back');
  await terminal.waitFor(/^MENU/);
  await terminal.press('back');
  await terminal.waitFor(/localgui\s+OK:menu/);
}

describe('a disabled user or API key (device process)', () => {
  let fx: RestFixture;
  let line: Awaited<ReturnType<typeof startPtyPair>>;
  const slotOf = async (name: string) => {
    const list = await fx.admin.request<{ slots: SlotView[] }>('GET', '/api/v1/users');
    const entry = list.body.slots.find((s) => s.name === name);
    assert.ok(entry, `no slot named ${name}`);
    return entry;
  };

  const cleanups: (() => unknown)[] = [];
  before(async () => {
    // The pty pair lives as long as the device: its cleanup runs after the device stopped.
    line = await startPtyPair({ after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext);
    fx = await startRestFixture(['--display', line.device]);
    for (const [name, password, role] of [
      [ENGINEER, ENGINEER_PASSWORD, 'ENGINEER'],
      [VIEWER, VIEWER_PASSWORD, 'VIEWER'],
    ] as const) {
      const created = await fx.admin.request('POST', '/api/v1/users', {
        type: 'user',
        name,
        password: await fx.admin.seal(name, password),
        role,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });
  after(async () => {
    await fx?.close();
    for (const cleanup of cleanups) await cleanup();
  });

  it('refuses the right password like a wrong one, ends the open session, and lets it in once enabled', async () => {
    const engineer = fx.https();
    await engineer.login(ENGINEER, ENGINEER_PASSWORD);
    assert.equal((await engineer.request('GET', '/api/v1/me')).status, 200);
    const slot = (await slotOf(ENGINEER)).slot;

    const disabled = await fx.admin.request<SlotView>('PATCH', `/api/v1/users/${slot}`, { disabled: true });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.ok(disabled.body.flags.includes('disabled'), JSON.stringify(disabled.body));
    // The entry keeps its name, permissions and role.
    const kept = await slotOf(ENGINEER);
    assert.deepEqual(kept.flags.sort(), ['disabled', 'role:ENGINEER']);
    assert.ok(kept.permissions.includes('config.write'));

    // The session the engineer had open is over.
    const me = await engineer.request<{ kind: string }>('GET', '/api/v1/me');
    assert.equal(me.body.kind, 'anonymous', JSON.stringify(me.body));
    assert.equal(me.headers['x-session'], 'ended');
    assert.equal((await engineer.request('GET', '/api/v1/config')).status, 401);

    // The right password, a wrong one and an unknown name get the same answer.
    const right = await loginRefusal(fx.https(), ENGINEER, ENGINEER_PASSWORD);
    const wrong = await loginRefusal(fx.https(), ENGINEER, 'Not-The-Password-1');
    const unknown = await loginRefusal(fx.https(), 'no.such.user', ENGINEER_PASSWORD);
    assert.deepEqual(right, {
      status: 401,
      code: 'invalid-credentials',
      message: 'wrong username or password',
    });
    assert.deepEqual(wrong, right);
    assert.deepEqual(unknown, right);

    // The administrator sees why in the event log.
    const audit = await fx.admin.request<{ events: { type: string; slot?: number; detail?: string }[] }>(
      'GET',
      '/api/v1/audit?type=login',
    );
    assert.ok(
      audit.body.events.some((e) => e.slot === slot && e.detail?.startsWith('disabled')),
      JSON.stringify(audit.body.events),
    );

    const enabled = await fx.admin.request<SlotView>('PATCH', `/api/v1/users/${slot}`, { disabled: false });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    assert.ok(!enabled.body.flags.includes('disabled'));
    await fx.https().login(ENGINEER, ENGINEER_PASSWORD);
  });

  it('refuses a disabled user at the display in the words of a wrong password, and ends its display session', async (t) => {
    const slot = (await slotOf(VIEWER)).slot;
    const terminal = await openTerminal(t, line.client);
    await terminal.repaint();
    await terminal.waitFor(/^VOLTAGE/);
    const wrong = await displayLogin(terminal, VIEWER, 'Not-The-Password-2');
    assert.match(wrong, /^NOT DONE/);
    await backToImage(terminal);

    assert.equal((await fx.admin.request('PATCH', `/api/v1/users/${slot}`, { disabled: true })).status, 200);
    const refused = await displayLogin(terminal, VIEWER, VIEWER_PASSWORD);
    assert.equal(refused, wrong, 'a disabled user with its password looks like a wrong password');
    await backToImage(terminal);

    assert.equal((await fx.admin.request('PATCH', `/api/v1/users/${slot}`, { disabled: false })).status, 200);
    assert.match(await displayLogin(terminal, VIEWER, VIEWER_PASSWORD), /Logged in as/);
    // Disabled while logged in at the display: that session ends too.
    assert.equal((await fx.admin.request('PATCH', `/api/v1/users/${slot}`, { disabled: true })).status, 200);
    await terminal.waitFor(/Logged out: the\s+account was changed/);
    assert.equal((await fx.admin.request('PATCH', `/api/v1/users/${slot}`, { disabled: false })).status, 200);
  });

  it('refuses a disabled API key like a revoked one', async () => {
    const created = await fx.admin.request<{ slot: number; key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'scada.feed',
      preset: 'read-only',
    });
    assert.equal(created.status, 201);
    const scada = fx.https({ apiKey: created.body.key });
    assert.equal((await scada.request('GET', '/api/v1/measurements')).status, 200);
    const bogus = await fx
      .https({ apiKey: `${created.body.key.slice(0, -4)}AAAA` })
      .request('GET', '/api/v1/measurements');

    assert.equal(
      (await fx.admin.request('PATCH', `/api/v1/users/${created.body.slot}`, { disabled: true })).status,
      200,
    );
    const refused = await scada.request('GET', '/api/v1/measurements');
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.body, bogus.body);

    assert.equal(
      (await fx.admin.request('PATCH', `/api/v1/users/${created.body.slot}`, { disabled: false })).status,
      200,
    );
    assert.equal((await scada.request('GET', '/api/v1/measurements')).status, 200);
  });

  it('lets nobody without the rights disable or enable, and never the admin', async () => {
    const viewer = fx.https();
    await viewer.login(VIEWER, VIEWER_PASSWORD);
    const engineerSlot = (await slotOf(ENGINEER)).slot;
    const byViewer = await viewer.request<{ error: { code: string } }>(
      'PATCH',
      `/api/v1/users/${engineerSlot}`,
      { disabled: true },
    );
    assert.equal(byViewer.status, 403, JSON.stringify(byViewer.body));
    assert.equal(byViewer.body.error.code, 'permission-denied');
    // The engineer (config.write, no security.write) cannot enable a disabled viewer either.
    const viewerSlot = (await slotOf(VIEWER)).slot;
    assert.equal(
      (await fx.admin.request('PATCH', `/api/v1/users/${viewerSlot}`, { disabled: true })).status,
      200,
    );
    const engineer = fx.https();
    await engineer.login(ENGINEER, ENGINEER_PASSWORD);
    const byEngineer = await engineer.request('PATCH', `/api/v1/users/${viewerSlot}`, { disabled: false });
    assert.equal(byEngineer.status, 403, JSON.stringify(byEngineer.body));
    assert.ok((await slotOf(VIEWER)).flags.includes('disabled'));
    await loginRefusal(fx.https(), VIEWER, VIEWER_PASSWORD);

    const admin = await fx.admin.request<{ error: { code: string } }>('PATCH', '/api/v1/users/0', {
      disabled: true,
    });
    assert.equal(admin.status, 409, JSON.stringify(admin.body));
    assert.equal(admin.body.error.code, 'protected-slot');
    assert.ok(!(await slotOf('admin')).flags.includes('disabled'));
  });
});
