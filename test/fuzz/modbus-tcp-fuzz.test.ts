/**
 * Fuzzes the Modbus TCP listener in-process: a few thousand seeded random and mutated MBAP frames
 * (length fields, protocol ids, unit ids, function codes, counts, truncated and padded PDUs, noise),
 * written as random segments (split anywhere, merged, sometimes paced) over several connections at
 * once, for about 10 s. A reference parser of the sent stream is the oracle: every complete frame
 * before the first broken header is answered in order with its transaction and unit id (0x0B for a
 * foreign unit, never 0x04), nothing else is answered, and the connection is closed exactly when a
 * broken header was sent. Afterwards well-formed clients, as many as one source may hold, still get
 * correct answers. The seed is printed; rerun with MODBUS_FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ALL_PERMISSIONS } from '../../firmware/core/permission-table.ts';
import { EXCEPTION } from '../../firmware/modbus/modbus-gate.ts';
import {
  DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
  startModbusTcpServer,
} from '../../firmware/modbus/modbus-tcp-server.ts';
import { REGISTER_MAP } from '../../firmware/modbus/register-map.ts';
import { createAddressFilter } from '../../firmware/net/client-whitelist.ts';
import {
  deviceIdPdu,
  float32Of,
  hex,
  readPdu,
  registersOf,
  startModbusDevice,
  stringOf,
  TEST_SERIAL_NUMBER,
  writeMultiplePdu,
  writeSinglePdu,
} from '../support/modbus-fixture.ts';
import { MbapClient, mbapFrame } from '../support/modbus-tcp-client.ts';
import { fuzzSeed, type Random, seededRandom } from '../support/seeded-random.ts';

const SEED = fuzzSeed();
/** FUZZ_BUDGET_MS (`npm run fuzz -- --minutes N`) makes a long run: time, not a frame count, ends it. */
const LONG_RUN = process.env.FUZZ_BUDGET_MS !== undefined;
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 8000);
const MIN_FRAMES = 3000;
const MAX_FRAMES = LONG_RUN ? Number.POSITIVE_INFINITY : 20_000;
const WORKERS = 4;
const UNIT = 1;

/** What the server must make of a stream: the frames it answers, and whether it closes the connection. */
function referenceParse(stream: Buffer): {
  frames: { transaction: number; unit: number; pdu: Buffer }[];
  broken: boolean;
} {
  const frames = [];
  let offset = 0;
  while (stream.length - offset >= 6) {
    const protocol = stream.readUInt16BE(offset + 2);
    const length = stream.readUInt16BE(offset + 4);
    if (protocol !== 0 || length < 2 || length > 254) return { frames, broken: true };
    if (stream.length - offset < 6 + length) break;
    frames.push({
      transaction: stream.readUInt16BE(offset),
      unit: stream[offset + 6] as number,
      pdu: stream.subarray(offset + 7, offset + 6 + length),
    });
    offset += 6 + length;
  }
  return { frames, broken: false };
}

