import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { SensorDriver } from '../../src/sensors/driver.ts';
import { command } from '../../src/sensors/drivers/command.ts';
import { drivers } from '../../src/sensors/registry.ts';
import { driverFromConfig, driverSuite, type MakeFixture } from './driver-suite.ts';
import { fakeSysfs } from './fake-sysfs.ts';
import { startModbusServer } from './modbus-server.ts';

const W1_ID = '28-00000a1b2c3d';
const w1Slave = (crc: 'YES' | 'NO', milli: number) =>
  `72 01 4b 46 7f ff 0e 10 57 : crc=57 ${crc}\n72 01 4b 46 7f ff 0e 10 57 t=${milli}\n`;

const FIXTURES: Record<string, MakeFixture> = {
  simulated: async () => ({
    options: { signal: 'noise', amplitude: 0, offset: 21.5 },
    sysfsRoot: '/nonexistent',
    expected: 21.5,
    cleanup: async () => {},
  }),
  'linux-thermal': async () => {
    const fs = await fakeSysfs({ 'class/thermal/thermal_zone0/temp': '48312\n' });
    return {
      options: {},
      sysfsRoot: fs.root,
      expected: 48.312,
      change: async () => (await fs.write('class/thermal/thermal_zone0/temp', '-5250\n'), -5.25),
      cleanup: fs.remove,
    };
  },
  iio: async () => {
    const dir = 'bus/iio/devices/iio:device0';
    const fs = await fakeSysfs({ [`${dir}/in_voltage0_raw`]: '1024\n', [`${dir}/in_voltage_scale`]: '0.5\n' });
    return {
      options: { channel: 'voltage0' },
      sysfsRoot: fs.root,
      expected: 512,
      change: async () => (await fs.write(`${dir}/in_voltage0_raw`, '2000\n'), 1000),
      cleanup: fs.remove,
    };
  },
  w1: async () => {
    const path = `bus/w1/devices/${W1_ID}/w1_slave`;
    const fs = await fakeSysfs({ [path]: w1Slave('YES', 23125) });
    return {
      options: { device_id: W1_ID },
      sysfsRoot: fs.root,
      expected: 23.125,
      change: async () => (await fs.write(path, w1Slave('YES', -1062)), -1.062),
      cleanup: fs.remove,
    };
  },
  command: async () => {
    // Shaped like `vcgencmd measure_temp`.
    const fs = await fakeSysfs({ 'value.txt': "temp=42.8'C\n" });
    return {
      options: { command: ['cat', 'value.txt'], cwd: fs.root },
      sysfsRoot: fs.root,
      expected: 42.8,
      change: async () => (await fs.write('value.txt', "temp=51.0'C\n"), 51),
      cleanup: fs.remove,
    };
  },
  modbus: async () => {
    // A meter's temperature: int16 tenths of a degree in holding register 100.
    const server = await startModbusServer();
    server.unit(1).holding.set(100, 215);
    return {
      options: { host: '127.0.0.1', port: server.port, address: 100, type: 'int16', scale: 0.1 },
      sysfsRoot: '/nonexistent',
      expected: 21.5,
      change: async () => (server.unit(1).holding.set(100, 0x10000 - 40), -4),
      cleanup: server.close,
    };
  },
};

test('every registered driver runs the driver suite', () => {
  assert.deepEqual(Object.keys(FIXTURES).sort(), drivers().map(([name]) => name).sort());
});

for (const [name] of drivers()) {
  const fixture = FIXTURES[name];
  if (!fixture) continue;
  driverSuite(name, fixture);
}

const live = new AbortController().signal;

type Files = Record<string, string>;

async function sysfsDriver(t: TestContext, driver: string, options: Record<string, unknown>, files: Files) {
  const fs = await fakeSysfs(files);
  const sensor = driverFromConfig(driver, options, fs.root);
  t.after(async () => {
    await sensor.close();
    await fs.remove();
  });
  return { sensor, fs };
}

describe('linux-thermal', () => {
  test('a missing zone is a SENSOR_READ error naming the file and the likely cause', async (t) => {
    const { sensor, fs } = await sysfsDriver(t, 'linux-thermal', { zone: 3 }, {});
    const path = join(fs.root, 'class/thermal/thermal_zone3/temp');
    await assert.rejects(sensor.read(live), (err: Error & { code: string }) => {
      assert.equal(err.code, 'EDGELOOP_ERR_SENSOR_READ');
      assert.ok(err.message.includes(path), err.message);
      assert.match(err.message, /no thermal zone 3/);
      return true;
    });
  });

  test('a file that does not hold a number is a SENSOR_READ error', async (t) => {
    const { sensor } = await sysfsDriver(t, 'linux-thermal', {}, { 'class/thermal/thermal_zone0/temp': '\n' });
    await assert.rejects(sensor.read(live), { code: 'EDGELOOP_ERR_SENSOR_READ', message: /does not hold a number/ });
  });
});

