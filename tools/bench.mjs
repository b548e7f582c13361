// `npm run bench [-- --quick] [-- --out file] [-- --no-build] [-- --profile] [-- --only latency|pages|cost|group]`: measures the
// quality bars of SPEC §6, each against its own baseline in the same run, on a private
// MariaDB filled by the generator, and writes bench/results.json. The measuring parts
// run in `node build/smc.js bench …` processes; this file lays out the data and times.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { cpus, totalmem, tmpdir, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { loadSchemas, startMariadb } from './mariadb.mjs';
import { freePort, waitForHealth } from './serve-child.mjs';
import { makeHermetic } from './hermetic.mjs';

makeHermetic();

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const quick = flag('--quick');
const out = resolve(option('--out', 'bench/results.json'));
const profileDir = flag('--profile') ? resolve('bench/profiles') : null;
/** Leaves the data directory (MariaDB stopped) for a look at the figures' causes. */
const keep = flag('--keep');
/**
 * `--only latency`: part (3) alone, on an empty history (a few minutes instead of the whole run).
 * `--only pages`: part (4) alone, on its data set (the backfill of (1) grown to the calls and entries of (4)).
 * `--only cost`: part (6) alone, on a history of SIZES.costHistoryRows cdr rows and their backfill.
 * `--only group`: three PBXs writing one ledger into a 3-node Galera cluster: latency, and with a node lost.
 */
const only = option('--only', null);
if (only !== null && !['latency', 'pages', 'cost', 'group'].includes(only)) throw new Error(`--only knows four parts: latency, pages, cost, group (not '${only}')`);
const latencyOnly = only === 'latency';
const pagesOnly = only === 'pages';
const costOnly = only === 'cost';

/**
 * Full: the sizes SPEC §6 names. Quick: the same steps, scaled down to finish in a few minutes.
 * cost: part (6)'s windows in seconds and how many of each situation (without / with smc serve in turn).
 */
const SIZES = quick
  ? {
    backfillRows: 30_000, block: 5_000, largeRows: 100_000, reps: 3, latencyCalls: 12, latencyPerSecond: 4, background: 60, calls: 30_000, entries: 3_000, requests: 5,
    costHistoryRows: 30_000, cost: { idle: 10, steady: 15, burst: 10, burstTail: 5, gap: 2, warmup: 3, groups: 2 },
  }
  : {
    backfillRows: 1_000_000, block: 100_000, largeRows: 10_000_000, reps: 11, latencyCalls: 300, latencyPerSecond: 2, background: 120, calls: 1_000_000, entries: 100_000, requests: 50,
    costHistoryRows: 100_000, cost: { idle: 60, steady: 120, burst: 60, burstTail: 20, gap: 5, warmup: 10, groups: 4 },
  };

/** The bars, from SPEC §6 and issue 17 (the PBX's cost of us: below its own CDR inserts', under 1 % of a core idle). */
const GOALS = { backfillSpeedRatio: 0.5, cycleCostRatio: 1.2, latencyP95Seconds: 1, apiP95Ms: 200, serveRssMb: 150, idlePercentOfCore: 1, costRatio: 1 };

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const log = (line) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

if (!flag('--no-build')) {
  log('building');
  execFileSync(process.execPath, ['tools/build.mjs'], { stdio: 'inherit' });
}
if (!existsSync('build/smc.js')) throw new Error('build/smc.js is missing: run `node tools/build.mjs` (or drop --no-build)');
// `--only group`: a group of PBXs on a Galera cluster, a setup of its own (tools/bench-group.mjs).
if (only === 'group') process.exit(await (await import('./bench-group.mjs')).runGroupBench({ quick, out, keep, log }));

