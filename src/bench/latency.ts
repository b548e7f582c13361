import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { ScenarioName } from '../cdr/generator/label.js';
import { insertScenarioNow, startLiveTraffic, type ChannelEventSink } from '../cdr/generator/live.js';
import { readWindow } from '../cdr/reader.js';
import { naiveDatetime, naiveSeconds } from '../cdr/row.js';
import type { Config } from '../config/schema.js';
import type { SignedClient } from './http.js';
import { percentile, round } from './stats.js';

export interface LatencyOptions {
  /** Our tables, where the calls' entries are looked up. */
  pool: Pool;
  /** The PBX's CDR server, where the calls are written; a group member's is not the ledger's. Default: pool. */
  cdrPool?: Pool;
  cdrDb: string;
  client: SignedClient;
  /** Missed calls to time. */
  calls: number;
  /** How many of them start each second. */
  perSecond: number;
  /** Other live traffic meanwhile (answered calls, callbacks, internal calls), per minute. */
  backgroundPerMinute: number;
  /** Give up on calls not seen this long after their last row. */
  timeoutMs: number;
  /** The stand-in AMI's emitCall, when the PBX is to raise its call events too. */
  onChannelEvent?: ChannelEventSink;
}

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Missed calls whose entry never appeared within the timeout. */
  unseen: number;
}

/** Missed by the team every time, and over within half a minute (a ring group may ring for one). */
const MISSED: ScenarioName[] = ['queue_missed', 'direct_missed', 'direct_busy'];

/**
 * Detection latency as a user sees it: from the INSERT of a missed call's root CDR row (the
 * caller's, written last, as the caller hangs up) to the moment the service's event stream
 * (/api/events, what the page listens to) says its entry changed. Background calls keep the
 * sync busy meanwhile. With onChannelEvent every call, background ones too, raises its AMI
 * Newchannel / Hangup events as Asterisk would, alongside the rows.
 */
export async function measureLatency(options: LatencyOptions): Promise<Latency> {
  const insertedAt = new Map<string, number>();
  const waiting = new Set<string>();
  const samples: number[] = [];
  const stream = new AbortController();
  const events = await options.client.get('/api/events', stream.signal);
  const watching = watchChanges(events, async (at) => {
    const ids = [...waiting].filter((id) => insertedAt.has(id));
    if (ids.length === 0) return;
    const [rows] = await options.pool.query<RowDataPacket[]>(
      // This PBX's: in a group, another PBX's generated calls may carry the same linkedids.
      "SELECT linkedid FROM smart_missed_calls_calls WHERE tenant = 'default' AND pbx = @smc_pbx AND verdict = 'missed' AND linkedid IN (?)",
      [ids],
    );
    for (const r of rows) {
      const id = String(r.linkedid);
      if (!waiting.delete(id)) continue;
      samples.push((at - insertedAt.get(id)!) / 1000);
    }
  });

  const onChannelEvent = options.onChannelEvent;
  const cdrPool = options.cdrPool ?? options.pool;
  const background = startLiveTraffic({ pool: cdrPool, cdrDb: options.cdrDb, seed: 77, callsPerMinute: options.backgroundPerMinute, onChannelEvent });
  const inserts: Promise<void>[] = [];
  try {
    for (let i = 0; i < options.calls; i++) {
      const call = await insertScenarioNow({ pool: cdrPool, cdrDb: options.cdrDb, scenario: MISSED[i % MISSED.length]!, seed: 1000 + i, onChannelEvent });
      if (!call.label.missed) continue;
      waiting.add(call.label.linkedid);
      inserts.push(call.inserted.then(() => void insertedAt.set(call.label.linkedid, performance.now())));
      await sleep(1000 / options.perSecond);
    }
    await Promise.all(inserts);
    const deadline = performance.now() + options.timeoutMs;
    while (waiting.size > 0 && performance.now() < deadline) await sleep(100);
  } finally {
    await background.stop();
    stream.abort();
    await watching.catch(() => {});
  }
  const at = (p: number) => round(percentile(samples, p), 2);
  return { n: samples.length, p50: at(50), p95: at(95), p99: at(99), max: round(Math.max(...samples), 2), unseen: waiting.size };
}

/**
 * What a wake-up cycle reads: the hot window of cdr (the same statement as the sync's),
 * timed `times` over, read-only beside the running service.
 */
export async function timeHotWindowRead(pool: Pool, config: Config, times: number): Promise<{ rows: number; p50Ms: number; maxMs: number }> {
  const [[{ now }]] = (await pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const since = naiveDatetime(naiveSeconds(now) - config.sync.hotWindowSeconds);
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    rows = (await readWindow(pool, config.db, since, undefined, now)).rows.length;
    ms.push(performance.now() - t);
  }
  return { rows, p50Ms: round(percentile(ms, 50), 2), maxMs: round(Math.max(...ms), 2) };
}

/** Calls back, with the arrival time, on each `changes` event of the server-sent stream. */
async function watchChanges(res: Response, onChange: (at: number) => Promise<void>): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    const at = performance.now();
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (/^event: changes$/m.test(message)) await onChange(at);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
