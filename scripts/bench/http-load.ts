/**
 * A small closed-loop HTTP(S) load generator: `connections` keep-alive connections each sending the
 * next request as soon as the last answer arrived, for `seconds`. Counts answers with the expected
 * status; anything else is counted as an error.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly perSecond: number;
}

export async function runLoad(
  url: string,
  options: { connections: number; seconds: number; headers?: Record<string, string>; ca?: string },
): Promise<LoadResult> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: options.connections, ca: options.ca })
    : new HttpAgent({ keepAlive: true, maxSockets: options.connections });
  const send = secure ? httpsRequest : httpRequest;
  const deadline = performance.now() + options.seconds * 1000;
  let requests = 0;
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = send(target, { agent, headers: options.headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) requests++;
          else errors++;
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
    while (performance.now() < deadline) await one();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests, errors, perSecond: requests / elapsed };
}
