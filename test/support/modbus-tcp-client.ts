/**
 * A raw Modbus TCP client for tests, over plain TCP or TLS: frames requests with MBAP headers, splits
 * the answer stream into frames, and also writes arbitrary bytes (broken headers, split or merged
 * segments) and tells when the server closed the connection. Every socket is destroyed when the
 * test ends.
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

type TestContext = { after(fn: () => void | Promise<void>): void };

export interface MbapFrame {
  readonly transaction: number;
  readonly protocol: number;
  readonly unit: number;
  readonly pdu: Uint8Array;
}

export interface ConnectOptions {
  readonly host?: string;
  readonly localAddress?: string;
  /** Connect with TLS (`rejectUnauthorized` defaults to false: the tests check the client side only). */
  readonly tls?: ConnectionOptions;
  readonly timeoutMs?: number;
}

/** One MBAP frame: header + PDU. */
export function mbapFrame(transaction: number, unit: number, pdu: Uint8Array, protocol = 0): Buffer {
  const frame = Buffer.alloc(7 + pdu.length);
  frame.writeUInt16BE(transaction & 0xffff, 0);
  frame.writeUInt16BE(protocol & 0xffff, 2);
  frame.writeUInt16BE((1 + pdu.length) & 0xffff, 4);
  frame[6] = unit;
  frame.set(pdu, 7);
  return frame;
}

export class MbapClient {
  private buffer = Buffer.alloc(0);
  private readonly frames: MbapFrame[] = [];
  private wake: (() => void) | null = null;
  private transaction = 0;
  /** The error the socket failed with, if any. */
  error: Error | null = null;
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake?.();
        resolve();
      }),
    );
    socket.on('error', (error) => {
      this.error ??= error;
    });
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 7) {
        const length = this.buffer.readUInt16BE(4);
        if (this.buffer.length < 6 + length) break;
        this.frames.push({
          transaction: this.buffer.readUInt16BE(0),
          protocol: this.buffer.readUInt16BE(2),
          unit: this.buffer[6] as number,
          pdu: new Uint8Array(this.buffer.subarray(7, 6 + length)),
        });
        this.buffer = this.buffer.subarray(6 + length);
      }
      this.wake?.();
    });
  }

  /** Connects (and with `tls`, completes the client side of the handshake); rejects on failure. */
  static connect(t: TestContext, port: number, options: ConnectOptions = {}): Promise<MbapClient> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const tlsOptions: ConnectionOptions = { rejectUnauthorized: false, ...options.tls };
      const raw = netConnect({ host, port, localAddress: options.localAddress });
      raw.on('error', () => {});
      const socket = options.tls ? tlsConnect({ ...tlsOptions, socket: raw }) : raw;
      t.after(() => {
        socket.destroy();
        raw.destroy();
      });
      const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), options.timeoutMs ?? 5000);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new MbapClient(socket));
      });
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Writes raw bytes. */
  write(bytes: Uint8Array): Promise<void> {
    // A closed socket never calls back: resolve at once (the answer that never comes tells the rest).
    if (!this.socket.writable) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** Sends one request and resolves with its answer's PDU (asserted: next frame, same transaction and unit). */
  async request(pdu: Uint8Array, unit = 1, timeoutMs = 5000): Promise<Uint8Array> {
    this.transaction = (this.transaction + 1) & 0xffff;
    const transaction = this.transaction;
    await this.write(mbapFrame(transaction, unit, pdu));
    const frame = await this.nextFrame(timeoutMs);
    assert.ok(
      frame,
      `no answer to transaction ${transaction} (${this.error?.message ?? 'closed or timeout'})`,
    );
    assert.equal(frame.transaction, transaction, 'answer transaction id');
    assert.equal(frame.protocol, 0, 'answer protocol id');
    assert.equal(frame.unit, unit, 'answer unit id');
    return frame.pdu;
  }

  /** The next answer frame, or null when the connection closes or nothing comes within `timeoutMs`. */
  async nextFrame(timeoutMs = 5000): Promise<MbapFrame | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      const left = deadline - Date.now();
      if (this.isClosed || left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** True when the server closes the connection within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return closed;
  }

  /** Frames received and not yet taken. */
  get pendingFrames(): number {
    return this.frames.length;
  }

  close(): void {
    this.socket.destroy();
  }
}
