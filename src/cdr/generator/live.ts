/**
 * Live mode: calls happen now, in real time, and each CDR row is INSERTed when Asterisk
 * would insert it (when its party A hangs up), with calldate = the start of its leg. So a
 * call's rows trickle in over its lifetime, out of calldate order, exactly what the sync
 * loop must cope with. Time comes from the database's NOW(), never from Node's time zone.
 */
import type { Pool } from '../../db/pool.js';
import { ident } from '../../db/pool.js';
import { naiveSeconds } from '../row.js';
import { channelEvents } from './channel-events.js';
import { AsteriskCounters } from './counters.js';
import { countersAfterTable, insertRows, type CdrTarget } from './insert.js';
import type { CallLabel, ScenarioName } from './label.js';
import type { GeneratedRow } from './legs.js';
import { demoPbx, type PbxModel } from './pbx.js';
import { Rng } from './random.js';
import { SCENARIOS, type GeneratedCall, type ScenarioInput } from './scenarios.js';
import { materialise, TrafficMix, type PlannedCall } from './traffic.js';

/** The PBX's wall clock as naive epoch seconds: the DB's NOW() once, then Node's monotonic clock. */
export interface DbClock {
  now(): number;
}

export async function dbClock(pool: Pool): Promise<DbClock> {
  const [rows] = await pool.query("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now");
  const base = naiveSeconds(String((rows as { now: string }[])[0]!.now));
  const anchor = performance.now();
  return { now: () => base + (performance.now() - anchor) / 1000 };
}

const counters = new WeakMap<Pool, Map<string, Promise<AsteriskCounters>>>();

/** One set of Asterisk counters per table and process, continuing after the rows already there. */
function sharedCounters(target: CdrTarget): Promise<AsteriskCounters> {
  let perTable = counters.get(target.pool);
  if (!perTable) counters.set(target.pool, (perTable = new Map()));
  const key = `${ident(target.cdrDb)}.${ident(target.cdrTable ?? 'cdr')}`;
  let shared = perTable.get(key);
  if (!shared) {
    shared = countersAfterTable(target).then((start) => new AsteriskCounters(start));
    perTable.set(key, shared);
  }
  return shared;
}

/** Timers and INSERTs of rows still to come; stop() cancels the timers and waits for the INSERTs. */
class RowScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inserts = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly target: CdrTarget,
    private readonly clock: DbClock,
    private readonly onError: (err: unknown) => void,
    private readonly onChannelEvent?: ChannelEventSink,
  ) {}

  /** Resolves when the call's last row is in the table. */
  schedule(rows: GeneratedRow[]): Promise<void> {
    // Scheduled first, so at one instant the AMI event goes out before the row's INSERT: the
    // sync must then wait for the row, the harder order of the two.
    const sink = this.onChannelEvent;
    if (sink) for (const e of channelEvents(rows)) this.at(e.at, async () => sink(e.event, e.fields)).catch(() => {});
    const byArrival = new Map<number, GeneratedRow[]>();
    for (const row of rows) {
      const group = byArrival.get(row.arrival) ?? [];
      group.push(row);
      byArrival.set(row.arrival, group);
    }
    const groups = [...byArrival.entries()].sort((a, b) => a[0] - b[0]);
    return Promise.all(groups.map(([arrival, group]) => this.at(arrival, () => insertRows(this.target, group.sort((a, b) => a.sequence - b.sequence))))).then(() => {});
  }

  /** Runs work when the DB clock reaches `when`. */
  at(when: number, work: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(new Error('live traffic stopped'));
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const run = work().catch((err: unknown) => {
          this.onError(err);
          throw err;
        });
        const tracked = run.finally(() => this.inserts.delete(tracked)).catch(() => {});
        this.inserts.add(tracked);
        run.then(resolve, reject);
      }, Math.max(0, (when - this.clock.now()) * 1000));
      this.timers.add(timer);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.inserts);
  }
}

/** Where a generated call's AMI call events go (the stand-in AMI's emitCall). */
export type ChannelEventSink = (event: string, fields: Record<string, string>) => void;

