/**
 * A minimal Modbus TCP client for the bench: one outstanding request per connection, FC3 reads,
 * latency per request. Small on purpose, so the client costs the same whichever server it measures.
 */
import { connect, type Socket } from 'node:net';

export class BenchModbusClient {
  private buffer = Buffer.alloc(0);
  private waiting: ((frame: Buffer) => void) | null = null;
  private transaction = 0;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 6) {
        const length = this.buffer.readUInt16BE(4);
        if (this.buffer.length < 6 + length) return;
        const frame = this.buffer.subarray(0, 6 + length);
        this.buffer = this.buffer.subarray(6 + length);
        const resolve = this.waiting;
        this.waiting = null;
        resolve?.(frame);
      }
    });
  }

  /** Connects to 127.0.0.1:port, from `localAddress` (another loopback source) when given. */
  static open(port: number, localAddress?: string): Promise<BenchModbusClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress }, () =>
        resolve(new BenchModbusClient(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** FC3 read; resolves with the response frame. */
  read(address: number, count: number, unit = 1): Promise<Buffer> {
    this.transaction = (this.transaction + 1) & 0xffff;
    const frame = Buffer.alloc(12);
    frame.writeUInt16BE(this.transaction, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(6, 4);
    frame[6] = unit;
    frame[7] = 3;
    frame.writeUInt16BE(address, 8);
    frame.writeUInt16BE(count, 10);
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(frame);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Reads per second over `connections` connections for `seconds`; every answer must be a normal FC3 answer. */
export async function modbusThroughput(port: number, connections: number, seconds: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: connections }, () => BenchModbusClient.open(port)));
  const deadline = performance.now() + seconds * 1000;
  let reads = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        const answer = await client.read(0, 22);
        if (answer[7] !== 3) throw new Error(`read refused: exception ${answer[8]}`);
        reads++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  for (const client of clients) client.close();
  return reads / elapsed;
}
