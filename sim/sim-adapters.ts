/**
 * The simulator's hardware for the firmware's boot: the simulated meter (`--meter sim`) and the NOR
 * flash that loses power after `--sim-powercut-after-bytes` bytes (killing the process, as a power cut
 * would). The simulated device (sim/main.ts) and in-process tests pass these to bootDevice.
 */
import type { DeviceAdapters } from '../firmware/boot/boot-device.ts';
import { NorFlash } from './nor-flash.ts';
import { SimMeter } from './sim-meter.ts';

export const SIM_ADAPTERS: DeviceAdapters = {
  openFlash: (path, options) =>
    NorFlash.open({
      path,
      create: true,
      powerCutAfterBytes: options.simPowercutAfterBytes ?? undefined,
      onPowerCut: 'kill',
    }),
  simMeter: (now) => new SimMeter(now),
};