export interface LiveOptions extends CdrTarget {
  model?: PbxModel;
  seed: number;
  callsPerMinute: number;
  /** Told about each call as it starts, with the truth about it. */
  onCall?: (label: CallLabel) => void;
  onError?: (err: unknown) => void;
  /** Also raise the calls' AMI events (Newchannel, Hangup) as Asterisk would, alongside the rows. */
  onChannelEvent?: ChannelEventSink;
}

export interface LiveTraffic {
  /** No new calls; rows not yet due are dropped, INSERTs under way finish. */
  stop(): Promise<void>;
}

/**
 * Calls arrive at random (Poisson) at callsPerMinute, any time of day; misses get
 * callbacks and repeat calls a few minutes later, so clears can be watched live too.
 */
export function startLiveTraffic(options: LiveOptions): LiveTraffic {
  const model = options.model ?? demoPbx();
  const rng = new Rng(options.seed);
  const gaps = rng.fork();
  const callRng = rng.fork();
  const mix = new TrafficMix(model, rng.fork(), { alwaysOpen: true, followUpDelay: (r) => r.int(20, 240) });
  const onError = options.onError ?? ((err: unknown) => console.error('live traffic:', err));
  let scheduler: RowScheduler | null = null;
  let stopped = false;
  let nextCall: NodeJS.Timeout | null = null;

  const ready = (async () => {
    const clock = await dbClock(options.pool);
    const ids = await sharedCounters(options);
    scheduler = new RowScheduler(options, clock, onError, options.onChannelEvent);
    return { clock, ids, scheduler };
  })();

  const place = async (plan: PlannedCall): Promise<void> => {
    const { ids, scheduler } = await ready;
    const call = materialise(model, plan, callRng, ids);
    for (const label of [call.label, ...call.extraLabels]) options.onCall?.(label);
    scheduler.schedule(call.rows).catch(() => {});
    for (const later of mix.followUps(call)) scheduler.at(later.at, () => place(later)).catch(() => {});
  };

  const arrive = (): void => {
    nextCall = setTimeout(() => {
      if (stopped) return;
      void ready
        .then(({ clock }) => place(mix.fresh(Math.floor(clock.now()))))
        .catch(onError)
        .finally(() => {
          if (!stopped) arrive();
        });
    }, gaps.exponential(60_000 / options.callsPerMinute));
  };
  ready.then(() => {
    if (!stopped) arrive();
  }, onError);

  return {
    async stop() {
      stopped = true;
      if (nextCall) clearTimeout(nextCall);
      await ready.catch(() => {});
      await (scheduler as RowScheduler | null)?.stop();
    },
  };
}

export interface ScenarioNowOptions extends CdrTarget {
  scenario: ScenarioName;
  model?: PbxModel;
  seed?: number;
  /** Fixes what the scenario would otherwise draw: caller, DID, who dials, talk time… */
  input?: Partial<Omit<ScenarioInput, 'model' | 'rng' | 'start' | 'ids'>>;
  onChannelEvent?: ChannelEventSink;
}

export interface ScenarioNow {
  label: CallLabel;
  /** Calls with their own linkedid the scenario made too (an attended transfer's consultation). */
  extraLabels: CallLabel[];
  rows: GeneratedRow[];
  /** Resolves when the call's last row has been INSERTed (at its real-time arrival). */
  inserted: Promise<void>;
}

/** Plays one chosen scenario starting now: for detector and UI tests that need one known call. */
export async function insertScenarioNow(options: ScenarioNowOptions): Promise<ScenarioNow> {
  const clock = await dbClock(options.pool);
  const ids = await sharedCounters(options);
  const model = options.model ?? demoPbx();
  const call: GeneratedCall = SCENARIOS[options.scenario]({
    model, rng: new Rng(options.seed ?? 1), start: Math.floor(clock.now()), ids, ...options.input,
  });
  const scheduler = new RowScheduler(options, clock, () => {}, options.onChannelEvent);
  return { label: call.label, extraLabels: call.extraLabels, rows: call.rows, inserted: scheduler.schedule(call.rows) };
}
