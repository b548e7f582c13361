/**
 * "What we cost the PBX": the CPU of `smc serve` (the whole process: sync, notifier, AMI
 * listener, web) and of the MariaDB work it causes, next to what MariaDB spends on the PBX's
 * own CDR inserts of the same traffic, read from /proc in windows with the service running
 * and without it, the same seeded traffic replayed in each.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { startFakeAmi, type FakeAmi } from '../cdr/generator/ami-server.js';
import { channelEvents } from '../cdr/generator/channel-events.js';
import { AsteriskCounters } from '../cdr/generator/counters.js';
import { countersAfterTable, insertRows, type CdrTarget } from '../cdr/generator/insert.js';
import type { GeneratedRow } from '../cdr/generator/legs.js';
import { dbClock, type DbClock } from '../cdr/generator/live.js';
import { demoPbx, type PbxModel } from '../cdr/generator/pbx.js';
import { Rng } from '../cdr/generator/random.js';
import type { GeneratedCall } from '../cdr/generator/scenarios.js';
import { materialise, TrafficMix, type PlannedCall } from '../cdr/generator/traffic.js';
import type { Config } from '../config/schema.js';
import { ident } from '../db/pool.js';
import { Syncer } from '../sync/cycle.js';
import { QUIET_BEFORE_KEY, writeState } from '../sync/state.js';
import { costPerHour, cpuSecondsOfStat, type CostPhase, type Situation, type SituationCost } from './cpu-accounting.js';

/** 20 000 calls a day, spread evenly: 0.23 calls a second. */
export const STEADY_CALLS_PER_SECOND = 20_000 / 86_400;
export const BURST_CALLS_PER_SECOND = 10;

export interface CostDurations {
  idleSeconds: number;
  steadySeconds: number;
  /** Calls start at the burst's rate this long; the window then runs burstTailSeconds more. */
  burstSeconds: number;
  burstTailSeconds: number;
  /** Unmeasured pause after each window: the last rows' cycles and InnoDB's flushing end there. */
  gapSeconds: number;
  /** After `smc serve` started and logged in to the AMI, before its first window. */
  warmupSeconds: number;
}

export interface CostOptions {
  pool: Pool;
  config: Config;
  /** The config file `smc serve` is started with (the bench's setup). */
  configFile: string;
  /** The MariaDB server's process id (the private bench server's). */
  serverPid: number;
  /** How to start `smc serve`: node, its flags (--cpu-prof under --profile) and build/smc.js. */
  node: { execPath: string; execArgv: string[]; script: string };
  durations: CostDurations;
  /** Windows of each situation, without and with the service in turn: A B B A … so drift weighs on both. */
  groups: number;
  /** Where `smc serve`'s log goes (its stderr). */
  serveLog?: string;
  log: (line: string) => void;
}

export interface HistorySizes {
  cdrRows: number;
  calls: number;
  entries: number;
  /** Rows in the sync's hot window as the block began. */
  hotWindowRows: number;
  /** Calls the part wrote before the block, at 20 k calls a day. */
  prefilledCalls: number;
}

export interface PbxCost {
  /** Before the idle windows (the PBX quiet for a quarter of an hour) and before the traffic windows. */
  history: { idle: HistorySizes; traffic: HistorySizes };
  durations: CostDurations;
  groups: number;
  rates: { steadyCallsPerSecond: number; burstCallsPerSecond: number };
  phases: CostPhase[];
  perHour: Record<Situation, SituationCost>;
}

