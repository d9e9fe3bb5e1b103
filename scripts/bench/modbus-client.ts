/**
 * A minimal in-process Modbus TCP client (the soak and the bench's latency-under-logins row): one
 * outstanding request, FC3 reads. Throughput is measured by modbus-load.mjs in its own process.
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