const dir = mkdtempSync(join(tmpdir(), 'smc-bench-'));
/** @type {import('./mariadb.mjs').Mariadb | null} */
let db = null;
/** @type {import('node:child_process').ChildProcess | null} */
let serve = null;
let code = 1;
try {
  const started = Date.now();
  db = await startMariadb({ dir, log });
  const root = await mysql.createConnection({ socketPath: db.socket, user: 'root', dateStrings: true });
  const secret = randomBytes(24).toString('hex');
  const port = await freePort();
  // smc serve's AMI: the latency part plays it (a stand-in raising the calls' events) for one run and leaves it away for the other.
  const ami = { port: await freePort(), secret: randomBytes(12).toString('hex') };
  const setups = {
    backfill: await setup(db.socket, 'bf', { secret, port }, ami),
    ...(only !== null ? {} : {
      small: await setup(db.socket, 'small', { secret, port }),
      large: await setup(db.socket, 'large', { secret, port }),
    }),
  };
  const [[{ version, today, yesterday }]] = await root.query('SELECT VERSION() AS version, CURDATE() AS today, CURDATE() - INTERVAL 1 DAY AS yesterday');
  const results = {
    mode: quick ? 'quick' : 'full',
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), kernel: release(),
      node: process.version, mariadb: version, mariadbBufferPool: '256M',
    },
    sizes: SIZES,
    backfill: /** @type {Record<string, unknown>} */ ({}),
    cycle: /** @type {Record<string, unknown>} */ ({}),
    latency: /** @type {Record<string, unknown>} */ ({}),
    api: /** @type {Record<string, unknown>} */ ({}),
    memory: /** @type {Record<string, unknown>} */ ({}),
    cost: /** @type {Record<string, any>} */ ({}),
    goals: /** @type {{ name: string, value: number, goal: string, met: boolean }[]} */ ([]),
    seconds: 0,
  };

  if (!latencyOnly && !costOnly) {
    // (1) Backfill vs a bare GROUP BY linkedid over the same rows.
    log(`(1) generating ${SIZES.backfillRows} cdr rows ending ${yesterday}`);
    const fill = smcJson(setups.backfill, ['bench', 'fill', '--table', 'cdr', '--rows', String(SIZES.backfillRows), '--last-day', yesterday]);
    const since = `${fill.from} 00:00:00`;
    const until = `${today} 00:00:00`;
    if (pagesOnly) {
      log(`(4) backfill of ${fill.rows} rows, untimed: the calls and entries to grow`);
      smcJson(setups.backfill, ['bench', 'backfill', '--since', since, '--until', until]);
    } else {
      const scan = async () => {
        const t = performance.now();
        const [rows] = await root.query(
          `SELECT linkedid, COUNT(*) AS n, MIN(calldate) AS first FROM ${setups.backfill.names.cdr}.cdr WHERE calldate >= ? AND calldate < ? GROUP BY linkedid`,
          [since, until],
        );
        return { seconds: (performance.now() - t) / 1000, calls: rows.length };
      };
      const scanCpu = serverCpuSeconds(db);
      const scans = [await scan()];
      const scanServerCpu = serverCpuSeconds(db) - scanCpu;
      log(`(1) backfill of ${fill.rows} rows`);
      const backfillCpu = serverCpuSeconds(db);
      const bf = smcJson(setups.backfill, ['bench', 'backfill', '--since', since, '--until', until]);
      const backfillServerCpu = serverCpuSeconds(db) - backfillCpu;
      scans.push(await scan(), await scan());
      const scanSeconds = median(scans.map((s) => s.seconds));
      results.backfill = {
        rows: bf.rows, calls: bf.calls, generatedRowsPerSecond: fill.rowsPerSecond,
        backfillSeconds: bf.seconds, backfillRowsPerSecond: bf.rowsPerSecond,
        bareScanSeconds: round(scanSeconds, 2), bareScanRowsPerSecond: Math.round(bf.rows / scanSeconds),
        speedRatio: round(scanSeconds / bf.seconds, 3), peakRssMb: bf.peakRssMb,
        // Where the time goes: CPU seconds of each side, against the cores there are.
        cpuSeconds: { backfillNode: bf.cpuSeconds, backfillMariadb: round(backfillServerCpu, 2), scanMariadb: round(scanServerCpu, 2), cores: cpus().length },
      };
      save(results);

      // (2) One sync cycle with a small and a large cdr table, the same newest rows in both.
      log(`(2) generating a block of ${SIZES.block} rows ending ${today}`);
      await root.query(`CREATE TABLE ${setups.small.names.cdr}.cdr_block LIKE ${setups.small.names.cdr}.cdr`);
      smcJson(setups.small, ['bench', 'fill', '--table', 'cdr_block', '--rows', String(SIZES.block), '--last-day', today, '--seed', '5']);
      await root.query(`CREATE TABLE ${setups.large.names.cdr}.cdr_block LIKE ${setups.large.names.cdr}.cdr`);
      await root.query(`INSERT INTO ${setups.large.names.cdr}.cdr_block SELECT * FROM ${setups.small.names.cdr}.cdr_block`);
      log(`(2) copying the block back in time up to ${SIZES.largeRows} rows`);
      const history = smcJson(setups.large, ['bench', 'history', '--block', 'cdr_block', '--rows', String(SIZES.largeRows)]);
      // One process times both in turn (the same MariaDB), so machine drift weighs on both alike;
      // it first waits for InnoDB to finish with the copies above.
      log(`(2) cycles on ${SIZES.block} and ${history.rows + SIZES.block} cdr rows in turn`);
      const cycle = smcJson(setups.small, ['bench', 'cycle', '--block', 'cdr_block', '--reps', String(SIZES.reps), '--against', setups.large.file]);
      const { base: small, against: large } = cycle;
      results.cycle = {
        historyRowsPerSecond: history.rowsPerSecond, innodbQuiet: cycle.quiet,
        small: { cdrRows: small.cdrRows, medianMs: small.medianMs, samples: small.samples },
        large: { cdrRows: large.cdrRows, medianMs: large.medianMs, samples: large.samples },
        costRatio: round(large.medianMs / small.medianMs, 3), peakRssMb: cycle.peakRssMb,
      };
      save(results);
    }

    // (4)'s data: the backfilled calls and entries, copied back in time up to the target sizes.
    log(`(4) growing the list to ${SIZES.calls} calls and ${SIZES.entries} entries`);
    await inflate(root, setups.backfill.names.own, fill);
    // The copies went in by plain SQL, past the ledger that keeps the dashboard's rollups.
    smcJson(setups.backfill, ['bench', 'rollups']);
  }

  if (!costOnly) {
    // (3) and (4) against one running `smc serve`, whose memory is watched throughout.
    log(`(${pagesOnly ? 4 : 3}) starting smc serve`);
    const serveLog = openSync(join(dir, 'serve.log'), 'a');
    serve = spawn(process.execPath, [...nodeFlags(), 'build/smc.js', '--config', setups.backfill.file, 'serve'], { stdio: ['ignore', serveLog, serveLog] });
    closeSync(serveLog);
    const url = `http://127.0.0.1:${port}`;
    await waitForHealth(url, serve, setups.backfill.file, 30);
    const rss = watchRss(/** @type {number} */ (serve.pid));
    if (!pagesOnly) {
      const latencyArgs = ['bench', 'latency', '--url', url, '--calls', String(SIZES.latencyCalls), '--per-second', String(SIZES.latencyPerSecond), '--background', String(SIZES.background)];
      log(`(3) ${SIZES.latencyCalls} missed calls, live traffic alongside, the PBX's AMI raising their call events`);
      const withAmi = smcJson(setups.backfill, [...latencyArgs, '--ami']);
      // The stand-in is gone now: serve's AMI connection was lost, as when Asterisk stops or AMI is off.
      log(`(3) ${SIZES.latencyCalls} missed calls again, AMI away (the sync polls)`);
      const polling = smcJson(setups.backfill, latencyArgs);
      results.latency = { ami: withAmi.seconds, polling: polling.seconds, hotWindowRead: withAmi.hotWindowRead, intervalSeconds: 1, settleSeconds: 2 };
      save(results);
    }
    if (!latencyOnly) {
      log('(4) timing the dashboard and the list');
      const year = `from=${addDays(today, -364)}&to=${today}`;
      // The search twice: part of a number (searched as text) and a caller's whole number as a person
      // types it (the generator's callers are Romanian: +40 7xx… is 07xx… at home).
      const [[{ caller }]] = await root.query(`SELECT caller FROM ${setups.backfill.names.own}.smart_missed_calls WHERE caller LIKE '+%' ORDER BY id LIMIT 1`);
      const wholeNumber = encodeURIComponent(`0${String(caller).slice(3)}`);
      const paths = [
        '/api/dashboard', `/api/dashboard?${year}`, '/api/entries', '/api/entries?status=all', '/api/entries?status=all&q=0722',
        `/api/entries?status=all&q=${wholeNumber}`, '/dashboard', '/entries',
      ];
      const api = smcJson(setups.backfill, ['bench', 'api', '--url', url, '--requests', String(SIZES.requests), ...paths]);
      const [[sizes]] = await root.query(
        `SELECT (SELECT COUNT(*) FROM ${setups.backfill.names.own}.smart_missed_calls_calls) AS calls, (SELECT COUNT(*) FROM ${setups.backfill.names.own}.smart_missed_calls) AS entries`,
      );
      // The year again with a callback target in business hours: the within-target share then
      // counts every entry of the year (docs/team.md). First with the notifier kept from storing
      // the entries' due times, so the page places every entry on the business clock itself (as
      // right after a change of the targets, and as before migration 19): the baseline. Then
      // with the due times stored, as the service runs: one aggregate.
      const own = setups.backfill.names.own;
      const releaseNotifyLock = await holdNotifyLock(root, own);
      await root.query(
        `INSERT INTO ${own}.smart_missed_calls_settings (pbx, tenant, settings, updated_at, updated_by) VALUES ('local', 'default', ?, NOW(), 'bench')
          ON DUPLICATE KEY UPDATE settings = JSON_MERGE_PATCH(settings, VALUES(settings))`,
        [JSON.stringify({ callbackTargetMinutes: 15, businessHours: 'mon-fri 09:00-17:00' })],
      );
      const yearPath = `/api/dashboard?${year}`;
      const placed = smcJson(setups.backfill, ['bench', 'api', '--url', url, '--requests', String(SIZES.requests), yearPath]);
      await releaseNotifyLock();
      const storing = Date.now();
      for (;;) {
        const [[{ stale }]] = await root.query(`SELECT COUNT(*) AS stale FROM ${own}.smart_missed_calls WHERE target_key = 0`);
        if (Number(stale) === 0) break;
        if (Date.now() - storing > 600_000) throw new Error(`the notifier had not stored the due times of ${stale} entries after 10 min`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      log(`(4) the notifier stored every entry's due time in ${((Date.now() - storing) / 1000).toFixed(0)} s`);
      const targeted = smcJson(setups.backfill, ['bench', 'api', '--url', url, '--requests', String(SIZES.requests), yearPath]);
      // The baseline is not a route of the goal: it is the moment after a change of the targets.
      results.api = {
        calls: Number(sizes.calls), entries: Number(sizes.entries),
        ms: { ...api.ms, [`${yearPath} (target set)`]: targeted.ms[yearPath] },
        targetBaseline: { path: `${yearPath} (target set)`, ms: placed.ms[yearPath], dueStoredSeconds: Math.round((Date.now() - storing) / 1000) },
      };
    }

    // (5) Peak RSS of smc serve over (3) and (4); the CLI parts' own peaks for comparison.
    results.memory = only !== null
      ? { servePeakRssMb: rss.stop() }
      : { servePeakRssMb: rss.stop(), backfillPeakRssMb: results.backfill.peakRssMb, cyclePeakRssMb: results.cycle.peakRssMb };
    serve.kill('SIGTERM');
    await new Promise((r) => serve?.once('exit', r));
    serve = null;
    save(results);
  }

  if (only === null || costOnly) {
    // (6) What we cost the PBX: its own `smc serve` (started and stopped by the part, the AMI
    // stand-in beside it) against MariaDB's work for the CDR inserts, the same traffic in turn.
    // Its own PBX and ledger (with --only cost, the one part's), so the other parts' recent
    // calls are not in its hot window: a history of SIZES.costHistoryRows cdr rows, backfilled.
    const costSetup = costOnly ? setups.backfill : await setup(db.socket, 'cost', { secret, port }, ami);
    log(`(6) generating ${SIZES.costHistoryRows} cdr rows ending ${yesterday} and their backfill (untimed)`);
    const costFill = smcJson(costSetup, ['bench', 'fill', '--table', 'cdr', '--rows', String(SIZES.costHistoryRows), '--last-day', yesterday]);
    smcJson(costSetup, ['bench', 'backfill', '--since', `${costFill.from} 00:00:00`, '--until', `${today} 00:00:00`]);
    const c = SIZES.cost;
    log(`(6) the PBX's cost of us: ${c.groups} windows each of idle ${c.idle} s, 20 k calls/day ${c.steady} s, burst ${c.burst} + ${c.burstTail} s, without and with smc serve in turn`);
    const serverPid = readFileSync(join(db.dir, 'mariadb.pid'), 'utf8').trim();
    results.cost = smcJson(costSetup, [
      'bench', 'cost', '--server-pid', serverPid, '--idle', String(c.idle), '--steady', String(c.steady), '--burst', String(c.burst),
      '--burst-tail', String(c.burstTail), '--gap', String(c.gap), '--warmup', String(c.warmup), '--groups', String(c.groups), '--serve-log', join(dir, 'serve.log'),
    ]);
    save(results);
  }

  const latency = only === null || latencyOnly ? [latencyGoal(results.latency)] : [];
  const api = only === null || pagesOnly ? [apiGoal(results.api)] : [];
  const cost = only === null || costOnly ? costGoals(results.cost) : [];
  results.goals = only === null ? [
    goal('backfill speed vs bare GROUP BY scan', results.backfill.speedRatio, `>= ${GOALS.backfillSpeedRatio}`, results.backfill.speedRatio >= GOALS.backfillSpeedRatio),
    goal('sync cycle cost, large/small cdr', results.cycle.costRatio, `<= ${GOALS.cycleCostRatio}`, results.cycle.costRatio <= GOALS.cycleCostRatio),
    ...latency,
    ...api,
    goal('smc serve peak RSS (MB)', results.memory.servePeakRssMb, `<= ${GOALS.serveRssMb}`, results.memory.servePeakRssMb <= GOALS.serveRssMb),
    ...cost,
  ] : [...latency, ...api, ...cost];
  results.seconds = Math.round((Date.now() - started) / 1000);
  save(results);
  printTable(results);
  log(`wrote ${out}`);
  await root.end();
  code = 0;
} catch (err) {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  if (existsSync(join(dir, 'serve.log'))) console.error(`smc serve log:\n${readFileSync(join(dir, 'serve.log'), 'utf8').split('\n').slice(-20).join('\n')}`);
} finally {
  if (serve) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve?.once('exit', r));
  }
  try {
    await db?.stop();
  } finally {
    if (keep) log(`data kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(code);

/**
 * The PBX's databases and ours for one part, and a config.yaml pointing at them.
 * @param {string} socket
 * @param {string} tag
 * @param {{ secret: string, port: number }} server
 * @param {{ port: number, secret: string }} [ami] where smc serve finds the PBX's AMI
 */
async function setup(socket, tag, server, ami) {
  const names = { cdr: `bench_${tag}_cdr`, own: `bench_${tag}_pbx` };
  await loadSchemas(socket, { cdrDb: names.cdr, pbxDb: names.own });
  const file = join(dir, `${tag}.yaml`);
  writeFileSync(
    file,
    [
      'db:',
      `  socket: ${socket}`,
      '  user: root',
      `  database: ${names.own}`,
      `  cdr_database: ${names.cdr}`,
      `  pbx_database: ${names.own}`,
      'server:',
      `  listen: 127.0.0.1:${server.port}`,
      `  secret: ${server.secret}`,
      'mail:',
      '  transport: none',
      ...(ami ? ['ami:', '  host: 127.0.0.1', `  port: ${ami.port}`, '  user: smc-bench', `  secret: ${ami.secret}`] : []),
      '',
    ].join('\n'),
  );
  const setupResult = { names, file };
  execFileSync(process.execPath, ['build/smc.js', '--config', file, 'migrate'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return setupResult;
}

/**
 * Writes what is measured so far: a part that fails or a run cut short keeps the parts before it.
 * @param {object} results
 */
function save(results) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
}

/** `--profile` writes a CPU profile of every smc process into bench/profiles/. */
function nodeFlags() {
  return profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
}

/**
 * Runs `node build/smc.js --config <setup> …` and returns the JSON line it printed.
 * @param {{ file: string }} s
 * @param {string[]} smcArgs
 */
function smcJson(s, smcArgs) {
  const stdout = execFileSync(process.execPath, [...nodeFlags(), 'build/smc.js', '--config', s.file, ...smcArgs], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
}

/**
 * The backfilled calls and entries copied back in time, one data span per copy, until
 * the tables hold SIZES.calls and SIZES.entries: a PBX with that much history.
 * @param {import('mysql2/promise').Connection} root
 * @param {string} own
 * @param {{ from: string, to: string }} fill
 */
async function inflate(root, own, fill) {
  const spanDays = Math.round((Date.parse(fill.to) - Date.parse(fill.from)) / 86_400_000) + 1;
  const plans = [
    { table: 'smart_missed_calls_calls', target: SIZES.calls, key: 'linkedid', times: ['started_at', 'ended_at', 'classified_at'], skip: [] },
    { table: 'smart_missed_calls', target: SIZES.entries, key: 'caller_key', times: ['first_attempt', 'last_attempt', 'created_at', 'updated_at', 'cleared_at', 'last_callback_at', 'target_due'], skip: ['id'] },
  ];
  for (const plan of plans) {
    const [cols] = await root.query('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [own, plan.table]);
    const columns = cols.map((r) => r.c).filter((c) => !plan.skip.includes(c));
    const [[{ n: originals }]] = await root.query(`SELECT COUNT(*) AS n FROM ${own}.${plan.table}`);
    if (Number(originals) === 0) throw new Error(`${own}.${plan.table} is empty after the backfill`);
    for (let k = 1, have = Number(originals); have < plan.target; k++) {
      const select = columns.map((c) => {
        if (c === plan.key) return `CONCAT(${c}, '-', ${k})`;
        if (plan.times.includes(c)) return `${c} - INTERVAL ${k * spanDays} DAY`;
        return c;
      });
      const [res] = await root.query(
        `INSERT INTO ${own}.${plan.table} (${columns.join(', ')}) SELECT ${select.join(', ')} FROM ${own}.${plan.table} WHERE ${plan.key} NOT LIKE '%-%' LIMIT ${plan.target - have}`,
      );
      have += res.affectedRows;
    }
  }
  await root.query(`ANALYZE TABLE ${own}.smart_missed_calls_calls, ${own}.smart_missed_calls`);
}

/**
 * Takes the running service's notify lock (src/db/named-lock.ts names it) from it, as another
 * instance would after its connection died: its notifier then stands by, and stores no due
 * times, until the returned function releases the lock.
 * @param {import('mysql2/promise').Connection} root
 * @param {string} database  the ledger's
 * @returns {Promise<() => Promise<unknown>>}
 */
async function holdNotifyLock(root, database) {
  const name = `smc.notify.${database}`;
  if (name.length > 64) throw new Error(`the notify lock of ${database} is named by a hash: give the bench a shorter database name`);
  for (let tries = 0; tries < 20; tries++) {
    const [[{ holder }]] = await root.query('SELECT IS_USED_LOCK(?) AS holder', [name]);
    if (holder !== null) await root.query(`KILL ${Number(holder)}`).catch(() => {});
    const [[{ got }]] = await root.query('SELECT GET_LOCK(?, 1) AS got', [name]);
    if (Number(got) === 1) return () => root.query('SELECT RELEASE_LOCK(?)', [name]);
  }
  throw new Error(`could not take ${name} from the running service`);
}

/**
 * CPU seconds (user + system, all threads) the MariaDB server has used so far.
 * @param {import('./mariadb.mjs').Mariadb} server
 */
function serverCpuSeconds(server) {
  const pid = readFileSync(join(server.dir, 'mariadb.pid'), 'utf8').trim();
  // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * The kernel's high-water mark of the process's resident memory (VmHWM), read at stop().
 * @param {number} pid
 */
function watchRss(pid) {
  const read = () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : NaN;
  };
  read();
  return { stop: read };
}

/**
 * @param {string} name
 * @param {number} value
 * @param {string} target
 * @param {boolean} met
 */
function goal(name, value, target, met) {
  return { name, value, goal: target, met };
}

/**
 * The bar is met with the PBX's AMI events; every call must be seen with them and without.
 * @param {any} latency
 */
function latencyGoal(latency) {
  const met = latency.ami.p95 <= GOALS.latencyP95Seconds && latency.ami.unseen === 0 && latency.polling.unseen === 0;
  return goal('detection latency p95, AMI events (s)', latency.ami.p95, `<= ${GOALS.latencyP95Seconds}`, met);
}

/**
 * The worst route's p95 against the bar.
 * @param {any} api
 */
function apiGoal(api) {
  const worst = Math.max(...Object.values(api.ms).map((/** @type {any} */ m) => m.p95));
  return goal('dashboard/list p95, worst route (ms)', worst, `<= ${GOALS.apiP95Ms}`, worst <= GOALS.apiP95Ms);
}

/**
 * Idle under 1 % of one core; with traffic, ours (service + the MariaDB work we cause) below
 * MariaDB's work for the PBX's own CDR inserts of the same traffic (the ratio; none when the
 * inserts could not be told from MariaDB's background).
 * @param {any} cost
 */
function costGoals(cost) {
  const idle = cost.perHour.idle.percentOfCore;
  /** @param {string} name @param {any} s */
  const ratio = (name, s) => goal(name, s.ratio ?? NaN, `< ${GOALS.costRatio}`, s.ratio !== null && s.ratio < GOALS.costRatio);
  return [
    goal('PBX cost idle, ours (% of one core)', idle, `< ${GOALS.idlePercentOfCore}`, idle < GOALS.idlePercentOfCore),
    ratio('PBX cost 20 k calls/day, ours / CDR inserts', cost.perHour.steady),
    ratio('PBX cost burst 10 calls/s, ours / CDR inserts', cost.perHour.burst),
  ];
}

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * @param {number} x
 * @param {number} [digits]
 */
function round(x, digits = 1) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * @param {string} day
 * @param {number} n
 */
function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** @param {any} r */
function printTable(r) {
  const head = `Smart Missed Calls bench (${r.mode}${only ? `, ${only} only` : ''}), ${r.machine.cores} x ${r.machine.cpu}, ${r.machine.memoryGb} GB, Node ${r.machine.node}, MariaDB ${r.machine.mariadb}`;
  const goals = r.goals.map((/** @type {any} */ g) => `${g.met ? 'met    ' : 'NOT MET'}  ${g.name.padEnd(46)} ${String(g.value).padStart(9)}  goal ${g.goal}`);
  if (costOnly) {
    process.stdout.write([head, '', ...costLines(r.cost), '', ...goals, '', `${r.seconds} s in all`].join('\n') + '\n');
    return;
  }
  if (latencyOnly) {
    const lines = [head, '', ...latencyLines(r.latency), `(5) memory       smc serve peak RSS ${r.memory.servePeakRssMb} MB`, '', ...goals, '', `${r.seconds} s in all`];
    process.stdout.write(lines.join('\n') + '\n');
    return;
  }
  const pages = [
    `(4) pages/API    ${r.api.calls} calls, ${r.api.entries} entries:`,
    ...Object.entries(r.api.ms).map(([path, m]) => `      ${path.padEnd(44)} p50 ${String(m.p50).padStart(7)} ms  p95 ${String(m.p95).padStart(7)} ms`),
    ...(r.api.targetBaseline
      ? [
        `      the same before the due times were stored (baseline) p50 ${r.api.targetBaseline.ms.p50} ms  p95 ${r.api.targetBaseline.ms.p95} ms`,
        `      stored / baseline: p50 ${round(r.api.ms[r.api.targetBaseline.path].p50 / r.api.targetBaseline.ms.p50, 2)}, p95 ${round(r.api.ms[r.api.targetBaseline.path].p95 / r.api.targetBaseline.ms.p95, 2)}; the notifier stored them in ${r.api.targetBaseline.dueStoredSeconds} s`,
      ]
      : []),
  ];
  if (pagesOnly) {
    const lines = [head, '', ...pages, `(5) memory       smc serve peak RSS ${r.memory.servePeakRssMb} MB`, '', ...goals, '', `${r.seconds} s in all`];
    process.stdout.write(lines.join('\n') + '\n');
    return;
  }
  const lines = [
    head,
    '',
    `(1) backfill     ${r.backfill.rows} rows / ${r.backfill.calls} calls in ${r.backfill.backfillSeconds} s (${r.backfill.backfillRowsPerSecond} rows/s); bare GROUP BY scan ${r.backfill.bareScanSeconds} s (${r.backfill.bareScanRowsPerSecond} rows/s)`,
    `                 CPU: backfill node ${r.backfill.cpuSeconds.backfillNode} s + MariaDB ${r.backfill.cpuSeconds.backfillMariadb} s on ${r.backfill.cpuSeconds.cores} cores; scan MariaDB ${r.backfill.cpuSeconds.scanMariadb} s`,
    `(2) sync cycle   ${r.cycle.small.cdrRows} cdr rows: ${r.cycle.small.medianMs} ms; ${r.cycle.large.cdrRows} cdr rows: ${r.cycle.large.medianMs} ms (see + classify the newest minute, median of ${r.cycle.small.samples.length}, the two in turn)`,
    ...latencyLines(r.latency),
    ...pages,
    `(5) memory       smc serve peak RSS ${r.memory.servePeakRssMb} MB (backfill ${r.memory.backfillPeakRssMb} MB, cycle ${r.memory.cyclePeakRssMb} MB)`,
    ...costLines(r.cost),
    '',
    ...goals,
    '',
    `${r.seconds} s in all`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/**
 * Part (6): CPU-seconds per hour of each side, how it was measured and how it was scaled.
 * @param {any} c
 */
function costLines(c) {
  const h = c.history;
  const d = c.durations;
  const p = c.perHour;
  // null: a figure that could not be told from the clock ticks (JSON has no NaN).
  const n = (/** @type {number | null} */ x) => (x === null ? 'n/a' : x.toFixed(1)).padStart(6);
  /** @param {string} name @param {any} s @param {string} cdr */
  const row = (name, s, cdr) => `                 ${name.padEnd(17)} ${n(s.ourService)} + ${n(s.ourMariadb)} = ${n(s.ours)} (${s.percentOfCore.toFixed(2).padStart(5)} % of a core)  ${cdr}`;
  const cdr = (/** @type {any} */ s) => `${n(s.cdrInserts)}  ${String(s.ratio ?? 'n/a').padStart(7)}`;
  return [
    `(6) PBX cost     CPU-s per hour. ours = smc serve + what MariaDB spends more with it; CDR inserts = what MariaDB spends on the PBX's own rows`,
    `                 history ${h.traffic.cdrRows} cdr rows, ${h.traffic.calls} calls, ${h.traffic.entries} entries; AMI stand-in connected; hot window ${h.idle.hotWindowRows} rows idle, ${h.traffic.hotWindowRows} before the traffic`,
    `                 situation          serve + MariaDB =   ours                       CDR inserts  ours/CDR`,
    row('idle', p.idle, `     -        -    (MariaDB's own background: ${p.idle.mariadbWithout.toFixed(1)})`),
    row('20 k calls/day', p.steady, cdr(p.steady)),
    row('burst 10 calls/s', p.burst, cdr(p.burst)),
    `                 measured at the real rates (${c.rates.steadyCallsPerSecond} and ${c.rates.burstCallsPerSecond} calls/s, one INSERT per CDR row), windows of idle ${d.idleSeconds} s, 20 k/day ${d.steadySeconds} s,` +
      ` burst ${d.burstSeconds} s of calls + ${d.burstTailSeconds} s; ${p.idle.windows.with} of each with smc serve, ${p.idle.windows.without} without, in turn;`,
    `                 per hour = a window's CPU x 3600 / its seconds, median of the windows; CDR inserts at 20 k/day = the burst's MariaDB CPU per row`,
    `                 x ${p.steady.rowsPerHour} rows/h (measured directly: ${p.steady.cdrInsertsMeasured}, within MariaDB's background noise)`,
  ];
}

/** @param {any} l */
function latencyLines(l) {
  /** @param {any} s */
  const row = (s) => `${s.n} missed calls: p50 ${s.p50} s, p95 ${s.p95} s, p99 ${s.p99} s, max ${s.max} s, unseen ${s.unseen}`;
  return [
    `(3) latency      AMI events: ${row(l.ami)}`,
    `                 polling:    ${row(l.polling)} (AMI away: interval ${l.intervalSeconds} s, settle ${l.settleSeconds} s)`,
    `                 a wake-up's read of the hot window: ${l.hotWindowRead.rows} cdr rows, p50 ${l.hotWindowRead.p50Ms} ms, max ${l.hotWindowRead.maxMs} ms`,
  ];
}
