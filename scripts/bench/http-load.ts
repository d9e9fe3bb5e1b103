/**
 * A small closed-loop HTTP(S) load generator: `connections` keep-alive connections each sending the
 * next request as soon as the last answer arrived, for `seconds` (after a 200 ms warm-up that is not
 * counted). Counts answers with status 200 and their latencies; anything else is an error. With
 * `interval`, each connection waits that many ms between requests (a probe, not a load).
 *
 * Run as a script it is the bench's client in its own process (the bench's event loop stays out of
 * the figure): `node --import tsx http-load.ts URL CONNECTIONS SECONDS [INTERVAL_MS]`, with the
 * environment's BENCH_CA (a PEM file) and BENCH_AUTHORIZATION (a header value); prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pathToFileURL } from 'node:url';

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const WARM_UP_MS = 200;

export async function runLoad(
  url: string,
  options: {
    connections: number;
    seconds: number;
    headers?: Record<string, string>;
    ca?: string;
    intervalMs?: number;
  },
): Promise<LoadResult> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: options.connections, ca: options.ca })
    : new HttpAgent({ keepAlive: true, maxSockets: options.connections });
  const send = secure ? httpsRequest : httpRequest;
  const measureFrom = performance.now() + WARM_UP_MS;
  const deadline = measureFrom + options.seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      const counted = sent >= measureFrom;
      const req = send(target, { agent, headers: options.headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (counted && res.statusCode === 200) latencies.push(performance.now() - sent);
          else if (counted) errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (performance.now() < deadline) {
      await one();
      if (options.intervalMs) await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Number.NaN;
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / options.seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [url, connections, seconds, interval] = process.argv.slice(2) as [string, string, string, string?];
  const authorization = process.env.BENCH_AUTHORIZATION;
  const result = await runLoad(url, {
    connections: Number(connections),
    seconds: Number(seconds),
    ca: process.env.BENCH_CA ? readFileSync(process.env.BENCH_CA, 'utf8') : undefined,
    headers: authorization ? { authorization } : undefined,
    intervalMs: interval === undefined ? undefined : Number(interval),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
