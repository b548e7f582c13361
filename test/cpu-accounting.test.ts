import assert from 'node:assert/strict';
import { test } from 'node:test';
import { costPerHour, cpuSecondsOfStat, median, type CostPhase } from '../src/bench/cpu-accounting.js';

// A mariadbd line of /proc/<pid>/stat (Linux 6.x): utime 4711 and stime 289 ticks.
const MARIADB_STAT =
  '12345 (mariadbd) S 1 12345 12345 0 -1 4194560 51234 0 12 0 4711 289 0 0 20 0 38 0 987654 1912340480 52000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 3 0 0 0 0 0 0 0 0 0 0';

test('CPU seconds of a process are its utime and stime from /proc/<pid>/stat, in clock ticks', () => {
  assert.equal(cpuSecondsOfStat(MARIADB_STAT, 100), 50);
  assert.equal(cpuSecondsOfStat(MARIADB_STAT, 250), 20);
});

test('a command name with spaces and parentheses does not shift the fields', () => {
  const odd = MARIADB_STAT.replace('(mariadbd)', '(node ) (smc) x)');
  assert.equal(cpuSecondsOfStat(odd, 100), 50);
});

test('text that is not a stat line is refused rather than read as zero', () => {
  assert.throws(() => cpuSecondsOfStat('', 100), /not a \/proc\/<pid>\/stat line/);
  assert.throws(() => cpuSecondsOfStat('1 (x) S 1', 100), /no utime\/stime/);
});

const phase = (p: Partial<CostPhase> & Pick<CostPhase, 'situation' | 'service'>): CostPhase => ({ seconds: 60, mariadbCpu: 0, serviceCpu: 0, calls: 0, rows: 0, ...p });

test('the cost per hour: MariaDB above its background for the CDR inserts, the service plus what MariaDB spends more with it for ours', () => {
  const cost = costPerHour([
    // MariaDB's background: 0.05 CPU-s a minute = 3 CPU-s an hour (median of 0.04, 0.05, 0.5: a noisy window does not count).
    phase({ situation: 'idle', service: false, mariadbCpu: 0.04 }),
    phase({ situation: 'idle', service: false, mariadbCpu: 0.05 }),
    phase({ situation: 'idle', service: false, mariadbCpu: 0.5 }),
    phase({ situation: 'idle', service: true, mariadbCpu: 0.07, serviceCpu: 0.1 }),
    // The burst: 3000 rows in 60 s (180 000 an hour) cost MariaDB 0.65 - 0.05 = 0.6 CPU-s: 36 an hour.
    phase({ situation: 'burst', service: false, mariadbCpu: 0.65, rows: 3000 }),
    phase({ situation: 'burst', service: true, mariadbCpu: 0.95, serviceCpu: 0.3, rows: 3000 }),
    // 20 k a day over 120 s: 24 rows (720 an hour); measured directly, below the background's noise.
    phase({ situation: 'steady', service: false, seconds: 120, mariadbCpu: 0.09, rows: 24 }),
    phase({ situation: 'steady', service: true, seconds: 120, mariadbCpu: 0.2, serviceCpu: 0.4, rows: 24 }),
  ]);
  assert.equal(cost.idle.mariadbWithout, 3);
  assert.equal(cost.idle.ourService, 6);
  assert.equal(cost.idle.ourMariadb, 1.2);
  assert.equal(cost.idle.ours, 7.2);
  assert.equal(cost.idle.percentOfCore, 0.2);
  assert.equal(cost.idle.ratio, null, 'idle has no CDR inserts to compare with');
  assert.deepEqual(cost.idle.windows, { with: 1, without: 3 });

  assert.equal(cost.burst.rowsPerHour, 180_000);
  assert.equal(cost.burst.cdrInserts, 36);
  assert.equal(cost.burst.ours, 18 + 18);
  assert.equal(cost.burst.ratio, 1);

  // The burst's 0.0002 CPU-s a row, times 720 rows an hour.
  assert.equal(cost.steady.rowsPerHour, 720);
  assert.equal(cost.steady.cdrInsertsMeasured, -0.3);
  assert.equal(cost.steady.cdrInserts, 0.14);
  assert.equal(cost.steady.ours, 12 + 3.3);
  assert.equal(cost.steady.ratio, 106.25, '15.3 / 0.144');
});

test('no ratio when the CDR inserts cannot be told from MariaDB\'s background', () => {
  const cost = costPerHour([
    phase({ situation: 'idle', service: false, mariadbCpu: 0.05 }),
    phase({ situation: 'burst', service: false, mariadbCpu: 0.04, rows: 100 }),
    phase({ situation: 'burst', service: true, mariadbCpu: 0.1, serviceCpu: 0.1, rows: 100 }),
  ]);
  assert.equal(cost.burst.ratio, null);
});

test('the median of an even number of windows is the mean of the middle two, so both count', () => {
  assert.equal(median([0.09, 0]), 0.045);
  assert.equal(median([3, 1, 2]), 2);
  assert.ok(Number.isNaN(median([])));
});

test('CDR inserts that cost less than two clock ticks over the burst give no ratio', () => {
  const cost = costPerHour([
    phase({ situation: 'idle', service: false, mariadbCpu: 0.05 }),
    phase({ situation: 'burst', service: false, mariadbCpu: 0.06, rows: 100 }),
    phase({ situation: 'burst', service: true, mariadbCpu: 0.1, serviceCpu: 0.1, rows: 100 }),
    phase({ situation: 'steady', service: false, mariadbCpu: 0.05, rows: 2 }),
    phase({ situation: 'steady', service: true, mariadbCpu: 0.06, serviceCpu: 0.1, rows: 2 }),
  ]);
  assert.equal(cost.burst.ratio, null);
  assert.equal(cost.steady.ratio, null);
});
