/**
 * Fuzzes the Modbus RTU server over a real pty line: thousands of seeded random frames (noise, good
 * requests, mutated requests with and without a repaired CRC, other units, broadcasts, overlong frames)
 * first as the factory principal (anonymous), then as an all-but-security API key. Proves that exactly
 * the frames with a good CRC for unit 1 reach the handler and get one well-formed answer (never 0x04,
 * a handler failure), everything else is silent, anonymous changes nothing, the configuration stays
 * valid, and afterwards a well-formed request is answered correctly. The seed is printed; rerun with
 * MODBUS_FUZZ_SEED=<seed> (and MODBUS_FUZZ_FRAMES=<n>) to reproduce.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateDeviceConfig } from '../../firmware/core/device-config.ts';
import { ANONYMOUS_SLOT } from '../../firmware/core/slots.ts';
import { hasValidCrc, withCrc } from '../../firmware/modbus/modbus-crc.ts';
import { FIRMWARE_VERSION } from '../../firmware/version.ts';
import {
  floatOf,
  hex,
  openRawClient,
  readPdu,
  registersOf,
  startPtyPair,
  startRtuDevice,
  TEST_SERIAL_NUMBER,
  waitForFrames,
} from '../support/modbus-rtu-fixture.ts';
import { rssMb } from '../support/process-memory.ts';

const SEED = Number(process.env.MODBUS_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
// About 330 frames a second go through the pty: FUZZ_BUDGET_MS (`npm run fuzz`) sizes a long run.
const FRAMES = Number(
  process.env.MODBUS_FUZZ_FRAMES ??
    (process.env.FUZZ_BUDGET_MS ? Math.round(Number(process.env.FUZZ_BUDGET_MS) / 3) : 3000),
);
const UNIT = 1;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starts of the mapped blocks and the gaps after them; the generator adds ±1. */
const EDGE_ADDRESSES = [
  0, 2, 20, 22, 100, 112, 116, 200, 204, 206, 300, 301, 302, 400, 402, 404, 405, 500, 508, 516,
];
/** Writes the map accepts, unless the acting slot lacks the permission: [start, registers]. */
const GOOD_WRITES: readonly (readonly [number, readonly number[]])[] = [
  [300, [0x5aa5]],
  [301, [0x5aa5]],
  [300, [0x5aa5, 0x5aa5]],
  [404, [0]],
  [400, [0x42c8, 0x0000]],
  [402, [0x4120, 0x0000]],
  [400, [0x3f80, 0x0000, 0x3f80, 0x0000, 0x0000]],
];

