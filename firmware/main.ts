/**
 * The board's firmware (dist/device.mjs): the device with the file-backed flash and an upstream meter
 * (`--meter modbus-rtu:…` or `modbus-tcp://…`). It carries no simulator: `--meter sim` and
 * `--sim-powercut-after-bytes` are refused with a message naming the simulated device (sim/main.ts).
 */
import { runDevice } from './boot/run-device.ts';

runDevice(process.argv.slice(2), {});