interface Window {
  situation: Situation;
  callsPerSecond: number;
  /** Seconds calls start in; the window itself lasts `seconds`. */
  arrivalSeconds: number;
  seconds: number;
  seed: number;
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
function clockTicks(): number {
  return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
}

export async function measurePbxCost(options: CostOptions): Promise<PbxCost> {
  const { pool, config, durations: d, log } = options;
  const ticks = clockTicks();
  const cpuOf = (pid: number) => cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), ticks);
  const target: CdrTarget = { pool, cdrDb: config.db.cdrDatabase, cdrTable: config.db.cdrTable };
  const model = demoPbx();
  const ids = new AsteriskCounters(await countersAfterTable(target));
  const idle: Window = { situation: 'idle', callsPerSecond: 0, arrivalSeconds: 0, seconds: d.idleSeconds, seed: 0 };
  const steady: Window = { situation: 'steady', callsPerSecond: STEADY_CALLS_PER_SECOND, arrivalSeconds: d.steadySeconds, seconds: d.steadySeconds, seed: 61 };
  const burst: Window = { situation: 'burst', callsPerSecond: BURST_CALLS_PER_SECOND, arrivalSeconds: d.burstSeconds, seconds: d.burstSeconds + d.burstTailSeconds, seed: 62 };

  // A PBX at 20 k calls a day has its last sync.max_call_seconds of calls in cdr, and the
  // ledger has them: what the full scan (every minute) reads at any moment. Idle, it has been
  // quiet for the hot window's length (its calls are all classified); then the traffic resumes.
  const quietSince = (await dbClock(pool)).now() - config.sync.hotWindowSeconds - 60;
  const earlier = await prefill(target, model, ids, config.sync.maxCallSeconds, quietSince, 60);
  log(`${earlier} calls of the ${config.sync.maxCallSeconds / 3600} h before the last ${(config.sync.hotWindowSeconds + 60) / 60} min written to cdr; classifying them`);
  await classifyBacklog(pool, config);
  const idleHistory = await historySizes(pool, config, earlier);

  const ami = await startFakeAmi({ user: config.ami.user, secret: config.ami.secret, port: config.ami.port });
  const phases: CostPhase[] = [];
  try {
    const run = { ...options, ids, model, target, ami, cpuOf, phases };
    await measureBlock(run, idle);
    // The last quarter hour at 20 k calls a day (the hot window every cycle reads), then the traffic.
    const recent = await prefill(target, model, ids, config.sync.hotWindowSeconds + 60, (await dbClock(pool)).now(), 63);
    log(`${recent} calls of the last ${(config.sync.hotWindowSeconds + 60) / 60} min written to cdr; classifying them`);
    await classifyBacklog(pool, config);
    const trafficHistory = await historySizes(pool, config, earlier + recent);
    // 20 k calls a day alone first: the burst's rows would sit in its hot window for a quarter of an hour.
    await measureBlock(run, steady);
    await measureBlock(run, burst);
    return {
      history: { idle: idleHistory, traffic: trafficHistory }, durations: d, groups: options.groups,
      rates: { steadyCallsPerSecond: Math.round(STEADY_CALLS_PER_SECOND * 1000) / 1000, burstCallsPerSecond: BURST_CALLS_PER_SECOND },
      phases, perHour: costPerHour(phases),
    };
  } finally {
    await ami.close();
  }
}

interface Run extends CostOptions {
  ids: AsteriskCounters;
  model: PbxModel;
  target: CdrTarget;
  ami: FakeAmi;
  cpuOf: (pid: number) => number;
  phases: CostPhase[];
}

/**
 * `groups` windows of a situation, without and with the service in turn (A B B A …); the
 * service is stopped at the end (the sync's state is then the database's alone).
 */
async function measureBlock(r: Run, w: Window): Promise<void> {
  const { durations: d, log } = r;
  let serve: RunningServe | null = null;
  try {
    for (let g = 0; g < r.groups; g++) {
      const service = g % 4 === 1 || g % 4 === 2;
      if (service && !serve) {
        serve = startServe(r);
        log('smc serve started; waiting for its AMI login and its first cycles');
        await withTimeout(r.ami.callListener(), 60_000, 'smc serve did not log in to the AMI stand-in within 60 s');
        await sleep(d.warmupSeconds * 1000);
        const pid = serve.pid;
        const settled = await settledCpu(() => r.cpuOf(pid) + r.cpuOf(r.serverPid));
        log(`smc serve and MariaDB settled: ${settled.share} of a core over the last ${SETTLE_SAMPLE_MS / 1000} s (${settled.waitedSeconds} s after the warm-up)`);
      } else if (!service && serve) {
        await serve.stop();
        serve = null;
        await sleep(d.gapSeconds * 1000);
      }
      const phase = await measureWindow(w, { ...r, servePid: serve?.pid ?? null });
      r.phases.push(phase);
      log(
        `${w.situation.padEnd(6)} ${service ? 'with' : 'without'} smc serve: ${phase.seconds} s, ${phase.calls} calls / ${phase.rows} rows; ` +
          `MariaDB ${phase.mariadbCpu.toFixed(2)} CPU-s${service ? `, smc serve ${phase.serviceCpu.toFixed(2)} CPU-s` : ''}`,
      );
      await sleep(d.gapSeconds * 1000);
    }
  } finally {
    await serve?.stop();
  }
}
interface WindowContext {
  target: CdrTarget;
  model: PbxModel;
  ids: AsteriskCounters;
  ami: FakeAmi;
  serverPid: number;
  servePid: number | null;
  cpuOf: (pid: number) => number;
}

