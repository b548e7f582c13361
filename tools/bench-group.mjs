// The group part of `npm run bench -- --only group` (tools/bench.mjs): three PBXs, each a CDR
// database on the bench's MariaDB with its own `smc serve` in group mode, writing one ledger
// into a real 3-node Galera cluster (tools/galera.mjs; each service starts on another node).
// Missed calls arrive at every PBX at once, `perSecond` a second each, and each is timed from
// its last CDR row to its entry on that PBX's event stream (`smc bench latency`, with the
// PBX's AMI played by a stand-in); then the same while the node the first PBX uses is killed -9.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { startGaleraCluster } from './galera.mjs';
import { loadSchemas, startMariadb } from './mariadb.mjs';
import { freePort, waitForHealth } from './serve-child.mjs';

const run = promisify(execFile);
const PBXS = 3;
const THROUGHPUT_PBXS = 10;
/** The bar: a miss at any PBX of a group on the list within 5 s (p95), as on one PBX. */
const GOAL_P95_SECONDS = 5;

/**
 * The whole part: a private MariaDB for the PBXs' CDR, the cluster, the runs; writes `out` and
 * prints the figures. Returns the exit code.
 * @param {{ quick: boolean, out: string, keep: boolean, log: (line: string) => void }} o
 */
export async function runGroupBench(o) {
  const dir = mkdtempSync(join(tmpdir(), 'smc-bench-group-'));
  /** @type {import('./mariadb.mjs').Mariadb | null} */
  let db = null;
  const started = Date.now();
  try {
    db = await startMariadb({ dir, log: o.log });
    const group = await groupBench({
      dir, socket: db.socket, secret: randomBytes(24).toString('hex'), freePort,
      calls: o.quick ? 10 : 60, perSecond: 1, background: o.quick ? 10 : 20, log: o.log,
      throughputRows: o.quick ? 2_000 : 20_000, ...(await today(db.socket)),
    });
    const met = group.steady.p95 <= GOAL_P95_SECONDS && group.steady.unseen === 0;
    const results = {
      mode: o.quick ? 'quick' : 'full', date: new Date().toISOString(), machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
      group, goals: [{ name: `group latency p95, ${PBXS} PBXs at ${group.perSecond} call/s each (s)`, value: group.steady.p95, goal: `<= ${GOAL_P95_SECONDS}`, met }],
      seconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(results, null, 2) + '\n');
    const line = (/** @type {any} */ r) => `p50 ${Math.max(...r.perPbx.map((x) => x.p50))} s, p95 ${r.p95} s, max ${r.max} s, unseen ${r.unseen} (per PBX p95: ${r.perPbx.map((x) => x.p95).join(', ')})`;
    console.log([
      `Smart Missed Calls bench (group only), ${results.machine.cores} x ${results.machine.cpu}, Node ${process.version}`, '',
      `(g) group latency, ${PBXS} PBXs x ${group.callsPerPbx} missed calls at ${group.perSecond}/s: ${line(group.steady)}`,
      `(g) a node killed -9 (down ${group.nodeLost.nodeDownSeconds} s, failed over: ${group.nodeLost.failedOver}, rejoined by ${group.nodeLost.rejoinedBy}): ${line(group.nodeLost)}`,
      `(g) throughput into the cluster: one PBX's history ${group.throughput.onePbx.rowsPerSecond} cdr rows/s; ${THROUGHPUT_PBXS} PBXs' at once ${group.throughput.tenPbxs.rowsPerSecond} rows/s in all: ratio ${group.throughput.ratio}; backfills resumed after a deadlock: ${group.throughput.tenPbxs.backfillsResumedAfterDeadlock} (${cpus().length} cores for every process)`, '',
      `${met ? 'met ' : 'MISS'}  ${results.goals[0].name}: ${group.steady.p95} (goal ${results.goals[0].goal})`, '', `${results.seconds} s in all`,
    ].join('\n'));
    o.log(`wrote ${o.out}`);
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    return 1;
  } finally {
    try {
      await db?.stop();
    } finally {
      if (o.keep) o.log(`data kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** @param {string} socket */
async function today(socket) {
  const root = await mysql.createConnection({ socketPath: socket, user: 'root', dateStrings: true });
  try {
    const [[row]] = /** @type {any} */ (await root.query('SELECT CURDATE() AS today, CURDATE() - INTERVAL 1 DAY AS yesterday'));
    return { today: String(row.today), yesterday: String(row.yesterday) };
  } finally {
    await root.end();
  }
}

/**
 * `node build/smc.js --config <file> …`'s JSON line.
 * @param {string} file
 * @param {string[]} args
 */
function smcJson(file, args) {
  return new Promise((resolveJson, reject) => {
    execFile(process.execPath, ['build/smc.js', '--config', file, ...args], { maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`smc ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolveJson(JSON.parse(stdout.trim().split('\n').pop() ?? '{}'));
    });
  });
}

