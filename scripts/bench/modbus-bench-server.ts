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
import { startModbusTcpServer } from '../../firmware/modbus/modbus-tcp-server.ts';
import { encodeBlock, REGISTER_MAP } from '../../firmware/modbus/register-map.ts';
import { buildSimDevice } from '../../sim/build-sim-device.ts';

const mode = process.argv[2];
// Exits normally on SIGTERM, so that `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
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
  // The device's own graph (the factory the boot uses); only the listener is the bench's.
  const { graph } = await buildSimDevice({ dataDir: dir, kdfIterations: MIN_KDF_ITERATIONS });
  const { metering, modbus } = graph;
  const measurementBlocks = REGISTER_MAP.filter((block) => block.address < 22);
  const unchecked = metering.readUnchecked();
  const ungated = (pdu: Uint8Array): Uint8Array => {
    // The gate's encoding of the same map and values, with no permission table, no meter status and no
    // checked reader: what the gate costs is the difference. (Reads of registers 0–21 only.)
    const start = ((pdu[1] as number) << 8) | (pdu[2] as number);
    const count = ((pdu[3] as number) << 8) | (pdu[4] as number);
    const snapshot = {
      measurements: unchecked.measurements(),
      config: metering.config,
    } as Parameters<(typeof REGISTER_MAP)[number]['value']>[0];
    const out = new Uint8Array(2 + count * 2);
    out[0] = 3;
    out[1] = count * 2;
    const view = new DataView(out.buffer);
    for (const block of measurementBlocks) {
      if (block.address + block.count <= start || block.address >= start + count) continue;
      const words = encodeBlock(block, block.value(snapshot), snapshot.config.wordOrder);
      for (let i = 0; i < block.count; i++) {
        const address = block.address + i;
        if (address >= start && address < start + count)
          view.setUint16(2 + (address - start) * 2, words[i] as number);
      }
    }
    return out;
  };
  const server = await startModbusTcpServer({
    host: '127.0.0.1',
    port: 0,
    unitId: () => 1,
    allowed: graph.allowed,
    maxConnections: 64,
    handle: mode === 'gated' ? (pdu, access) => modbus.handle(pdu, access) : (pdu) => ungated(pdu),
    accessFor: (connection) => modbus.slotAccess('modbusPrincipal', 'modbus-tcp', connection.remoteAddress),
  });
  process.stdout.write(`modbus ready ${JSON.stringify({ port: server.port })}\n`);
}