function frameGenerator(random: Random) {
  const edges = REGISTER_MAP.flatMap((b) => [
    b.address - 1,
    b.address,
    b.address + b.count - 1,
    b.address + b.count,
  ]);
  const address = () => (random() < 0.85 ? random.pick(edges) & 0xffff : random.int(0x10000));
  const unit = () => (random() < 0.8 ? random.pick([UNIT, UNIT, UNIT, 0, 255]) : random.int(256));
  const pdu = (): Uint8Array => {
    switch (random.int(7)) {
      case 0:
      case 1:
        return readPdu(
          random.pick([3, 4]),
          address(),
          random.pick([1, 2, 4, 8, 22, 125, 126, 0, random.int(0x10000)]),
        );
      case 2:
        return writeSinglePdu(address(), random.pick([0, 1, 2, 0x5aa5, random.int(0x10000)]));
      case 3:
        return writeMultiplePdu(
          address(),
          Array.from({ length: random.pick([1, 2, 3, 5, 123]) }, () =>
            random.pick([0, 1, 0x3f80, 0x42c8, 0x5aa5]),
          ),
        );
      case 4:
        return deviceIdPdu(random.int(6), random.int(4));
      case 5:
        return Uint8Array.of(random.int(256), ...random.bytes(random.int(12)));
      default:
        return random.bytes(1 + random.int(253));
    }
  };
  /** One frame, possibly mutated; sometimes noise instead. */
  return (transaction: number): Buffer => {
    const body = pdu();
    const frame = mbapFrame(transaction, unit(), body.length > 253 ? body.subarray(0, 253) : body);
    const roll = random();
    if (roll < 0.8) return frame;
    if (roll < 0.85) {
      // A length field that does not match: the rest of the stream is read differently from here on.
      frame.writeUInt16BE(random.pick([0, 1, 2, 3, 253, 254, 255, 256, 0xffff, random.int(0x10000)]), 4);
      return frame;
    }
    if (roll < 0.87) {
      frame.writeUInt16BE(random.pick([1, 0x0100, 0xffff, random.int(0x10000)]), 2);
      return frame;
    }
    if (roll < 0.97) {
      const bytes = Buffer.from(frame);
      bytes[7 + random.int(Math.max(1, bytes.length - 7))] = random.int(256);
      return bytes;
    }
    if (roll < 0.99) return frame.subarray(0, random.int(frame.length));
    return Buffer.from(random.bytes(1 + random.int(40)));
  };
}

/** Writes `stream` as random segments: single bytes, small pieces, or everything merged. */
async function writeSegmented(client: MbapClient, stream: Buffer, random: Random): Promise<void> {
  let offset = 0;
  while (offset < stream.length && client.isOpen) {
    const size = random() < 0.3 ? stream.length - offset : 1 + random.int(random() < 0.5 ? 8 : 64);
    await client.write(stream.subarray(offset, offset + size));
    offset += size;
    if (random() < 0.1) await sleep(1);
  }
}

function checkAnswer(
  answer: { transaction: number; protocol: number; unit: number; pdu: Uint8Array },
  request: { transaction: number; unit: number; pdu: Uint8Array },
  context: string,
): void {
  assert.deepEqual(
    [answer.transaction, answer.protocol, answer.unit],
    [request.transaction, 0, request.unit],
    `ids: ${context}`,
  );
  const functionCode = request.pdu[0] as number;
  const { pdu } = answer;
  if (![UNIT, 0, 255].includes(request.unit)) {
    assert.deepEqual(
      [...pdu],
      [(functionCode | 0x80) & 0xff, EXCEPTION.GATEWAY_TARGET_FAILED],
      `foreign unit: ${context}`,
    );
    return;
  }
  if (pdu.length === 2 && pdu[0] === ((functionCode | 0x80) & 0xff)) {
    assert.ok([1, 2, 3].includes(pdu[1] as number), `exception code (never 0x04): ${context}`);
    return;
  }
  assert.equal(pdu[0], functionCode, `normal answer: ${context}`);
  assert.ok([3, 4, 6, 0x10, 0x2b].includes(functionCode), `normal answer to FC ${functionCode}: ${context}`);
}