/**
 * @param {{ dir: string, socket: string, secret: string, freePort: () => Promise<number>, calls: number, perSecond: number, background: number, throughputRows: number, today: string, yesterday: string, log: (line: string) => void }} o
 */
async function groupBench(o) {
  const cluster = await startGaleraCluster({ dir: mkdtempSync(join(tmpdir(), 'smc-bench-galera-')), log: o.log });
  /** @type {import('node:child_process').ChildProcess[]} */
  const serves = [];
  try {
    const root = await mysql.createConnection({ socketPath: cluster.nodes[0].socket, user: 'root' });
    await root.query('CREATE DATABASE smc_group DEFAULT CHARACTER SET utf8mb4');
    await root.end();
    /** A PBX of the group: its CDR database, a config starting on node k % 3, migrated. */
    const member = async (/** @type {string} */ id, /** @type {number} */ k) => {
      const names = { cdr: `bench_${id}_cdr`, pbx: `bench_${id}_pbx` };
      await loadSchemas(o.socket, { cdrDb: names.cdr, pbxDb: names.pbx });
      const port = await o.freePort();
      const order = [0, 1, 2].map((i) => cluster.nodes[(i + k) % 3].socket);
      const file = join(o.dir, `${id}.yaml`);
      writeFileSync(file, [
        'db:', `  socket: ${o.socket}`, '  user: root', `  database: ${names.pbx}`, `  cdr_database: ${names.cdr}`, `  pbx_database: ${names.pbx}`,
        `pbx_id: ${id}`,
        'group:', `  nodes: [${order.join(', ')}]`, '  user: root', "  password: ''", '  database: smc_group',
        'server:', `  listen: 127.0.0.1:${port}`, `  secret: ${o.secret}`,
        'mail:', '  transport: none',
        'ami:', '  host: 127.0.0.1', `  port: ${await o.freePort()}`, '  user: smc-bench', `  secret: ${o.secret.slice(0, 16)}`,
        '',
      ].join('\n'));
      execFileSync(process.execPath, ['build/smc.js', '--config', file, 'migrate'], { stdio: ['ignore', 'ignore', 'inherit'] });
      return { file, url: `http://127.0.0.1:${port}`, log: join(o.dir, `${id}-serve.log`) };
    };
    const pbxs = [];
    for (let k = 0; k < PBXS; k++) pbxs.push(await member(`site${k}`, k));
    for (const pbx of pbxs) {
      const out = openSync(pbx.log, 'a');
      serves.push(spawn(process.execPath, ['build/smc.js', '--config', pbx.file, 'serve'], { stdio: ['ignore', out, out] }));
      closeSync(out);
    }
    for (const [k, pbx] of pbxs.entries()) await waitForHealth(pbx.url, serves[k], pbx.file, 60);

    /** Every PBX's missed calls at once; resolves with each one's latency figures. */
    const timeAll = () => Promise.all(pbxs.map(async (pbx) => {
      const { stdout } = await run(process.execPath, [
        'build/smc.js', '--config', pbx.file, 'bench', 'latency', '--url', pbx.url, '--calls', String(o.calls),
        '--per-second', String(o.perSecond), '--background', String(o.background), '--ami',
      ], { maxBuffer: 16 * 2 ** 20, timeout: 15 * 60_000 });
      return JSON.parse(stdout.trim().split('\n').pop() ?? '{}').seconds;
    }));

    o.log(`(g) ${PBXS} PBXs, ${o.calls} missed calls each at ${o.perSecond}/s, ${o.background} other calls a minute each`);
    const steady = await timeAll();

    o.log('(g) the same, with the node the first PBX writes through killed -9 a third of the way in');
    const during = timeAll();
    await new Promise((r) => setTimeout(r, (o.calls / o.perSecond / 3) * 1000));
    const killedAt = performance.now();
    await cluster.kill(0);
    const nodeLost = await during;
    const lostFor = (performance.now() - killedAt) / 1000;
    const failedOver = readFileSync(pbxs[0].log, 'utf8').includes('now using');
    const rejoin = await cluster.start(0);
    for (const s of serves) s.kill('SIGTERM');

    // Throughput: one PBX's history classified into the group's ledger alone, then ten PBXs' at once.
    o.log(`(g) throughput: ${o.throughputRows} cdr rows of history per PBX, one PBX alone, then ${THROUGHPUT_PBXS} at once`);
    const fleet = [];
    for (let k = 0; k <= THROUGHPUT_PBXS; k++) fleet.push(await member(`load${k}`, k));
    const fills = await Promise.all(fleet.map(async (m, k) => smcJson(m.file, ['bench', 'fill', '--table', 'cdr', '--rows', String(o.throughputRows), '--last-day', o.yesterday, '--seed', String(20 + k)])));
    // A backfill that gives up on a conflict (its retries used up) is run again, as an operator
    // would: it resumes after its last committed chunk. How often that was needed is reported.
    let resumed = 0;
    const backfillOf = async (/** @type {{ file: string }} */ m, /** @type {any} */ fill) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await smcJson(m.file, ['bench', 'backfill', '--since', `${fill.from} 00:00:00`, '--until', `${o.today} 00:00:00`]);
        } catch (err) {
          if (attempt >= 5 || !/Deadlock/.test(String(err))) throw err;
          resumed += 1;
        }
      }
    };
    const rowsOf = fills.map((f) => Number(f.rows));
    // Wall time, process start-up included, alike for the one alone and the ten side by side.
    let t = performance.now();
    await backfillOf(fleet[0], fills[0]);
    const aloneSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await Promise.all(fleet.slice(1).map((m, i) => backfillOf(m, fills[i + 1])));
    const togetherSeconds = (performance.now() - t) / 1000;
    const togetherRows = rowsOf.slice(1).reduce((n, r) => n + r, 0);
    const throughput = {
      onePbx: { rows: rowsOf[0], seconds: Math.round(aloneSeconds * 10) / 10, rowsPerSecond: Math.round(rowsOf[0] / aloneSeconds) },
      tenPbxs: { rows: togetherRows, seconds: Math.round(togetherSeconds * 10) / 10, rowsPerSecond: Math.round(togetherRows / togetherSeconds), backfillsResumedAfterDeadlock: resumed },
    };

    const summary = (/** @type {any[]} */ runs) => ({
      perPbx: runs,
      p95: Math.max(...runs.map((r) => r.p95)),
      max: Math.max(...runs.map((r) => r.max)),
      unseen: runs.reduce((n, r) => n + r.unseen, 0),
    });
    return {
      pbxs: PBXS, callsPerPbx: o.calls, perSecond: o.perSecond, steady: summary(steady),
      nodeLost: { ...summary(nodeLost), failedOver, nodeDownSeconds: Math.round(lostFor), rejoinedBy: rejoin },
      throughput: { ...throughput, ratio: Math.round((throughput.tenPbxs.rowsPerSecond / throughput.onePbx.rowsPerSecond) * 100) / 100 },
    };
  } finally {
    for (const s of serves) s.kill('SIGTERM');
    await Promise.all(serves.map((s) => (s.exitCode === null ? new Promise((r) => s.once('exit', r)) : null)));
    await cluster.teardown();
  }
}
