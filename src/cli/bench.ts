import type { Command } from 'commander';
import { timeEndpoints } from '../bench/api-timing.js';
import { writeHistory } from '../bench/copies.js';
import { compareCycleCost } from '../bench/cycle-cost.js';
import { fillCdr } from '../bench/fill.js';
import { SignedClient } from '../bench/http.js';
import { startFakeAmi } from '../cdr/generator/ami-server.js';
import { measureLatency, timeHotWindowRead } from '../bench/latency.js';
import { measurePbxCost } from '../bench/pbx-cost.js';
import { cpuSeconds, peakRssMb, round } from '../bench/stats.js';
import { recountRollups } from '../ledger/rollup.js';
import { backfill } from '../sync/backfill.js';
import { openApp, openAppAt, type App } from './context.js';

/**
 * The measuring parts of `npm run bench` (tools/bench.mjs drives them, each in its own
 * process so its peak memory is its own). Every subcommand prints one JSON line.
 */
export function register(program: Command): void {
  const bench = program.command('bench').description('benchmark parts, driven by `npm run bench` (test and demo databases only)');

  bench
    .command('fill')
    .description('write generated CDR traffic ending on a given day into a table')
    .requiredOption('--table <name>', 'table in the CDR database')
    .requiredOption('--rows <n>', 'about this many rows', Number)
    .requiredOption('--last-day <date>', 'YYYY-MM-DD of the newest traffic')
    .option('--calls-per-day <n>', 'first attempts on a weekday', Number, 2000)
    .option('--seed <n>', 'generator seed', Number, 9)
    .action((opts: { table: string; rows: number; lastDay: string; callsPerDay: number; seed: number }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const s = await fillCdr({ pool: app.cdrPool, cdrDb: app.config.db.cdrDatabase, cdrTable: opts.table, rows: opts.rows, lastDay: opts.lastDay, callsPerDay: opts.callsPerDay, seed: opts.seed });
        return { rows: s.rows, calls: s.calls, from: s.from, to: s.to, seconds: round(s.seconds), rowsPerSecond: s.rowsPerSecond };
      }),
    );

  bench
    .command('backfill')
    .description('time `smc backfill` over a range')
    .requiredOption('--since <date>', 'start')
    .requiredOption('--until <date>', 'end')
    .action((opts: { since: string; until: string }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const t = performance.now();
        const done = await backfill(app.pools, app.config, { since: opts.since, until: opts.until, chunkSeconds: 86_400 });
        const seconds = (performance.now() - t) / 1000;
        return { ...done, seconds: round(seconds, 2), rowsPerSecond: Math.round(done.rows / seconds), peakRssMb: peakRssMb(), cpuSeconds: cpuSeconds() };
      }),
    );

  bench
    .command('rollups')
    .description('count the dashboard rollups again from the calls rows, after calls were copied in bulk')
    .action((_opts: object, cmd: Command) =>
      withApp(cmd, async (app) => {
        const t = performance.now();
        await recountRollups(app.ledgerPool);
        return { seconds: round((performance.now() - t) / 1000, 1) };
      }),
    );

  bench
    .command('history')
    .description('copy a block of CDR rows into cdr, again and again further back in time, until cdr holds a given number of rows')
    .requiredOption('--block <table>', 'table in the CDR database holding the generated block')
    .requiredOption('--rows <n>', 'stop once cdr holds this many rows (the final, newest copy is laid by `bench cycle`)', Number)
    .action((opts: { block: string; rows: number }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const t = performance.now();
        const rows = await writeHistory({ pool: app.ledgerPool, cdrDb: app.config.db.cdrDatabase, cdrTable: app.config.db.cdrTable, blockTable: opts.block }, opts.rows);
        const seconds = (performance.now() - t) / 1000;
        return { rows, seconds: round(seconds, 1), rowsPerSecond: Math.round(rows / seconds) };
      }),
    );

  bench
    .command('cycle')
    .description('time sync cycles as new rows arrive, on this setup and another in the same MariaDB in turn, the block laid into both cdr tables so that it ends now')
    .requiredOption('--block <table>', 'table in each CDR database holding the same generated block')
    .requiredOption('--against <config>', "the other setup's config file (same MariaDB server, e.g. a larger cdr table)")
    .option('--reps <n>', 'new minutes to time', Number, 3)
    .action((opts: { block: string; against: string; reps: number }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const other = openAppAt(opts.against);
        try {
          return await compareCycleCost(
            { pool: app.ledgerPool, config: app.config, blockTable: opts.block },
            { pool: other.ledgerPool, config: other.config, blockTable: opts.block },
            opts.reps,
            (line) => process.stderr.write(`[smc bench cycle] ${line}\n`),
          );
        } finally {
          await other.close();
        }
      }),
    );

  bench
    .command('latency')
    .description('time from a missed call\'s last CDR row to its entry on the event stream of a running `smc serve`')
    .requiredOption('--url <url>', 'where smc serve listens, http://127.0.0.1:port')
    .option('--calls <n>', 'missed calls to time', Number, 200)
    .option('--per-second <n>', 'missed calls started per second', Number, 2)
    .option('--background <n>', 'other live calls per minute', Number, 120)
    .option('--ami', "play the PBX's AMI too: a stand-in on the config's ami.port raises every call's Newchannel / Hangup; without it, serve's AMI connection finds nobody and the sync polls")
    .action((opts: { url: string; calls: number; perSecond: number; background: number; ami?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const client = new SignedClient(opts.url, app.config.server.secret);
        const ami = opts.ami ? await startFakeAmi({ user: app.config.ami.user, secret: app.config.ami.secret, port: app.config.ami.port }) : null;
        try {
          if (ami) {
            process.stderr.write('[smc bench latency] waiting for smc serve to log in to the AMI stand-in\n');
            await ami.callListener();
          }
          const latency = await measureLatency({
            pool: app.ledgerPool, cdrPool: app.cdrPool, cdrDb: app.config.db.cdrDatabase, client, calls: opts.calls, perSecond: opts.perSecond,
            backgroundPerMinute: opts.background, timeoutMs: 60_000, onChannelEvent: ami ? (event, fields) => ami.emitCall(event, fields) : undefined,
          });
          return { seconds: latency, hotWindowRead: await timeHotWindowRead(app.cdrPool, app.config, 20) };
        } finally {
          await ami?.close();
        }
      }),
    );

  bench
    .command('cost')
    .description("what we cost the PBX: CPU of `smc serve` and of the MariaDB work it causes, idle, at 20 k calls/day and in a burst of 10 calls/s, next to the PBX's own CDR inserts of the same traffic")
    .requiredOption('--server-pid <pid>', "the MariaDB server's process id (read from /proc)", Number)
    .option('--idle <s>', 'seconds of each idle window', Number, 60)
    .option('--steady <s>', 'seconds of each 20 k calls/day window', Number, 120)
    .option('--burst <s>', 'seconds the burst starts calls', Number, 60)
    .option('--burst-tail <s>', 'seconds the burst window runs on after its last call started', Number, 20)
    .option('--gap <s>', 'unmeasured seconds after each window', Number, 5)
    .option('--warmup <s>', 'seconds after smc serve logged in to the AMI before its first window', Number, 10)
    .option('--groups <n>', 'windows of each situation, without and with smc serve in turn (A B B A …)', Number, 4)
    .option('--serve-log <file>', "where smc serve's log goes")
    .action((opts: { serverPid: number; idle: number; steady: number; burst: number; burstTail: number; gap: number; warmup: number; groups: number; serveLog?: string }, cmd: Command) =>
      withApp(cmd, async (app) =>
        measurePbxCost({
          pool: app.ledgerPool, config: app.config, configFile: cmd.optsWithGlobals<{ config: string }>().config, serverPid: opts.serverPid,
          node: { execPath: process.execPath, execArgv: process.execArgv, script: process.argv[1]! },
          durations: { idleSeconds: opts.idle, steadySeconds: opts.steady, burstSeconds: opts.burst, burstTailSeconds: opts.burstTail, gapSeconds: opts.gap, warmupSeconds: opts.warmup },
          groups: opts.groups, serveLog: opts.serveLog, log: (line) => process.stderr.write(`[smc bench cost] ${line}\n`),
        }),
      ),
    );

  bench
    .command('api')
    .description('response times of pages and API routes of a running `smc serve`')
    .requiredOption('--url <url>', 'where smc serve listens')
    .option('--requests <n>', 'timed requests per path', Number, 50)
    .argument('<paths...>', 'paths to time, e.g. /api/dashboard')
    .action((paths: string[], opts: { url: string; requests: number }, cmd: Command) =>
      withApp(cmd, async (app) => ({ ms: await timeEndpoints(new SignedClient(opts.url, app.config.server.secret), paths, opts.requests) })),
    );
}

async function withApp(cmd: Command, work: (app: App) => Promise<object>): Promise<void> {
  const app = openApp(cmd);
  try {
    process.stdout.write(JSON.stringify(await work(app)) + '\n');
  } finally {
    await app.close();
  }
}
