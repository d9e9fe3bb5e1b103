/**
 * Logs in as admin 10 times a second for the given seconds against http://127.0.0.1:<port> (the bench's
 * login storm); the key derivation runs here, the device verifies. Prints how many logins succeeded.
 */
import { DeviceClient } from '../../firmware/client/device-client.ts';

const [port, seconds] = process.argv.slice(2).map(Number) as [number, number];
const deadline = performance.now() + seconds * 1000;
let done = 0;
const inFlight: Promise<void>[] = [];
while (performance.now() < deadline) {
  inFlight.push(
    new DeviceClient(`http://127.0.0.1:${port}`)
      .login('admin', 'Bench-Chef 2026!')
      .then(() => {
        done++;
      })
      .catch(() => {}),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
}
await Promise.all(inFlight);
process.stdout.write(`${done}\n`);
