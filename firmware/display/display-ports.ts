/**
 * The two kinds of line the display is drawn on: a serial device or pty (`--display PATH`, through
 * serialport: a VT100 terminal, or a terminal emulator on the other end of a pty), and the console the
 * device was started in (`--display tty`), where the display sits in a box at the top of the screen
 * and the device's messages scroll below it.
 */
import type { DisplayPort } from './display-driver.ts';
import type { ScreenSize } from './screen-renderer.ts';

/** The display line's speed: a full redraw of 20 × 8 is about 300 bytes, 26 ms at 115200 baud. */
export const DISPLAY_BAUD_RATE = 115200;

/** Opens `path` 115200 8N1. Rejects when it cannot be opened; a later error is logged once. */
export async function openSerialDisplayPort(
  path: string,
  log: (message: string) => void,
): Promise<DisplayPort> {
  // Loaded when a serial display is used: the console and `none` never pay for it.
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({
    path,
    baudRate: DISPLAY_BAUD_RATE,
    dataBits: 8,
    parity: 'none',
    stopBits: 1,
    autoOpen: false,
  });
  let errorLogged = false;
  let closing = false;
  // Registered first and never removed: an 'error' without a listener would crash the process.
  port.on('error', (error: Error) => {
    if (errorLogged || closing) return;
    errorLogged = true;
    log(`display ${path}: ${error.message}`);
  });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  // Clear the terminal on the other end, so the first frame is drawn on a blank screen.
  port.write('\x1b[0m\x1b[2J');
  return {
    write: (text) => {
      if (port.isOpen) port.write(text);
    },
    onData: (listener) => port.on('data', (chunk: Buffer) => listener(new Uint8Array(chunk))),
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}

/** Where the display's frame starts on the console: inside a one-cell border. */
export const TTY_ORIGIN = { row: 2, col: 2 } as const;

/**
 * The console as the display: raw keys from stdin (Ctrl-C still stops the device), the frame in a box
 * at the top, a scroll region below it for the device's messages. Restores the terminal on close.
 */
export function openTtyDisplayPort(size: ScreenSize, interrupt: () => void): DisplayPort {
  const { stdin, stdout } = process;
  const border = `+${'-'.repeat(size.cols)}+`;
  const legend = ' keys: arrows, Esc=back, Enter=OK';
  let setup = '\x1b[0m\x1b[2J\x1b[1;1H';
  setup += `${border}\r\n`;
  for (let r = 0; r < size.rows; r++) setup += `|${' '.repeat(size.cols)}|\r\n`;
  setup += `${border}${legend}\r\n`;
  // Messages scroll below the box; the cursor waits at the bottom of that region.
  const regionTop = size.rows + 4;
  const rows = stdout.rows ?? 24;
  if (rows > regionTop) setup += `\x1b[${regionTop};${rows}r\x1b[${rows};1H`;
  stdout.write(setup);
  stdin.setRawMode?.(true);
  stdin.resume();
  let listener: (bytes: Uint8Array) => void = () => {};
  const onData = (chunk: Buffer) => {
    // Raw mode turns Ctrl-C into a byte: it still means stop.
    if (chunk.includes(0x03)) interrupt();
    else listener(new Uint8Array(chunk));
  };
  stdin.on('data', onData);
  return {
    // The frame is drawn at absolute positions; the cursor goes back to where messages are written.
    write: (text) => stdout.write(`\x1b7${text}\x1b8`),
    onData: (next) => {
      listener = next;
    },
    close: async () => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stdout.write(`\x1b[r\x1b[?25h\x1b[${rows};1H\r\n`);
    },
  };
}