/** One window: the situation's traffic replayed as Asterisk writes it, the two processes' CPU read around it. */
async function measureWindow(w: Window, c: WindowContext): Promise<CostPhase> {
  const clock = await dbClock(c.target.pool);
  const start = clock.now() + 0.5;
  const calls = planCalls(c.model, c.ids, { seed: w.seed, start, seconds: w.arrivalSeconds, callsPerSecond: w.callsPerSecond });
  await sleepUntil(clock, start);
  const mariadb0 = c.cpuOf(c.serverPid);
  const serve0 = c.servePid === null ? 0 : c.cpuOf(c.servePid);
  const t0 = performance.now();
  const rows = await replay(c.target, calls, clock, start + w.seconds, (event, fields) => c.ami.emitCall(event, fields));
  await sleepUntil(clock, start + w.seconds);
  const seconds = (performance.now() - t0) / 1000;
  const mariadbCpu = c.cpuOf(c.serverPid) - mariadb0;
  const serviceCpu = c.servePid === null ? 0 : c.cpuOf(c.servePid) - serve0;
  return { situation: w.situation, service: c.servePid !== null, seconds: Math.round(seconds * 10) / 10, mariadbCpu, serviceCpu, calls: calls.length, rows };
}

/** A planned call and where inside its second it starts (calldates are whole seconds; INSERTs are not). */
export interface TimedCall {
  call: GeneratedCall;
  offset: number;
}

/**
 * The calls of a window: first attempts at random (Poisson) at `callsPerSecond` from `start`,
 * and the callbacks and repeat calls they lead to that start inside the window. The same seed
 * gives the same calls (with new ids) whenever it is played: each window of a situation
 * replays the same traffic.
 */
export function planCalls(model: PbxModel, ids: AsteriskCounters, o: { seed: number; start: number; seconds: number; callsPerSecond: number }): TimedCall[] {
  if (o.callsPerSecond <= 0) return [];
  const rng = new Rng(o.seed);
  const gaps = rng.fork();
  const callRng = rng.fork();
  const mix = new TrafficMix(model, rng.fork(), { alwaysOpen: true, followUpDelay: (r) => r.int(20, 240) });
  const end = o.start + o.seconds;
  const planned: { plan: PlannedCall; offset: number }[] = [];
  for (let t = o.start + gaps.exponential(1 / o.callsPerSecond); t < end; t += gaps.exponential(1 / o.callsPerSecond)) {
    planned.push({ plan: mix.fresh(Math.floor(t)), offset: t - Math.floor(t) });
  }
  const calls: TimedCall[] = [];
  for (let i = 0; i < planned.length; i++) {
    const { plan, offset } = planned[i]!;
    const call = materialise(model, plan, callRng, ids);
    calls.push({ call, offset });
    for (const later of mix.followUps(call)) {
      if (later.at >= end) continue;
      // Kept in start order, so ids are handed out as one Asterisk would.
      const at = planned.findIndex((p, j) => j > i && p.plan.at > later.at);
      planned.splice(at < 0 ? planned.length : at, 0, { plan: later, offset });
    }
  }
  return calls;
}

/**
 * Plays calls as Asterisk does with cdr_adaptive_odbc: each CDR row one INSERT of its own
 * (autocommit) when its party A hangs up, and each channel's AMI Newchannel / Hangup at its
 * moment. Rows due after `until` are left out. Resolves with the rows written.
 */
async function replay(target: CdrTarget, calls: TimedCall[], clock: DbClock, until: number, emit: (event: string, fields: Record<string, string>) => void): Promise<number> {
  type Action = { at: number; row?: GeneratedRow; event?: { event: string; fields: Record<string, string> } };
  const actions: Action[] = [];
  for (const { call, offset } of calls) {
    for (const e of channelEvents(call.rows)) if (e.at + offset < until) actions.push({ at: e.at + offset, event: e });
    for (const row of call.rows) if (row.arrival + offset < until) actions.push({ at: row.arrival + offset, row });
  }
  // Stable: at one instant the AMI event goes out before the row's INSERT, as the latency part plays it.
  actions.sort((a, b) => a.at - b.at);
  const inserts: Promise<void>[] = [];
  for (const action of actions) {
    await sleepUntil(clock, action.at);
    if (action.row) inserts.push(insertRows(target, [action.row]));
    else if (action.event) emit(action.event.event, action.event.fields);
  }
  await Promise.all(inserts);
  return inserts.length;
}