describe('iio', () => {
  const dir = 'bus/iio/devices/iio:device1';

  test('value = (raw + offset) × scale, from the channel’s own scale and offset', async (t) => {
    const { sensor } = await sysfsDriver(
      t,
      'iio',
      { device: 'iio:device1', channel: 'humidityrelative' },
      {
        [`${dir}/in_humidityrelative_raw`]: '1000\n',
        [`${dir}/in_humidityrelative_offset`]: '-500\n',
        [`${dir}/in_humidityrelative_scale`]: '0.5\n',
      },
    );
    assert.equal(await sensor.read(live), 250);
  });

  test('falls back to the type-wide scale, then to scale 1 and offset 0', async (t) => {
    const { sensor: shared } = await sysfsDriver(
      t,
      'iio',
      { device: 'iio:device1', channel: 'temp0' },
      { [`${dir}/in_temp0_raw`]: '100\n', [`${dir}/in_temp_scale`]: '2.5\n', [`${dir}/in_temp_offset`]: '4\n' },
    );
    assert.equal(await shared.read(live), 260);
    const bareFiles = { [`${dir}/in_temp_raw`]: '-7\n' };
    const { sensor: bare } = await sysfsDriver(t, 'iio', { device: 'iio:device1', channel: 'temp' }, bareFiles);
    assert.equal(await bare.read(live), -7);
  });

  test('prefers the channel’s own scale; reads it once and the raw value every time', async (t) => {
    const { sensor, fs } = await sysfsDriver(
      t,
      'iio',
      { device: 'iio:device1', channel: 'voltage0' },
      {
        [`${dir}/in_voltage0_raw`]: '10\n',
        [`${dir}/in_voltage0_scale`]: '2\n',
        [`${dir}/in_voltage_scale`]: '1000\n',
      },
    );
    assert.equal(await sensor.read(live), 20);
    await fs.write(`${dir}/in_voltage0_scale`, '3\n');
    await fs.write(`${dir}/in_voltage0_raw`, '11\n');
    assert.equal(await sensor.read(live), 22);
  });

  test('a missing channel is a SENSOR_READ error naming the file', async (t) => {
    const { sensor, fs } = await sysfsDriver(t, 'iio', { channel: 'pressure' }, {});
    const path = join(fs.root, 'bus/iio/devices/iio:device0/in_pressure_raw');
    await assert.rejects(sensor.read(live), (err: Error & { code: string }) => {
      assert.equal(err.code, 'EDGELOOP_ERR_SENSOR_READ');
      assert.ok(err.message.includes(path), err.message);
      assert.match(err.message, /kernel module loaded/);
      return true;
    });
  });
});

describe('w1', () => {
  const path = `bus/w1/devices/${W1_ID}/w1_slave`;

  test('a CRC failure is a SENSOR_CRC error', async (t) => {
    const { sensor } = await sysfsDriver(t, 'w1', { device_id: W1_ID }, { [path]: w1Slave('NO', 23125) });
    await assert.rejects(sensor.read(live), { code: 'EDGELOOP_ERR_SENSOR_CRC' });
  });

  test('85 °C, the power-on reset value, is a SENSOR_READ error and not a reading', async (t) => {
    const { sensor } = await sysfsDriver(t, 'w1', { device_id: W1_ID }, { [path]: w1Slave('YES', 85000) });
    await assert.rejects(sensor.read(live), { code: 'EDGELOOP_ERR_SENSOR_READ', message: /power-on/ });
  });

  test('a file in another format is a SENSOR_READ error', async (t) => {
    const { sensor } = await sysfsDriver(t, 'w1', { device_id: W1_ID }, { [path]: 'garbage\n' });
    await assert.rejects(sensor.read(live), { code: 'EDGELOOP_ERR_SENSOR_READ', message: /w1_slave format/ });
  });

  test('a missing device is a SENSOR_READ error naming the file, the module and the id', async (t) => {
    const { sensor, fs } = await sysfsDriver(t, 'w1', { device_id: '28-0000deadbeef' }, { [path]: w1Slave('YES', 1) });
    await assert.rejects(sensor.read(live), (err: Error & { code: string }) => {
      assert.equal(err.code, 'EDGELOOP_ERR_SENSOR_READ');
      assert.ok(err.message.includes(join(fs.root, 'bus/w1/devices/28-0000deadbeef/w1_slave')), err.message);
      assert.match(err.message, /w1-therm loaded/);
      assert.match(err.message, /device id right/);
      return true;
    });
  });
});

