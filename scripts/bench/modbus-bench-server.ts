/**
 * Modbus TCP servers for the bench, one per process: `gated` is the device's listener and request
 * handler (every register checked against the acting slot's permissions); `ungated` is the same
 * listener answering from the same register map with no permission check; `minimal` is a bare
 * node:net responder returning a fixed answer (the practical limit). Prints `modbus ready {"port":…}`.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../../firmware/keys/file-key-provider.ts';
import { handleModbusPdu } from '../../firmware/modbus/modbus-gate.ts';
import { startModbusTcpServer } from '../../firmware/modbus/modbus-tcp-server.ts';
import { encodeBlock, REGISTER_MAP } from '../../firmware/modbus/register-map.ts';
import { MeteringService } from '../../firmware/services/metering-service.ts';
import { SecurityService } from '../../firmware/services/security-service.ts';
import { ConfigStore } from '../../firmware/store/config-store.ts';
import { SecureStore } from '../../firmware/store/secure-store.ts';
import { NorFlash } from '../../sim/nor-flash.ts';
import { SimMeter } from '../../sim/sim-meter.ts';

const mode = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), 'metergate-modbus-bench-'));

if (mode === 'minimal') {
  const answer = Buffer.alloc(9 + 44);
  answer.writeUInt16BE(3 + 44, 4);
  answer[6] = 1;
  answer[7] = 3;
  answer[8] = 44;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 12) {
        answer.writeUInt16BE(buffer.readUInt16BE(0), 0);
        socket.write(Buffer.from(answer));
        buffer = buffer.subarray(12);
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(
      `modbus ready ${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`,
    );
  });
} else {
  const now = Date.now;
  const flash = NorFlash.open({ path: join(dir, 'flash.img'), create: true });
  const keys = join(dir, 'keys');
  const opened = await SecureStore.open(
    {
      flash,
      keys: new FileKeyProvider(keys),
      counter: new FileMonotonicCounter(join(keys, 'rollback.counter')),
      now,
    },
    { kdfIterations: MIN_KDF_ITERATIONS },
  );
  if (opened.mode !== 'normal') throw new Error('bench store did not open');
  const security = new SecurityService(opened.store, { now });
  const metering = new MeteringService(
    new SimMeter(now()),
    ConfigStore.open(flash, opened.rootKey, opened.store),
    security,
    now,
  );
  const deps = {
    metering,
    serialNumber: 'MG00000000',
    firmwareVersion: '0',
    vendorName: 'bench',
    productCode: 'bench',
  };
  const measurementBlocks = REGISTER_MAP.filter((block) => block.address < 22);
  const ungated = (pdu: Uint8Array): Uint8Array => {
    // The same map and values, no permission table: what the gate costs is the difference.
    const start = ((pdu[1] as number) << 8) | (pdu[2] as number);
    const count = ((pdu[3] as number) << 8) | (pdu[4] as number);
    const m = metering.readUnchecked().measurements();
    const snapshot = { measurements: m } as Parameters<(typeof REGISTER_MAP)[number]['value']>[0];
    const words = measurementBlocks.flatMap((block) => encodeBlock(block, block.value(snapshot), 'ABCD'));
    const out = new Uint8Array(2 + count * 2);
    out[0] = 3;
    out[1] = count * 2;
    const view = new DataView(out.buffer);
    for (let i = 0; i < count; i++) view.setUint16(2 + i * 2, words[start + i] ?? 0);
    return out;
  };
  const server = await startModbusTcpServer({
    host: '127.0.0.1',
    port: 0,
    unitId: () => 1,
    allowed: () => () => true,
    maxConnections: 64,
    handle: mode === 'gated' ? (pdu, access) => handleModbusPdu(pdu, access, deps) : (pdu) => ungated(pdu),
    accessFor: () => ({
      context: { interface: 'modbus-tcp', source: '127.0.0.1' },
      actor: () => security.principalActor('modbusPrincipal'),
    }),
  });
  process.stdout.write(`modbus ready ${JSON.stringify({ port: server.port })}\n`);
}
