/**
 * The bench's website login figures (DESIGN §7, issue 16 defect 1): a login in chromium, typed into the
 * real page against the real device process, over HTTPS (WebCrypto) and over plain HTTP without
 * WebCrypto (the page's `crypto.subtle` removed, as at a device reached by IP address: the proof then
 * runs in the Web Worker), at normal speed and with the CPU slowed 4× (DevTools
 * Emulation.setCPUThrottlingRate). Each figure is the median of 3 logins, from Enter to the logged-in
 * page, with the longest main-thread task seen meanwhile (PerformanceObserver `longtask`). Part of
 * `npm run bench`; run alone with `node --import tsx scripts/bench/browser-login.ts`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { DeviceClient } from '../../firmware/client/device-client.ts';
import { launchChromium, spkiPin } from '../../test/support/browser.ts';
import { startDevice } from '../../test/support/device-process.ts';

type RecordFigure = (figure: string, value: string, target?: string, met?: boolean | null) => void;

const PASSWORD = 'Bench-Browser 2026!';
const RUNS = 3;

interface LoginRun {
  ms: number;
  longestTaskMs: number;
}

/** One login in a fresh context: ms from Enter to the Log out button, and the longest task meanwhile. */
async function timeLogin(browser: Browser, url: string, withoutWebCrypto: boolean, cpuRate: number) {
  const context = await browser.newContext();
  try {
    await context.addInitScript((strip: boolean) => {
      if (strip) Object.defineProperty(window.crypto, 'subtle', { value: undefined });
      const tasks: number[] = [];
      (window as unknown as { longTasks: number[] }).longTasks = tasks;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) tasks.push(entry.duration);
      }).observe({ type: 'longtask', buffered: true });
    }, withoutWebCrypto);
    const page = await context.newPage();
    await page.goto(`${url}/#/login`);
    await page.getByLabel('User name').waitFor();
    await page.waitForLoadState('networkidle');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: cpuRate });
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.evaluate(() => {
      (window as unknown as { longTasks: number[] }).longTasks.length = 0;
    });
    const started = performance.now();
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('banner').getByRole('button', { name: 'Log out' }).waitFor({ timeout: 120_000 });
    const ms = performance.now() - started;
    const tasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
    return { ms, longestTaskMs: Math.max(0, ...tasks) };
  } finally {
    await context.close();
  }
}

const medianRun = (runs: LoginRun[]): LoginRun => {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return {
    ms: (sorted[Math.floor(sorted.length / 2)] as LoginRun).ms,
    longestTaskMs: Math.max(...runs.map((r) => r.longestTaskMs)),
  };
};

export async function browserLogin(dir: string, record: RecordFigure): Promise<void> {
  process.stderr.write('website login in chromium\n');
  const dataDir = join(dir, 'browser-login');
  const device = await startDevice(['--data-dir', dataDir]);
  const ca = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
  const httpsUrl = `https://127.0.0.1:${device.ready.https}`;
  const httpUrl = `http://127.0.0.1:${device.ready.http}`;
  const browser = await launchChromium(spkiPin(ca));
  try {
    const admin = new DeviceClient(httpsUrl, { ca });
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', PASSWORD);
    await timeLogin(browser, httpsUrl, false, 1); // warms the device and the browser process
    for (const cpuRate of [1, 4]) {
      const https: LoginRun[] = [];
      const http: LoginRun[] = [];
      for (let i = 0; i < RUNS; i++) {
        https.push(await timeLogin(browser, httpsUrl, false, cpuRate));
        http.push(await timeLogin(browser, httpUrl, true, cpuRate));
      }
      const [secure, plain] = [medianRun(https), medianRun(http)];
      const ratio = plain.ms / secure.ms;
      const cpu = cpuRate === 1 ? 'normal CPU' : `CPU slowed ${cpuRate}×`;
      record(
        `website login in chromium, ${cpu}, median of ${RUNS}: HTTP without WebCrypto (worker) vs HTTPS`,
        `${plain.ms.toFixed(0)} ms vs ${secure.ms.toFixed(0)} ms = ${ratio.toFixed(1)}×`,
        '≤ 3× HTTPS',
        ratio <= 3,
      );
      record(
        `  longest main-thread task during those logins, ${cpu}: HTTP / HTTPS`,
        `${plain.longestTaskMs.toFixed(0)} ms / ${secure.longestTaskMs.toFixed(0)} ms`,
        '≤ 200 ms',
        Math.max(plain.longestTaskMs, secure.longestTaskMs) <= 200,
      );
    }
  } finally {
    await browser.close();
    await device.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-bench-'));
  try {
    await browserLogin(dir, (figure, value, target = '—', met = null) =>
      process.stdout.write(`${figure}: ${value} (target ${target}, met ${met})\n`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