describe('command', () => {
  const run = (t: TestContext, options: Record<string, unknown>): SensorDriver => {
    const sensor = driverFromConfig('command', options, '/nonexistent');
    t.after(() => sensor.close());
    return sensor;
  };

  /** A FIFO the program writes a pid into: reading it waits until the program is running, with no polling. */
  const pidChannel = async (t: TestContext) => {
    const dir = await mkdtemp(join(tmpdir(), 'edgeloop-cmd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const fifo = join(dir, 'pid');
    execFileSync('mkfifo', [fifo]);
    return { fifo, pid: async () => Number(await readFile(fifo, 'utf8')) };
  };

  /** Alive: exists, is no zombie and is not exiting (PF_EXITING: it has been killed and is past closing its files). */
  const isAlive = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , , , , , flags] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return state !== 'Z' && (Number(flags) & 0x4) === 0;
    } catch {
      return false;
    }
  };

  /** A node program that reports its pid, then runs until killed. */
  const hangs = (fifo: string, prelude = '') => {
    const report = `require('node:fs').writeFileSync(${JSON.stringify(fifo)}, String(process.pid));`;
    return [process.execPath, '-e', `${prelude}${report} setInterval(() => {}, 60000);`];
  };

  test('a hanging program is killed on abort; the read rejects with SENSOR_TIMEOUT', { timeout: 10_000 }, async (t) => {
    const { fifo, pid } = await pidChannel(t);
    const controller = new AbortController();
    const reading = run(t, { command: hangs(fifo) }).read(controller.signal);
    const child = await pid();
    assert.ok(isAlive(child));
    const aborted = performance.now();
    controller.abort();
    await assert.rejects(reading, { code: 'EDGELOOP_ERR_SENSOR_TIMEOUT' });
    assert.ok(performance.now() - aborted < 900, 'SIGTERM should have ended it before the SIGKILL grace');
    assert.equal(isAlive(child), false);
  });

  test('what the program started is killed with it', { timeout: 10_000 }, async (t) => {
    const { fifo, pid } = await pidChannel(t);
    const controller = new AbortController();
    const script = 'sleep 30 & echo $! > "$1"; wait';
    const reading = run(t, { command: ['sh', '-c', script, 'sh', fifo] }).read(controller.signal);
    const grandchild = await pid();
    assert.ok(isAlive(grandchild));
    controller.abort();
    await assert.rejects(reading, { code: 'EDGELOOP_ERR_SENSOR_TIMEOUT' });
    assert.equal(isAlive(grandchild), false);
  });

  test('a program that ignores SIGTERM gets SIGKILL', { timeout: 10_000 }, async (t) => {
    const { fifo, pid } = await pidChannel(t);
    const controller = new AbortController();
    const reading = run(t, { command: hangs(fifo, "process.on('SIGTERM', () => {}); ") }).read(controller.signal);
    const child = await pid();
    controller.abort();
    await assert.rejects(reading, { code: 'EDGELOOP_ERR_SENSOR_TIMEOUT' });
    assert.equal(isAlive(child), false);
  });

  test('close() kills a program still running and waits for it', { timeout: 10_000 }, async (t) => {
    const { fifo, pid } = await pidChannel(t);
    const sensor = run(t, { command: hangs(fifo) });
    const reading = sensor.read(live);
    const child = await pid();
    await sensor.close();
    assert.equal(isAlive(child), false);
    await assert.rejects(reading, { code: 'EDGELOOP_ERR_SENSOR_TIMEOUT' });
  });

  test('pattern picks the number out of its first capture group', async (t) => {
    const sensor = run(t, { command: ['echo', 'sensor 2: rh 45.5 %, 21 C'], pattern: 'rh (\\S+)' });
    assert.equal(await sensor.read(live), 45.5);
  });

  test('output without a match is a SENSOR_READ error', async (t) => {
    await assert.rejects(run(t, { command: ['echo', 'no reading'], pattern: 't=(\\S+)' }).read(live), {
      code: 'EDGELOOP_ERR_SENSOR_READ',
      message: /printed no output matching \/t=\(\\S\+\)\//,
    });
    await assert.rejects(run(t, { command: ['echo', 't= '], pattern: 't=(\\s*)' }).read(live), {
      code: 'EDGELOOP_ERR_SENSOR_READ',
    });
    await assert.rejects(run(t, { command: ['echo', 'offline'] }).read(live), {
      code: 'EDGELOOP_ERR_SENSOR_READ',
      message: /printed no number: "offline\\n"/,
    });
  });

  test('a non-zero exit is a SENSOR_READ error with the first line of stderr', async (t) => {
    const sensor = run(t, { command: ['sh', '-c', 'echo 12; echo "no device on bus 1" >&2; echo more >&2; exit 3'] });
    await assert.rejects(sensor.read(live), (err: Error & { code: string }) => {
      assert.equal(err.code, 'EDGELOOP_ERR_SENSOR_READ');
      assert.match(err.message, /exited with code 3: no device on bus 1$/);
      return true;
    });
  });

  test('output beyond 64 KiB is cut off: the program is killed and the read fails', async (t) => {
    await assert.rejects(run(t, { command: ['yes', '1'] }).read(live), {
      code: 'EDGELOOP_ERR_SENSOR_READ',
      message: /printed over 65536 bytes/,
    });
  });

  test('a program that does not exist is a SENSOR_READ error naming it', async (t) => {
    await assert.rejects(run(t, { command: ['/nonexistent/edgeloop-probe'] }).read(live), {
      code: 'EDGELOOP_ERR_SENSOR_READ',
      message: /\/nonexistent\/edgeloop-probe/,
    });
  });

  test('a pattern that is not a regular expression, or has no capture group, is refused at creation', () => {
    for (const pattern of ['t=(', 't=\\S+']) {
      assert.throws(() => command.create({ command: ['true'], pattern }, { sysfsRoot: '/' }), {
        code: 'EDGELOOP_ERR_CONFIG_INVALID',
      });
    }
  });
});
