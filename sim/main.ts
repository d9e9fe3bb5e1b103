/**
 * The simulated device (dist/sim-device.mjs, `npm start`, the e2e tests): the firmware's own process
 * with the simulator's meter (`--meter sim`) and power-cut flash (`--sim-powercut-after-bytes`).
 */
import { runDevice } from '../firmware/boot/run-device.ts';
import { SIM_ADAPTERS } from './sim-adapters.ts';

runDevice(process.argv.slice(2), SIM_ADAPTERS);
