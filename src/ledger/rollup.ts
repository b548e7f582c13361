import type { Pool, PoolConnection } from 'mysql2/promise';
import { byText } from '../cdr/row.js';

/**
 * The dashboard's call counts, kept so a year reads a few ten thousand buckets instead of
 * every call: smart_missed_calls_daily counts calls per tenant, day, direction, verdict,
 * route and DID; smart_missed_calls_missed_hours counts the missed ones per hour for the
 * heat map (hourly buckets for every verdict were 7× as many rows, measured at 1 M calls);
 * smart_missed_calls_caller_misses counts each caller's missed calls of all time, the bound
 * that lets frequent callers over a long range count only the callers who can be in its top
 * ten (src/web/frequent-callers.ts). All three change in the transaction that changes the
 * calls rows, so they always equal a GROUP BY over smart_missed_calls_calls.
 */

/** What a stored call is counted under: the values of its calls row. */
export interface CallBucket {
  tenant: string;
  /** The PBX's naive local time, 'YYYY-MM-DD HH:MM:SS', as started_at holds it. */
  startedAt: string;
  direction: string;
  verdict: string;
  routeKind: string;
  routeId: string;
  did: string;
  /** The calls row's caller_key. */
  callerKey: string;
}

export interface DayDelta {
  tenant: string;
  day: string;
  direction: string;
  verdict: string;
  routeKind: string;
  routeId: string;
  did: string;
  calls: number;
}

export interface MissedHourDelta {
  tenant: string;
  day: string;
  hour: number;
  routeKind: string;
  routeId: string;
  did: string;
  calls: number;
}

export interface CallerMissesDelta {
  tenant: string;
  callerKey: string;
  calls: number;
}

export interface RollupDeltas {
  days: DayDelta[];
  missedHours: MissedHourDelta[];
  callerMisses: CallerMissesDelta[];
}

/** The key of callers who hide their number: never a frequent caller, so not counted per caller. */
const ANONYMOUS_KEY = 'anonymous';

const NAIVE_DATETIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}):\d{2}:\d{2}/;

/**
 * The count changes when the `removed` calls rows are replaced or deleted and the `added`
 * ones are written: a reclassified call leaves its old buckets and enters its new ones; a
 * replay into the same buckets cancels out and writes nothing. Day and hour are those of
 * DATE(started_at) and HOUR(started_at), the PBX's clock, as the dashboard always showed.
 */
export function rollupDeltas(removed: CallBucket[], added: CallBucket[]): RollupDeltas {
  const days = new Map<string, DayDelta>();
  const missedHours = new Map<string, MissedHourDelta>();
  const callerMisses = new Map<string, CallerMissesDelta>();
  const count = (call: CallBucket, by: number) => {
    const m = NAIVE_DATETIME.exec(call.startedAt);
    if (!m) throw new Error(`call started at '${call.startedAt}' has no day and hour to be counted under`);
    const day = m[1]!;
    const route = { routeKind: call.routeKind, routeId: call.routeId, did: call.did };
    add(days, { tenant: call.tenant, day, direction: call.direction, verdict: call.verdict, ...route }, by);
    if (call.verdict !== 'missed') return;
    add(missedHours, { tenant: call.tenant, day, hour: Number(m[2]), ...route }, by);
    if (call.callerKey !== ANONYMOUS_KEY) add(callerMisses, { tenant: call.tenant, callerKey: call.callerKey }, by);
  };
  for (const call of removed) count(call, -1);
  for (const call of added) count(call, 1);
  return { days: changed(days), missedHours: changed(missedHours), callerMisses: changed(callerMisses) };
}

function add<T extends { calls: number }>(deltas: Map<string, T>, bucket: Omit<T, 'calls'>, by: number): void {
  const key = JSON.stringify(Object.values(bucket));
  const known = deltas.get(key);
  if (known) known.calls += by;
  else deltas.set(key, { ...bucket, calls: by } as T);
}

/** In key order, so two transactions touching the same buckets lock them in the same order. */
function changed<T extends { calls: number }>(deltas: Map<string, T>): T[] {
  return [...deltas.entries()].filter(([, d]) => d.calls !== 0).sort(([a], [b]) => byText(a, b)).map(([, d]) => d);
}

