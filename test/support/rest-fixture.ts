/**
 * A running device with a usable admin: boots the real device process on a fresh data dir (loopback,
 * port 0), logs in as admin/CBM_1234 over HTTPS with the device's own certificate, sets a new admin
 * password, and hands out clients. Shared by the REST end-to-end tests.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClientOptions, DeviceClient } from '../../firmware/client/device-client.ts';
import { type RunningDevice, startDevice } from './device-process.ts';

/** One slot as GET /api/v1/users lists it. */
export interface SlotView {
  slot: number;
  type: string;
  name: string | null;
  permissions: string[];
  flags: string[];
  epoch: number;
}

export const ADMIN_PASSWORD = 'Zähler-Chef 2026!';

export interface RestFixture {
  readonly dataDir: string;
  readonly device: RunningDevice;
  /** PEM of the device's self-signed certificate (trust anchor for HTTPS clients). */
  readonly ca: string;
  readonly httpUrl: string;
  readonly httpsUrl: string;
  /** Logged in as admin over HTTPS, default password already replaced by ADMIN_PASSWORD. */
  readonly admin: DeviceClient;
  /** A new HTTPS client trusting the device certificate. */
  https(options?: ClientOptions): DeviceClient;
  /** A new plain-HTTP client. */
  http(options?: ClientOptions): DeviceClient;
  /** Stops the device and removes the data dir. */
  close(): Promise<void>;
}

export async function startRestFixture(extraArgs: readonly string[] = []): Promise<RestFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'metergate-rest-'));
  const device = await startDevice(['--data-dir', dataDir, ...extraArgs]);
  const ca = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
  const httpUrl = `http://127.0.0.1:${device.ready.http}`;
  const httpsUrl = `https://127.0.0.1:${device.ready.https}`;
  const https = (options: ClientOptions = {}) => new DeviceClient(httpsUrl, { ca, ...options });
  const http = (options: ClientOptions = {}) => new DeviceClient(httpUrl, options);
  const admin = https();
  await admin.login('admin', 'CBM_1234');
  await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
  return {
    dataDir,
    device,
    ca,
    httpUrl,
    httpsUrl,
    admin,
    https,
    http,
    close: async () => {
      await device.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
