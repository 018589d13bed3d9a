import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ConfigExit, parseConfig, parseDuration } from '../src/cli/flags.js';

const exitOf = (argv: string[]): ConfigExit => {
  try {
    parseConfig(argv, '1.2.3');
  } catch (err) {
    if (err instanceof ConfigExit) return err;
    throw err;
  }
  assert.fail(`${argv.join(' ')} was accepted`);
};

test('defaults follow exporter conventions', () => {
  const c = parseConfig([], '1.2.3');
  assert.equal(c.listenHost, '');
  assert.equal(c.listenPort, 10077);
  assert.equal(c.telemetryPath, '/metrics');
  assert.equal(c.procfs, '/proc');
  assert.equal(c.sysfs, '/sys');
  assert.equal(c.libvirtStatusDir, '/run/libvirt/qemu');
  assert.equal(c.censusIntervalMs, 1000);
  assert.ok(
    c.processPattern.test('qemu-kvm') &&
      c.processPattern.test('qemu-system-x86') &&
      c.processPattern.test('qemu-system-aarch64'),
  );
  assert.ok(!c.processPattern.test('qemu-img') && !c.processPattern.test('bash'));
  assert.ok(Object.isFrozen(c));
});

test('flags take both --flag=value and --flag value', () => {
  const c = parseConfig(
    [
      '--web.listen-address=127.0.0.1:9999',
      '--path.procfs',
      '/host/proc',
      '--census.interval=250ms',
      '--log.format=json',
      '--web.listen-address',
      '[::1]:8080',
    ],
    'v',
  );
  assert.equal(c.listenHost, '::1');
  assert.equal(c.listenPort, 8080);
  assert.equal(c.procfs, '/host/proc');
  assert.equal(c.censusIntervalMs, 250);
  assert.equal(c.logFormat, 'json');
});

test('bad flags and values exit 2 with a one-line reason', () => {
  for (const argv of [
    ['--nope'],
    ['--web.listen-address=10077'],
    ['--web.listen-address=:99999'],
    ['--census.interval=fast'],
    ['--census.interval=1ms'],
    ['--log.level=chatty'],
    ['--log.format=xml'],
    ['--qemu.process-pattern=('],
    ['--web.telemetry-path=metrics'],
    ['positional'],
    ['--census.interval=10s', '--census.peak-window=5s'],
    ['--explain.window=500ms'],
    ['--explain.interval=10m'],
    ['--explain.interval=1ms'],
    ['--explain.pool-busy=0'],
    ['--explain.wait-ratio=1.5'],
    ['--explain.wait-ratio='],
    ['--explain.switch-rate=-1'],
    ['--explain.disk-sleep-ratio=x'],
    ['--explain.disk-latency=slow'],
  ]) {
    const e = exitOf(argv);
    assert.equal(e.code, 2, argv.join(' '));
    assert.ok(!e.message.includes('\n'), `multi-line reason for ${argv.join(' ')}: ${e.message}`);
  }
  assert.match(exitOf(['--census.interval=fast']).message, /census\.interval/);
});

test('explain thresholds are tunable, with documented defaults', () => {
  assert.deepEqual(parseConfig([], 'v').explain, {
    windowMs: 300_000,
    intervalMs: 15_000,
    thresholds: { poolBusy: 8, waitRatio: 0.1, switchRate: 100, diskSleepRatio: 0.5, diskLatencyMs: 20 },
  });
  const c = parseConfig(
    [
      '--explain.window=10m',
      '--explain.interval=30s',
      '--explain.pool-busy=32',
      '--explain.wait-ratio=0.05',
      '--explain.switch-rate=1000',
      '--explain.disk-sleep-ratio=0.25',
      '--explain.disk-latency=50ms',
    ],
    'v',
  );
  assert.deepEqual(c.explain, {
    windowMs: 600_000,
    intervalMs: 30_000,
    thresholds: { poolBusy: 32, waitRatio: 0.05, switchRate: 1000, diskSleepRatio: 0.25, diskLatencyMs: 50 },
  });
});

test('--help and --version exit 0', () => {
  assert.equal(exitOf(['--help']).code, 0);
  assert.match(exitOf(['--help']).message, /--web\.listen-address/);
  assert.match(exitOf(['--version']).message, /1\.2\.3/);
});

test('durations', () => {
  assert.equal(parseDuration('1s'), 1000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1'), undefined);
  assert.equal(parseDuration('s'), undefined);
});

test('the CLI prints a reason and exits 2 on a bad flag, 0 on --version', () => {
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--bogus'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^qemu-thread-exporter: .*bogus/m);
  const ver = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--version'], { encoding: 'utf8' });
  assert.equal(ver.status, 0);
  assert.match(ver.stdout, /^qemu-thread-exporter \d+\.\d+\.\d+/);
});