/** Applies the deltas: one statement per table. A caller's count that falls to 0 stays, at 0, until `forget` deletes it. */
export async function writeRollup(conn: PoolConnection, deltas: RollupDeltas): Promise<void> {
  if (deltas.days.length > 0) {
    await conn.query(
      `INSERT INTO smart_missed_calls_daily (pbx, tenant, day, direction, verdict, route_kind, route_id, did, calls)
       VALUES ${deltas.days.map(() => '(@smc_pbx,?,?,?,?,?,?,?,?)').join(',')}
       ON DUPLICATE KEY UPDATE calls = calls + VALUES(calls)`,
      deltas.days.flatMap((d) => [d.tenant, d.day, d.direction, d.verdict, d.routeKind, d.routeId, d.did, d.calls]),
    );
  }
  if (deltas.missedHours.length > 0) {
    await conn.query(
      `INSERT INTO smart_missed_calls_missed_hours (pbx, tenant, day, hour, route_kind, route_id, did, calls)
       VALUES ${deltas.missedHours.map(() => '(@smc_pbx,?,?,?,?,?,?,?)').join(',')}
       ON DUPLICATE KEY UPDATE calls = calls + VALUES(calls)`,
      deltas.missedHours.flatMap((d) => [d.tenant, d.day, d.hour, d.routeKind, d.routeId, d.did, d.calls]),
    );
  }
  if (deltas.callerMisses.length > 0) {
    await conn.query(
      `INSERT INTO smart_missed_calls_caller_misses (pbx, tenant, caller_key, calls)
       VALUES ${deltas.callerMisses.map(() => '(@smc_pbx,?,?,?)').join(',')}
       ON DUPLICATE KEY UPDATE calls = calls + VALUES(calls)`,
      deltas.callerMisses.flatMap((d) => [d.tenant, d.callerKey, d.calls]),
    );
  }
}

/**
 * The rollups counted afresh from the calls rows (migration 7 fills them so). Each sets a
 * bucket rather than adding to it: run again after an interruption, it counts each call once.
 */
export const ROLLUP_FILLS = [
  `INSERT INTO smart_missed_calls_daily (tenant, day, direction, verdict, route_kind, route_id, did, calls)
   SELECT tenant, DATE(started_at), direction, verdict, route_kind, route_id, did, COUNT(*)
     FROM smart_missed_calls_calls GROUP BY tenant, DATE(started_at), direction, verdict, route_kind, route_id, did
   ON DUPLICATE KEY UPDATE calls = VALUES(calls)`,
  `INSERT INTO smart_missed_calls_missed_hours (tenant, day, hour, route_kind, route_id, did, calls)
   SELECT tenant, DATE(started_at), HOUR(started_at), route_kind, route_id, did, COUNT(*)
     FROM smart_missed_calls_calls WHERE verdict = 'missed'
    GROUP BY tenant, DATE(started_at), HOUR(started_at), route_kind, route_id, did
   ON DUPLICATE KEY UPDATE calls = VALUES(calls)`,
];

/** Each caller's missed calls at each PBX counted afresh from the calls rows (migration 13 fills the table so); sets, as ROLLUP_FILLS do. */
export const CALLER_MISSES_FILL = `INSERT INTO smart_missed_calls_caller_misses (tenant, pbx, caller_key, calls)
   SELECT tenant, pbx, caller_key, COUNT(*) FROM smart_missed_calls_calls WHERE verdict = 'missed' AND caller_key <> '${ANONYMOUS_KEY}'
    GROUP BY tenant, pbx, caller_key
   ON DUPLICATE KEY UPDATE calls = VALUES(calls)`;

/** ROLLUP_FILLS (migration 7's, from before rows had a pbx id) with each PBX's buckets apart. */
const ROLLUP_RECOUNTS = [
  `INSERT INTO smart_missed_calls_daily (tenant, pbx, day, direction, verdict, route_kind, route_id, did, calls)
   SELECT tenant, pbx, DATE(started_at), direction, verdict, route_kind, route_id, did, COUNT(*)
     FROM smart_missed_calls_calls GROUP BY tenant, pbx, DATE(started_at), direction, verdict, route_kind, route_id, did`,
  `INSERT INTO smart_missed_calls_missed_hours (tenant, pbx, day, hour, route_kind, route_id, did, calls)
   SELECT tenant, pbx, DATE(started_at), HOUR(started_at), route_kind, route_id, did, COUNT(*)
     FROM smart_missed_calls_calls WHERE verdict = 'missed'
    GROUP BY tenant, pbx, DATE(started_at), HOUR(started_at), route_kind, route_id, did`,
];

/** Empties the rollups and counts them again from the calls rows, e.g. after calls were copied in bulk. */
export async function recountRollups(pool: Pool): Promise<void> {
  await pool.query('DELETE FROM smart_missed_calls_daily');
  await pool.query('DELETE FROM smart_missed_calls_missed_hours');
  await pool.query('DELETE FROM smart_missed_calls_caller_misses');
  for (const sql of [...ROLLUP_RECOUNTS, CALLER_MISSES_FILL]) await pool.query(sql);
}