/** `seconds` of traffic at 20 k calls a day up to `end`, the rows due by then written at once (in bulk: this is history). */
async function prefill(target: CdrTarget, model: PbxModel, ids: AsteriskCounters, seconds: number, end: number, seed: number): Promise<number> {
  const calls = planCalls(model, ids, { seed, start: end - seconds, seconds, callsPerSecond: STEADY_CALLS_PER_SECOND });
  const rows: GeneratedRow[] = calls.flatMap((c) => c.call.rows).filter((r) => r.arrival < end);
  for (let i = 0; i < rows.length; i += 1000) await insertRows(target, rows.slice(i, i + 1000));
  return calls.length;
}

/**
 * The sync's own cycles over what is there, before any window: the service starts from a
 * ledger that is up to date. These calls are the past, told about long ago on a running PBX:
 * marked as over before the install (what install does with the PBX's history), they leave
 * the notifier nothing to do at the service's start that a running PBX's would not have.
 */
async function classifyBacklog(pool: Pool, config: Config): Promise<void> {
  const [[{ now }]] = (await pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
  await writeState(pool, { [QUIET_BEFORE_KEY]: now });
  const syncer = new Syncer(pool, config);
  await syncer.prepare();
  await syncer.cycle();
  await sleep((config.sync.settleSeconds + 1) * 1000);
  await syncer.cycle();
}

async function historySizes(pool: Pool, config: Config, prefilledCalls: number): Promise<HistorySizes> {
  const cdr = `${ident(config.db.cdrDatabase)}.${ident(config.db.cdrTable)}`;
  const [[sizes]] = (await pool.query<RowDataPacket[]>(
    `SELECT (SELECT COUNT(*) FROM ${cdr}) AS cdrRows,
            (SELECT COUNT(*) FROM ${cdr} WHERE calldate >= NOW() - INTERVAL ? SECOND) AS hotWindowRows,
            (SELECT COUNT(*) FROM smart_missed_calls_calls) AS calls,
            (SELECT COUNT(*) FROM smart_missed_calls) AS entries`,
    [config.sync.hotWindowSeconds],
  )) as unknown as [[Record<string, number>]];
  return { cdrRows: Number(sizes!.cdrRows), calls: Number(sizes!.calls), entries: Number(sizes!.entries), hotWindowRows: Number(sizes!.hotWindowRows), prefilledCalls };
}

interface RunningServe {
  pid: number;
  stop(): Promise<void>;
}

function startServe(o: CostOptions): RunningServe {
  const logFd = o.serveLog ? openSync(o.serveLog, 'a') : 'ignore';
  const child: ChildProcess = spawn(o.node.execPath, [...o.node.execArgv, o.node.script, '--config', o.configFile, 'serve'], { stdio: ['ignore', logFd, logFd] });
  if (typeof logFd === 'number') closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid === undefined) throw new Error('smc serve did not start');
  return {
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const SETTLE_SAMPLE_MS = 3000;
const SETTLE_MAX_MS = 120_000;
/** Start-up work is over once both processes together use less than this share of a core. */
const SETTLED_SHARE = 0.1;

/**
 * Waits until the service's start-up work and what it leaves MariaDB to do are over (its first
 * full scan, the notifier's first pass, InnoDB's purge of them…): two samples in a row whose
 * CPU (`cpu`: both processes') differs by less than a tenth of their own or 1 % of a core, under
 * SETTLED_SHARE of a core.
 */
async function settledCpu(cpu: () => number): Promise<{ share: string; waitedSeconds: number }> {
  const t0 = performance.now();
  const sample = async () => {
    const before = cpu();
    await sleep(SETTLE_SAMPLE_MS);
    return (cpu() - before) / (SETTLE_SAMPLE_MS / 1000);
  };
  let last = await sample();
  for (;;) {
    const next = await sample();
    const steady = Math.abs(next - last) <= Math.max(0.1 * Math.max(next, last), 0.01);
    if ((steady && next < SETTLED_SHARE) || performance.now() - t0 > SETTLE_MAX_MS) {
      return { share: `${(next * 100).toFixed(1)} %`, waitedSeconds: Math.round((performance.now() - t0) / 1000) };
    }
    last = next;
  }
}

async function sleepUntil(clock: DbClock, at: number): Promise<void> {
  const ms = (at - clock.now()) * 1000;
  if (ms > 0) await sleep(ms);
}

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
