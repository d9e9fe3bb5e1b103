/** The firmware's identity as `info`, Modbus (registers 500–515) and the display report it. */
export const FIRMWARE_VERSION = '0.1.0';
export const DEVICE_MODEL = 'metergate AM-sim';