function frameGenerator(random: () => number) {
  const int = (below: number) => Math.floor(random() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const bytes = (length: number) => Uint8Array.from({ length }, () => int(256));
  const u16 = (value: number) => [(value >> 8) & 0xff, value & 0xff];
  // Addresses at the edges of the mapped blocks (±1), so requests hit edges, gaps and whole blocks.
  const address = () =>
    random() < 0.8 ? (pick(EDGE_ADDRESSES) + pick([0, 0, 0, 1, -1])) & 0xffff : int(0x10000);
  const registers = (count: number) =>
    Array.from({ length: count }, () =>
      pick([0, 1, 0x5aa5, 0x3f80, 0x42c8, 0x4780, 0x7fc0, 0xffff, int(0x10000)]),
    ).flatMap(u16);

  /** A request PDU the device understands (or nearly). */
  const pdu = (): Uint8Array => {
    switch (int(7)) {
      case 0:
      case 1:
        return Uint8Array.of(pick([3, 4]), ...u16(address()), ...u16(pick([1, 2, 4, 8, 16, 125, 126])));
      case 2:
        return Uint8Array.of(6, ...u16(pick([300, 301, 404, 400, 0, 500, address()])), ...registers(1));
      case 3: {
        if (random() < 0.5) {
          const [start, values] = pick(GOOD_WRITES);
          if (values.length === 1 && random() < 0.5)
            return Uint8Array.of(6, ...u16(start), ...u16(values[0] ?? 0));
          return Uint8Array.of(
            16,
            ...u16(start),
            ...u16(values.length),
            values.length * 2,
            ...values.flatMap(u16),
          );
        }
        const count = pick([1, 2, 3, 4, 5, 123, 124]);
        const start = pick([300, 400, 402, 403, 404, 0, address()]);
        const data = registers(Math.min(count, 20));
        return Uint8Array.of(16, ...u16(start), ...u16(count), (count * 2) & 0xff, ...data);
      }
      case 4:
        return Uint8Array.of(0x2b, pick([0x0e, 0x0d]), int(6), int(5));
      case 5:
        return Uint8Array.of(pick([1, 2, 5, 8, 15, 17, 22, 23, 0x80, 0x83, 0xff]), ...bytes(int(8)));
      default:
        return bytes(1 + int(12));
    }
  };
  const unit = () => (random() < 0.75 ? UNIT : pick([0, 0, 2, 7, 247, 248, 255]));

  /** One frame as sent on the line. */
  return (): Uint8Array => {
    const kind = int(10);
    if (kind === 0) return bytes(1 + int(20)); // noise
    if (kind === 1) return bytes(pick([3, 257, 300, 600])); // too short or overlong
    const body = Uint8Array.of(unit(), ...pdu());
    if (kind === 2) {
      // Up to three flipped bits after the CRC: CRC-16/Modbus detects every odd number of them.
      const frame = withCrc(body);
      for (let i = 0; i < 1 + 2 * int(2); i++) {
        const bit = int(frame.length * 8);
        frame[bit >> 3] = (frame[bit >> 3] as number) ^ (1 << (bit & 7));
      }
      return frame;
    }
    if (kind === 3 && body.length > 2) {
      // Truncated, extended or overwritten, CRC repaired: the handler must cope with it.
      const mutated = Array.from(body);
      const at = 1 + int(mutated.length - 1);
      const how = int(3);
      if (how === 0) mutated.length = at;
      else if (how === 1) mutated.splice(at, 0, ...bytes(1 + int(4)));
      else mutated[at] = int(256);
      return withCrc(Uint8Array.from(mutated));
    }
    return withCrc(body);
  };
}

test('Modbus RTU fuzz: random and mutated frames over a pty', {
  timeout: Math.max(120_000, FRAMES * 10),
}, async (t) => {
  t.diagnostic(`MODBUS_FUZZ_SEED=${SEED} MODBUS_FUZZ_FRAMES=${FRAMES}`);
  console.log(`modbus-rtu-fuzz: MODBUS_FUZZ_SEED=${SEED} MODBUS_FUZZ_FRAMES=${FRAMES}`);
  const pty = await startPtyPair(t);
  const device = await startRtuDevice(t, { path: pty.device, baudRate: 115200 });
  const client = await openRawClient(t, pty.client, { baudRate: 115200 });
  const next = frameGenerator(prng(SEED));
  const config = device.metering.config;
  const replay = `(replay: MODBUS_FUZZ_SEED=${SEED})`;

  let sent = 0;
  let expected = 0;
  let writes = 0;
  const exceptions = new Map<number, number>();
  const started = Date.now();

  const phase = async (frames: number) => {
    for (let i = 0; i < frames; i++) {
      const frame = next();
      const answered = frame.length >= 4 && frame.length <= 256 && hasValidCrc(frame) && frame[0] === UNIT;
      await client.write(frame);
      sent++;
      if (!answered) {
        // A real master keeps the line silent until the frame has ended; so do we.
        await waitForFrames(device.server, sent);
        continue;
      }
      expected++;
      const answer = await client.nextAnswer(1000);
      const what = `frame #${sent} ${hex(frame)} ${replay}`;
      assert.ok(answer !== null, `no answer to ${what}`);
      assert.ok(hasValidCrc(answer), `bad CRC in the answer to ${what}: ${hex(answer)}`);
      assert.equal(answer[0], UNIT, `unit id of the answer to ${what}`);
      const functionCode = frame[1] as number;
      if (answer[1] === ((functionCode | 0x80) & 0xff) && answer.length === 5) {
        const code = answer[2] as number;
        exceptions.set(code, (exceptions.get(code) ?? 0) + 1);
        assert.ok([1, 2, 3].includes(code), `exception 0x${code.toString(16)} to ${what}`);
      } else {
        assert.equal(answer[1], functionCode, `function code of the answer to ${what}: ${hex(answer)}`);
        if (functionCode === 0x06 || functionCode === 0x10) writes++;
      }
    }
  };

  const rssBefore = rssMb();
  // As the factory principal: nothing may change, whatever arrives.
  await device.actAs(ANONYMOUS_SLOT);
  await phase(Math.floor(FRAMES / 2));
  assert.equal(
    device.metering.readUnchecked().meters().resetAt,
    null,
    `anonymous reset the meters ${replay}`,
  );
  assert.deepEqual(device.metering.config, config, `anonymous changed the configuration ${replay}`);

  // As a principal that may write: whatever it writes, the configuration stays valid.
  await device.actAsNewApiKey('all-except-security');
  await phase(FRAMES - Math.floor(FRAMES / 2));
  validateDeviceConfig(device.metering.config);
  assert.equal(device.metering.config.unitId, UNIT);
  const elapsed = Date.now() - started;

  await waitForFrames(device.server, sent);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(client.drain(), new Uint8Array(0), `stray bytes on the line ${replay}`);
  const counters = device.server.counters();
  assert.equal(counters.busMessages, sent, `every frame ended on its own ${replay}`);
  assert.equal(counters.answered, expected);
  assert.equal(device.handled.length, expected, 'only frames for this unit with a good CRC were handled');
  assert.ok(counters.commErrors > FRAMES / 10 && counters.broadcasts > 0 && counters.otherUnit > 0);
  assert.deepEqual(device.logs, []);

  // Memory bounded: nothing of the dropped noise is kept.
  const growthMb = rssMb() - rssBefore;
  t.diagnostic(`RSS grew by ${growthMb.toFixed(1)} MB over the run`);
  assert.ok(growthMb < 150, `RSS grew by ${growthMb.toFixed(1)} MB`);

  // Afterwards the device answers a well-formed request correctly.
  await device.actAs(ANONYMOUS_SLOT);
  const identity = await client.request(UNIT, readPdu(3, 500, 16));
  assert.ok(identity !== null);
  const text = Buffer.from(identity.subarray(2)).toString('latin1');
  assert.equal(text.slice(0, 16).replace(/\0+$/, ''), TEST_SERIAL_NUMBER);
  assert.equal(text.slice(16).replace(/\0+$/, ''), FIRMWARE_VERSION);
  const voltage = await client.request(UNIT, readPdu(4, 0, 2));
  assert.ok(voltage !== null);
  const [first, second] = registersOf(voltage) as [number, number];
  const { wordOrder, vtRatio } = device.metering.config;
  const u1 = wordOrder === 'ABCD' ? floatOf(first, second) : floatOf(second, first);
  assert.ok(u1 / vtRatio > 200 && u1 / vtRatio < 260, `U1N ${u1} at VT ratio ${vtRatio}`);
  assert.ok(writes > 0, 'the second phase performed writes');

  t.diagnostic(
    `${sent} frames in ${elapsed} ms: ${expected} answered, ${writes} writes done (exceptions ${JSON.stringify(Object.fromEntries(exceptions))}), ` +
      `${counters.commErrors} comm errors, ${counters.otherUnit} other unit, ${counters.broadcasts} broadcasts`,
  );
});
