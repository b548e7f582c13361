import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './harness/db.js';

const run = promisify(execFile);

test('`npm run bench -- --quick` measures every quality bar and writes them to a results file', { timeout: 10 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smc-bench-test-'));
  try {
    const out = join(dir, 'results.json');
    // --no-build: the test run has built already, and a rebuild would replace the compiled tests under way.
    const { stdout } = await run(process.execPath, ['tools/bench.mjs', '--quick', '--no-build', '--out', out], {
      cwd: repoRoot(), maxBuffer: 16 * 2 ** 20,
    });
    const results = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(results.mode, 'quick');
    assert.ok(results.backfill.rows > 0 && results.backfill.calls > 0, 'the backfill classified the generated rows');
    assert.ok(Number.isFinite(results.backfill.speedRatio) && results.backfill.speedRatio > 0);
    const cpu = results.backfill.cpuSeconds;
    assert.ok(cpu.backfillNode > 0 && cpu.backfillMariadb > 0 && cpu.scanMariadb >= 0, 'the CPU each side spent is reported');
    assert.ok(results.cycle.large.cdrRows > results.cycle.small.cdrRows, 'the large cdr table is larger');
    assert.ok(Number.isFinite(results.cycle.costRatio) && results.cycle.costRatio > 0);
    assert.ok(results.latency.ami.n > 0, 'missed calls were seen on the event stream, the AMI stand-in raising their events');
    assert.ok(results.latency.polling.n > 0, 'and again with AMI away, the sync polling');
    assert.ok(results.latency.hotWindowRead.rows > 0, "a wake-up's read was timed");
    assert.ok(results.api.calls > 0 && results.api.entries > 0);
    for (const [path, ms] of Object.entries<{ p50: number; p95: number }>(results.api.ms)) {
      assert.ok(ms.p50 > 0 && ms.p95 >= ms.p50, `${path} was timed`);
    }
    const baseline = results.api.targetBaseline;
    assert.ok(baseline.ms.p50 > 0 && results.api.ms[baseline.path].p50 > 0, 'the year with a callback target, before and after the notifier stored the due times');
    assert.match(stdout, /stored \/ baseline: p50 [\d.]+, p95 [\d.]+; the notifier stored them in \d+ s/);
    assert.ok(results.memory.servePeakRssMb > 0);
    const cost = results.cost.perHour;
    for (const situation of ['idle', 'steady', 'burst']) {
      assert.ok(cost[situation].ourService > 0, `smc serve's CPU was read for ${situation}`);
      assert.equal(cost[situation].windows.with, 1, `${situation} was measured with smc serve running`);
      assert.equal(cost[situation].windows.without, 1, 'and without it');
    }
    assert.ok(cost.burst.rowsPerHour > cost.steady.rowsPerHour && cost.steady.rowsPerHour > 0, 'the traffic wrote CDR rows, more in the burst');
    assert.deepEqual(
      results.goals.map((g: { name: string }) => g.name),
      [
        'backfill speed vs bare GROUP BY scan', 'sync cycle cost, large/small cdr', 'detection latency p95, AMI events (s)', 'dashboard/list p95, worst route (ms)', 'smc serve peak RSS (MB)',
        'PBX cost idle, ours (% of one core)', 'PBX cost 20 k calls/day, ours / CDR inserts', 'PBX cost burst 10 calls/s, ours / CDR inserts',
      ],
    );
    for (const g of results.goals) assert.equal(typeof g.met, 'boolean', `${g.name} says whether it is met`);
    assert.match(stdout, /backfill speed vs bare GROUP BY scan .* goal >= 0.5/, 'the table is printed');
    assert.match(stdout, /AMI events: \d+ missed calls: p50 [\d.]+ s, p95 [\d.]+ s, p99/);
    assert.match(stdout, /polling: +\d+ missed calls: p50/);
    assert.match(stdout, /\(6\) PBX cost .*\n.*\n.*\n +idle .*% of a core/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
