import { THIS_PBX, type TenantScope } from './tenant-scope.js';
import { routeConditions, type RangeFilter } from './filters.js';

/**
 * The dashboard's frequent callers: the ten callers with the most missed calls in the range
 * (route/DID filters applied), ties by the caller's number, anonymous callers left out.
 *
 * Grouping a year's missed calls by caller reads them all (~100 k at 1 M calls, 25 k
 * callers: 125 ms, the dashboard's longest statement). No caller can have more missed calls
 * in a range than in all time, which smart_missed_calls_caller_misses keeps per caller
 * (src/ledger/rollup.ts). So the callers with the most of all time are counted over the
 * range first; the tenth of those counts is a bar the tenth place reaches at least, and only
 * callers whose all-time count reaches the bar can be in the top ten — the same statement
 * then groups their calls alone (~190 callers, ~20 k calls). When too many callers reach
 * the bar (a short range, a narrow filter) the statement groups the range's calls as it
 * always did. Both give the same ten.
 */
export interface FrequentCaller {
  caller: string;
  name: string;
  missed: number;
}

const TOP = 10;
/** The callers with the most missed calls of all time, counted over the range to set the bar. */
const LEADERS = 50;
/** More callers than this reaching the bar, and grouping the range's calls costs less than counting theirs. */
const MOST_CANDIDATES = 500;

export async function frequentCallers(scope: TenantScope, f: RangeFilter, start: string, end: string): Promise<FrequentCaller[]> {
  const candidates = await callersWhoCanRankTop(scope, f, start, end);
  return topCallers(scope, f, start, end, candidates);
}

/** The callers the top ten must come from, or null when they are too many to be worth naming. */
export async function callersWhoCanRankTop(scope: TenantScope, f: RangeFilter, start: string, end: string): Promise<string[] | null> {
  const leaders = await scope.rows<{ caller_key: string }>(
    `SELECT caller_key FROM smart_missed_calls_caller_misses WHERE tenant = @tenant AND calls > 0 ORDER BY calls DESC LIMIT ${LEADERS}`,
  );
  if (leaders.length < TOP) return null;
  const rc = routeConditions(f);
  const [tenth] = await scope.rows<{ missed: number }>(
    `SELECT COUNT(*) AS missed FROM smart_missed_calls_calls
      WHERE caller_key IN (?) AND tenant = @tenant AND verdict = 'missed' AND started_at >= ? AND started_at < ?${rc.sql}
      GROUP BY caller_key ORDER BY missed DESC LIMIT ${TOP - 1}, 1`,
    [leaders.map((l) => l.caller_key), start, end, ...rc.params],
  );
  const bar = Number(tenth?.missed ?? 0);
  if (bar === 0) return null;
  // The counts are kept per PBX: over k PBXs of a group, a caller who reaches the bar in all
  // has at least bar / k at one of them (the exact count over the range decides after).
  const pbxCount = scope.pbxs === THIS_PBX ? 1 : Math.max(1, scope.pbxs.ids.length);
  const reaching = await scope.rows<{ caller_key: string }>(
    `SELECT DISTINCT caller_key FROM smart_missed_calls_caller_misses WHERE tenant = @tenant AND calls >= ? LIMIT ${MOST_CANDIDATES + 1}`,
    [Math.ceil(bar / pbxCount)],
  );
  return reaching.length > MOST_CANDIDATES ? null : reaching.map((r) => r.caller_key);
}

/**
 * The top ten among `candidates` (null: among every caller). Names only for the ten shown:
 * joined to every missed call of a year, the entry lookups took two thirds of the time.
 */
export async function topCallers(scope: TenantScope, f: RangeFilter, start: string, end: string, candidates: string[] | null): Promise<FrequentCaller[]> {
  const rc = routeConditions(f);
  const among = candidates ? ' AND caller_key IN (?)' : '';
  const rows = await scope.rows<{ caller: string; name: string; missed: number }>(
    `SELECT t.caller, t.missed, COALESCE((
        SELECT MAX(e.caller_name) FROM smart_missed_calls_calls c JOIN smart_missed_calls e ON e.id = c.entry_id AND e.tenant = c.tenant AND e.pbx = c.pbx
         WHERE c.tenant = @tenant AND c.caller_key = t.caller_key AND c.started_at >= ? AND c.started_at < ?${routeConditions(f, 'c.').sql}
           AND c.verdict = 'missed'), '') AS name
       FROM (SELECT caller_key, MAX(caller) AS caller, COUNT(*) AS missed FROM smart_missed_calls_calls
              WHERE tenant = @tenant AND started_at >= ? AND started_at < ?${rc.sql} AND verdict = 'missed' AND caller_key <> 'anonymous'${among}
              GROUP BY caller_key ORDER BY missed DESC, caller LIMIT ${TOP}) t
      ORDER BY t.missed DESC, t.caller`,
    [start, end, ...rc.params, start, end, ...rc.params, ...(candidates ? [candidates] : [])],
  );
  return rows.map((r) => ({ caller: String(r.caller), name: String(r.name), missed: Number(r.missed) }));
}
