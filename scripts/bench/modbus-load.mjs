// The bench's Modbus TCP load client, run in its own process so that the client's CPU is not the
// bench's nor the server's event loop: `connections` connections to 127.0.0.1:port, one request
// outstanding on each (the next FC3 read of 22 registers from address 0, unit 1, goes out when the
// answer came), for `seconds`. Prints one JSON line: requests per second, p50 and p99 latency in ms,
// and the count of answers that were not a normal FC3 answer (errors). Connections come from
// 127.0.0.1–127.0.0.4 in turn: the device admits at most 16 per source address (IEC 62443-4-2 CR 7.1),
// as a SCADA master and three other clients would be.
// Plain JavaScript run by plain node: the same client, whatever server it measures.
// Usage: node modbus-load.mjs PORT CONNECTIONS SECONDS
import { connect } from 'node:net';

const [port, connections, seconds] = process.argv.slice(2).map(Number);
const WARM_UP_MS = 200;

/** One connection: resolves with its latencies (ms) and error count once the deadline has passed. */
function drive(index, deadline, measureFrom) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${1 + (index % 4)}` });
    socket.setNoDelay(true);
    const request = Buffer.from([0, 0, 0, 0, 0, 6, 1, 3, 0, 0, 0, 22]);
    const latencies = [];
    let errors = 0;
    let transaction = 0;
    let sentAt = 0;
    let pending = Buffer.alloc(0);
    const send = () => {
      transaction = (transaction + 1) & 0xffff;
      request.writeUInt16BE(transaction, 0);
      sentAt = performance.now();
      socket.write(request);
    };
    socket.on('connect', send);
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection ${index} closed by the server`)));
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
        const length = 6 + pending.readUInt16BE(4);
        const ok = pending[7] === 3 && pending.readUInt16BE(0) === transaction && pending[8] === 44;
        pending = pending.subarray(length);
        const now = performance.now();
        if (sentAt >= measureFrom) {
          if (ok) latencies.push(now - sentAt);
          else errors++;
        }
        if (now >= deadline) {
          socket.destroy();
          return resolve({ latencies, errors });
        }
        send();
      }
    });
  });
}

const start = performance.now();
const measureFrom = start + WARM_UP_MS;
const deadline = measureFrom + seconds * 1000;
const results = await Promise.all(
  Array.from({ length: connections }, (_, i) => drive(i, deadline, measureFrom)),
);
const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Number.NaN;
process.stdout.write(
  `${JSON.stringify({
    connections,
    requests: latencies.length,
    perSecond: latencies.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
  })}\n`,
);