test('Modbus TCP listener survives random and mutated MBAP streams', async (t) => {
  const rssBefore = process.memoryUsage().rss;
  t.diagnostic(`seed ${SEED} (rerun with MODBUS_FUZZ_SEED=${SEED})`);
  const random = seededRandom(SEED);
  const device = await startModbusDevice(t);
  let connectionCount = 0;
  const server = await startModbusTcpServer({
    host: '127.0.0.1',
    port: 0,
    handle: device.handle,
    unitId: () => device.metering.config.unitId,
    allowed: () => createAddressFilter([]),
    // Alternately the factory slot (anonymous: writes refused) and a principal that may write.
    accessFor: (connection) =>
      connectionCount++ % 2 === 0
        ? device.slotAccess('modbus-tcp', connection.remoteAddress)
        : device.accessAs({
            slot: 5,
            permissions: ALL_PERMISSIONS,
            mustChangePassword: false,
            localOnly: false,
          }),
  });
  t.after(() => server.close());

  const next = frameGenerator(random);
  const started = Date.now();
  const totals = { frames: 0, answered: 0, sessions: 0, closed: 0 };
  let transaction = 0;
  const session = async (workerRandom: Random) => {
    const parts = Array.from({ length: 1 + workerRandom.int(30) }, () => next(transaction++ & 0xffff));
    const stream = Buffer.concat(parts);
    const expected = referenceParse(stream);
    const client = await MbapClient.connect(t, server.port);
    await writeSegmented(client, stream, workerRandom);
    const context = (i: number) => `session ${totals.sessions}, frame ${i} of ${hex(stream)} (seed ${SEED})`;
    for (const [i, request] of expected.frames.entries()) {
      const answer = await client.nextFrame(3000);
      assert.ok(answer, `answer missing: ${context(i)}`);
      checkAnswer(answer, request, context(i));
    }
    if (expected.broken) {
      assert.ok(await client.closesWithin(3000), `closed after a broken header: ${context(-1)}`);
      totals.closed++;
    } else {
      assert.equal(await client.nextFrame(20), null, `nothing more answered: ${context(-1)}`);
      assert.ok(client.isOpen, `open without a broken header: ${context(-1)}`);
    }
    assert.equal(client.pendingFrames, 0, `no extra answers: ${context(-1)}`);
    client.close();
    totals.frames += parts.length;
    totals.answered += expected.frames.length;
    totals.sessions++;
  };
  const workers = Array.from({ length: WORKERS }, (_, w) => {
    const workerRandom = seededRandom((SEED + w + 1) >>> 0);
    return (async () => {
      while (
        totals.frames < MAX_FRAMES &&
        (totals.frames < MIN_FRAMES || Date.now() - started < BUDGET_MS) &&
        Date.now() - started < 2 * BUDGET_MS
      ) {
        await session(workerRandom);
      }
    })();
  });
  await Promise.all(workers);
  t.diagnostic(
    `${totals.frames} frames in ${totals.sessions} sessions (${totals.answered} answered, ` +
      `${totals.closed} connections closed for a broken header) in ${Date.now() - started} ms`,
  );
  assert.ok(totals.frames >= 1000, 'a few thousand frames');
  assert.ok(totals.answered > 200 && totals.closed > 10, 'both answered frames and broken streams');

  // Still listening, with every connection slot free again, and answering correctly.
  await sleep(100);
  const clients = await Promise.all(
    Array.from({ length: DEFAULT_MAX_CONNECTIONS_PER_SOURCE }, () => MbapClient.connect(t, server.port)),
  );
  for (const client of clients) {
    const serial = stringOf(registersOf(await client.request(readPdu(3, 500, 8), UNIT)));
    assert.equal(serial, TEST_SERIAL_NUMBER);
  }
  const [client] = clients as [MbapClient];
  const wordOrder = device.metering.config.wordOrder;
  const registers = registersOf(await client.request(readPdu(4, 0, 22), 0));
  const u1 = float32Of(registers.slice(0, 2), wordOrder) / device.metering.config.vtRatio;
  assert.ok(u1 > 220 && u1 < 240, `U1 (secondary) ${u1} V`);
  assert.equal((await client.request(deviceIdPdu(1, 0), 255))[0], 0x2b);
  // Memory bounded: the listener keeps nothing of the streams it dropped.
  const growthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  t.diagnostic(`RSS grew by ${growthMb.toFixed(1)} MB over the run`);
  assert.ok(growthMb < 150, `RSS grew by ${growthMb.toFixed(1)} MB`);
});
