/**
 * `--meter SOURCE`: the three forms, their defaults, and strict refusals whose message names the part
 * that is wrong; `--sim` as `--meter sim`, the two together only when they agree, and no source at all
 * left for main.ts to refuse.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDeviceOptions, UsageError } from '../../../firmware/boot/device-options.ts';
import { DEFAULT_POLL, MeterSpecError, parseMeterSpec } from '../../../firmware/meter/meter-spec.ts';

describe('parseMeterSpec', () => {
  it('reads sim', () => {
    assert.deepEqual(parseMeterSpec('sim'), { kind: 'sim' });
  });

  it('reads modbus-rtu with every option, and its defaults', () => {
    assert.deepEqual(
      parseMeterSpec(
        'modbus-rtu:/dev/ttyUSB0?baud=19200&parity=none&stopbits=2&databits=7&unit=17&profile=eastron-sdm630&interval=250ms&timeout=2s&retries=3&stale-after=5',
      ),
      {
        kind: 'modbus-rtu',
        path: '/dev/ttyUSB0',
        baudRate: 19200,
        parity: 'none',
        stopBits: 2,
        dataBits: 7,
        unit: 17,
        profile: 'eastron-sdm630',
        intervalMs: 250,
        timeoutMs: 2000,
        retries: 3,
        staleAfter: 5,
      },
    );
    assert.deepEqual(parseMeterSpec('modbus-rtu:/dev/ttyAMA0?profile=/etc/metergate/my%20meter.yaml'), {
      kind: 'modbus-rtu',
      path: '/dev/ttyAMA0',
      baudRate: 9600,
      parity: 'even',
      stopBits: 1,
      dataBits: 8,
      profile: '/etc/metergate/my meter.yaml',
      ...DEFAULT_POLL,
    });
  });

  it('reads modbus-tcp with a name, an IPv4 or a bracketed IPv6 address', () => {
    assert.deepEqual(
      parseMeterSpec('modbus-tcp://meter.local:502?unit=255&profile=metergate&interval=1.5s'),
      {
        kind: 'modbus-tcp',
        host: 'meter.local',
        port: 502,
        ...DEFAULT_POLL,
        unit: 255,
        profile: 'metergate',
        intervalMs: 1500,
      },
    );
    assert.equal(
      (parseMeterSpec('modbus-tcp://192.0.2.10:1502?profile=x') as { host: string }).host,
      '192.0.2.10',
    );
    assert.equal(
      (parseMeterSpec('modbus-tcp://[2001:db8::1]:502?profile=x') as { host: string }).host,
      '2001:db8::1',
    );
  });

  const refusals: [string, RegExp][] = [
    ['modbus', /'modbus' is not a meter source: use 'sim', 'modbus-rtu:/],
    ['modbus-tcp://192.0.2.10?profile=x', /modbus-tcp: '192\.0\.2\.10' must be HOST:PORT/],
    ['modbus-tcp://192.0.2.10:0?profile=x', /port '0' must be 1–65535/],
    ['modbus-tcp://192.0.2.10:70000?profile=x', /port '70000' must be 1–65535/],
    ['modbus-tcp://192.0.2.10:502', /profile=NAME is required/],
    [
      'modbus-tcp://192.0.2.10:502?profile=x&intervall=1s',
      /unknown option 'intervall' \(known: unit, profile/,
    ],
    ['modbus-tcp://192.0.2.10:502?profile=x&baud=9600', /unknown option 'baud'/],
    ['modbus-tcp://192.0.2.10:502?profile=x&profile=y', /option 'profile' given twice/],
    ['modbus-tcp://192.0.2.10:502?profile', /'profile' must be NAME=VALUE/],
    ['modbus-tcp://192.0.2.10:502?profile=x&unit=256', /unit '256' must be a whole number from 0 to 255/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&unit=0', /unit '0' must be a whole number from 1 to 247/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&unit=-1', /unit '-1' must be a whole number/],
    ['modbus-rtu:ttyUSB0?profile=x', /modbus-rtu: 'ttyUSB0' must be the path of a serial device/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&baud=9601', /baud '9601' must be one of 1200, 2400/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&baud=9600.0', /baud '9600\.0' must be one of/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&parity=E', /parity 'E' must be none, even or odd/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&stopbits=1.5', /stopbits '1\.5' must be 1 or 2/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&databits=9', /databits '9' must be 7 or 8/],
    [
      'modbus-rtu:/dev/ttyUSB0?profile=x&interval=5ms',
      /interval '5ms' must be a duration from 10 ms to 3600 s/,
    ],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&interval=1m', /interval '1m' must be a duration/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&timeout=61s', /timeout '61s' must be a duration from 10 ms to 60 s/],
    ['modbus-rtu:/dev/ttyUSB0?profile=x&retries=11', /retries '11' must be a whole number from 0 to 10/],
    [
      'modbus-rtu:/dev/ttyUSB0?profile=x&stale-after=0',
      /stale-after '0' must be a whole number from 1 to 1000/,
    ],
    ['modbus-rtu:/dev/ttyUSB0?profile=%E0%A4%A', /'profile=%E0%A4%A' is not URL-encoded correctly/],
  ];
  for (const [text, message] of refusals) {
    it(`refuses ${text}, naming what is wrong`, () => {
      assert.throws(
        () => parseMeterSpec(text),
        (error: unknown) => {
          assert.ok(error instanceof MeterSpecError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

describe('--meter and --sim on the device command line', () => {
  const parse = (args: string[]) => {
    const options = parseDeviceOptions(args, { isTTY: false, webDir: '/web' });
    return options === 'help' ? assert.fail('not help') : options;
  };

  it('--sim is --meter sim; both together agree', () => {
    assert.deepEqual([parse(['--sim']).meter, parse(['--sim']).sim], [{ kind: 'sim' }, true]);
    assert.deepEqual(parse(['--meter', 'sim']).meter, { kind: 'sim' });
    assert.deepEqual(parse(['--meter', 'sim', '--sim']).meter, { kind: 'sim' });
  });

  it('an upstream meter is not the simulator', () => {
    const options = parse(['--meter', 'modbus-tcp://127.0.0.1:502?profile=eastron-sdm630']);
    assert.equal(options.sim, false);
    assert.equal(options.meter?.kind, 'modbus-tcp');
  });

  it('no source at all is left null, for the process to refuse', () => {
    assert.equal(parse([]).meter, null);
  });

  it('--sim with an upstream meter, or a bad source, is a usage error naming --meter', () => {
    assert.throws(
      () => parse(['--sim', '--meter', 'modbus-tcp://127.0.0.1:502?profile=x']),
      (error: unknown) =>
        error instanceof UsageError && /--sim and --meter modbus-tcp contradict/.test(error.message),
    );
    assert.throws(
      () => parse(['--meter', 'modbus-rtu:/dev/ttyUSB0?profile=x&baud=96000']),
      (error: unknown) =>
        error instanceof UsageError && /^--meter: modbus-rtu: baud '96000'/.test(error.message),
    );
  });
});
