import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { TenantSettings } from '../config/schema.js';
import { normaliseNumber } from '../clear/numbers.js';
import type { Verdict } from '../detect/verdict.js';
import { faultPoint } from '../sync/faults.js';
import { instantOf, localOf, processZone, utcDatetime, type PbxClock } from '../sync/pbx-clock.js';
import { appendAudit, type AuditRecord } from './audit.js';
import type { AuditKey } from './audit-key.js';
import { applyCall, applyOtherPbxClear, CallerEntries, numberRules, withdrawMiss, NOTIFYING_EVENTS, type Entry, type LedgerEvent, type OtherPbxClearer } from './entries.js';
import { rollupDeltas, writeRollup, type CallBucket } from './rollup.js';

export interface ClassifiedCall {
  verdict: Verdict;
  /** Fingerprint of the CDR rows the verdict was made from; same rows → nothing to do. */
  rowsDigest: string;
}

export interface RecordOptions {
  notify: boolean;
  /** How this PBX's calldate maps onto the group's time base; the process's zone, no skew, when absent. */
  clock?: PbxClock;
  /** A group member: misses are also cleared by the other PBXs' calls already recorded (clearAcrossPbxs). */
  group?: boolean;
}

export interface RecordResult {
  calls: number;
  skipped: number;
  events: LedgerEvent[];
}

const ENTRY_COLUMNS = `id, tenant, caller, caller_key, caller_raw, caller_name, anonymous, did, route_kind, route_id, route_label,
  status, missed_count, total_missed, rang_extensions, first_attempt, last_attempt, last_linkedid, voicemail_left,
  callback_attempts, last_callback_at, last_callback_ext, cleared_by, cleared_at, cleared_ext, cleared_user,
  cleared_linkedid, note`;

export function entryFromRow(r: RowDataPacket): Entry {
  return {
    id: Number(r.id), tenant: r.tenant, caller: r.caller, callerKey: r.caller_key, callerRaw: r.caller_raw,
    callerName: r.caller_name, anonymous: !!r.anonymous, did: r.did, routeKind: r.route_kind, routeId: r.route_id,
    routeLabel: r.route_label, status: r.status, missedCount: Number(r.missed_count), totalMissed: Number(r.total_missed),
    rang: parseJson(r.rang_extensions, {}), firstAttempt: r.first_attempt, lastAttempt: r.last_attempt,
    lastLinkedid: r.last_linkedid, voicemailLeft: r.voicemail_left === null ? null : !!r.voicemail_left,
    callbackAttempts: Number(r.callback_attempts), lastCallbackAt: r.last_callback_at, lastCallbackExt: r.last_callback_ext,
    clearedBy: r.cleared_by, clearedAt: r.cleared_at, clearedExt: r.cleared_ext, clearedUser: r.cleared_user,
    clearedLinkedid: r.cleared_linkedid, note: r.note,
  };
}

function parseJson<T>(text: unknown, fallback: T): T {
  try {
    return typeof text === 'string' && text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

interface StoredCall extends CallBucket {
  linkedid: string;
  rowsDigest: string;
  entryId: number | null;
  rang: string[];
}

/**
 * Writes a batch of classified calls (chronological order) in ONE transaction: the calls
 * rows, the entry transitions, their audit rows and outbox events. A call already stored
 * with the same rows is skipped, so replaying is a no-op; a call whose rows changed is
 * re-evaluated, and a changed verdict is journalled as `reclassified`.
 */
export async function recordCalls(
  conn: PoolConnection,
  auditKey: AuditKey,
  tenant: string,
  calls: ClassifiedCall[],
  settings: TenantSettings,
  options: RecordOptions = { notify: true },
): Promise<RecordResult> {
  const clock = options.clock ?? { zone: processZone(), skewMs: 0 };
  const result: RecordResult = { calls: 0, skipped: 0, events: [] };
  if (calls.length === 0) return result;
  const rules = numberRules(settings);
  const stored = await storedCalls(conn, tenant, calls.map((c) => c.verdict.linkedid));
  const todo = calls.filter((c) => stored.get(c.verdict.linkedid)?.rowsDigest !== c.rowsDigest);
  result.skipped = calls.length - todo.length;
  if (todo.length === 0) return result;

  // The number each call is matched and stored under, normalised once per call.
  const callerKeys = new Map<string, string>();
  for (const { verdict } of todo) {
    const outbound = verdict.direction === 'outbound';
    callerKeys.set(verdict.linkedid, normaliseNumber(outbound ? verdict.dialled : verdict.caller, rules, outbound).key);
  }
  const keys = new Set(callerKeys.values());
  const entryIds = [...stored.values()].map((s) => s.entryId).filter((id): id is number => id !== null);
  const entries = new CallerEntries(await lockEntries(conn, tenant, [...keys], entryIds));
  const touched = new Set<Entry>();
  // Each event keeps the entry as it stood right after ITS call. Entries are mutated in
  // place while the batch is applied, so without this copy every event of a caller who
  // called several times within one batch (a restart catching up, a backfill) would
  // carry the batch's final state: the same lastAttempt on every mail and webhook,
  // which also made realtime dedupe fold attempts it must mail.
  const recorded: { live: LedgerEvent; asOf: Entry }[] = [];
  const callEntry = new Map<string, Entry | null>();
  const [[{ now }]] = (await conn.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const clearers = await laterClearers(conn, tenant, todo, callerKeys);
  const otherPbxClearers = options.group && settings.clearAcrossPbxs ? await laterOtherPbxClearers(conn, tenant, todo, callerKeys, clock) : new Map<string, OtherPbxClearer[]>();

  for (const { verdict } of todo) {
    const previous = stored.get(verdict.linkedid);
    const events: LedgerEvent[] = [];
    if (previous && previous.verdict !== verdict.verdict) {
      const entry = previous.entryId === null ? undefined : entries.withId(previous.entryId);
      if (entry && previous.verdict === 'missed') {
        withdrawMiss(entry, previous, now);
        touched.add(entry);
      }
      if (entry) {
        events.push({ entry, event: 'reclassified', reason: null, actor: 'agent', ext: null, linkedid: verdict.linkedid, note: `${previous.verdict} -> ${verdict.verdict}` });
      }
    }
    const changed = !previous || previous.verdict !== verdict.verdict;
    const clearer = changed ? firstClearerAfter(clearers.get(callerKeys.get(verdict.linkedid)!), verdict, settings) : undefined;
    const otherPbxClearer = changed && !clearer ? firstOtherPbxClearerAfter(otherPbxClearers.get(callerKeys.get(verdict.linkedid)!), verdict, settings) : undefined;
    if (otherPbxClearer) {
      // The same late case across the group: another PBX's sync recorded the call that
      // clears this miss before this PBX's sync recorded the miss.
      const current = entries.withKey(callerKeys.get(verdict.linkedid)!).find((e) => e.did === verdict.did);
      if (!(current?.status === 'open' && current.firstAttempt > otherPbxClearer.at)) {
        events.push(...applyCall(entries, tenant, verdict, settings), ...applyOtherPbxClear(entries, otherPbxClearer, settings));
      }
    } else if (clearer) {
      // A miss older than a call already recorded that clears it (history classified after
      // the live calls, a backfill of an earlier day): its episode ended with that call.
      const current = entries.withKey(callerKeys.get(verdict.linkedid)!).find((e) => e.did === verdict.did);
      if (!(current?.status === 'open' && current.firstAttempt > clearer.startedAt)) {
        events.push(...applyCall(entries, tenant, verdict, settings), ...applyCall(entries, tenant, clearer, settings));
      }
      // Otherwise the open entry is a later episode: the old miss counts on the dashboard only.
    } else if (!previous || previous.verdict !== verdict.verdict) {
      events.push(...applyCall(entries, tenant, verdict, settings));
    } else if (verdict.verdict === 'missed' && previous.entryId !== null) {
      // Same verdict, more rows (a voicemail row arrived late): fold the new details in.
      const entry = entries.withId(previous.entryId);
      if (entry) {
        for (const r of verdict.rang) if (!previous.rang.includes(r.ext)) entry.rang[r.ext] = (entry.rang[r.ext] ?? 0) + 1;
        if (verdict.voicemail?.messageLeft != null) entry.voicemailLeft = verdict.voicemail.messageLeft;
        touched.add(entry);
      }
    }
    for (const e of events) {
      touched.add(e.entry);
      recorded.push({ live: e, asOf: { ...e.entry, rang: { ...e.entry.rang } } });
    }
    const own = events.find((e) => e.event === 'created' || e.event === 'incremented' || e.event === 'reopened');
    callEntry.set(verdict.linkedid, own?.entry ?? (previous?.entryId != null ? entries.withId(previous.entryId) ?? null : null));
  }

  // The calls rows are built while MariaDB saves the entries; only the new entries' ids wait for that.
  const savingEntries = saveEntries(conn, [...touched], now);
  let rows: CallRows;
  try {
    rows = callRows(tenant, todo, stored, callerKeys, now, clock);
  } finally {
    await savingEntries;
  }
  for (const r of recorded) r.asOf.id = r.live.entry.id;
  result.events = recorded.map((r) => ({ ...r.live, entry: r.asOf }));
  await saveCalls(conn, rows, callEntry);
  await appendAudit(conn, auditKey, result.events.map(auditRecordOf));
  if (options.notify) await enqueueEvents(conn, result.events.filter((e) => NOTIFYING_EVENTS.has(e.event)), now);
  faultPoint('in-ledger');
  result.calls = todo.length;
  return result;
}

/**
 * The calls already recorded that would have cleared this batch's misses, had they come
 * after them: answered calls from those callers and answered callbacks to them, at or after
 * the batch's oldest miss, by caller key, oldest first. Live calls come in order and find
 * none; history classified after them does.
 */
async function laterClearers(conn: PoolConnection, tenant: string, todo: ClassifiedCall[], callerKeys: Map<string, string>): Promise<Map<string, Verdict[]>> {
  const out = new Map<string, Verdict[]>();
  const misses = todo.filter((c) => c.verdict.verdict === 'missed' && !c.verdict.anonymous);
  if (misses.length === 0) return out;
  const oldest = misses.reduce((a, c) => (c.verdict.startedAt < a ? c.verdict.startedAt : a), misses[0]!.verdict.startedAt);
  // The batch's own calls are left out here, not by a `linkedid NOT IN` of the whole batch:
  // with that list MariaDB planned thousands of primary-key ranges for each statement
  // (50 ms of a backfill's 2000-call batch that finds nothing).
  const own = new Set(todo.map((c) => c.verdict.linkedid));
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT linkedid, verdict, direction, caller, caller_key, did, dialled, started_at, ended_at, answered_by FROM smart_missed_calls_calls
      WHERE tenant = ? AND pbx = @smc_pbx AND caller_key IN (?) AND started_at >= ?
        AND ((verdict = 'answered' AND direction = 'inbound') OR (verdict = 'outbound' AND answered_by IS NOT NULL))
      ORDER BY started_at, linkedid`,
    [tenant, [...new Set(misses.map((c) => callerKeys.get(c.verdict.linkedid)!))], oldest],
  );
  for (const r of rows) {
    if (own.has(r.linkedid)) continue;
    const list = out.get(r.caller_key) ?? [];
    list.push({
      linkedid: r.linkedid, verdict: r.verdict, direction: r.direction, caller: r.caller, callerName: '', anonymous: false,
      did: r.did, dialled: r.dialled, startedAt: r.started_at, endedAt: r.ended_at, waitSeconds: 0, rang: [],
      answeredBy: r.answered_by, route: { kind: 'route', id: r.did, label: '' }, voicemail: null, reasons: [], explanation: [], rowCount: 0,
    });
    out.set(r.caller_key, list);
  }
  return out;
}

const OTHER_PBX_CLEARER_COLUMNS = 'c.pbx, c.linkedid, c.verdict, c.direction, c.caller, c.caller_key, c.did, c.answered_by, c.started_utc';

/** A calls row of another PBX that clears (see the WHERE of its queries), at its instant on this PBX's clock. */
function otherPbxClearerOf(r: RowDataPacket, clock: PbxClock): OtherPbxClearer {
  const outbound = r.direction === 'outbound';
  const answeredBy = r.answered_by === null || String(r.answered_by).startsWith('external:') ? null : String(r.answered_by);
  return {
    pbx: r.pbx, linkedid: r.linkedid, reason: outbound ? 'returned' : 'answered_later', callerKey: r.caller_key, did: r.did,
    ext: outbound ? r.caller : answeredBy, at: localOf(Date.parse(String(r.started_utc).replace(' ', 'T') + 'Z'), clock),
  };
}

/** Answered inbound calls, and answered callbacks: the calls that clear an entry. */
const CLEARING_CALL = `((c.verdict = 'answered' AND c.direction = 'inbound') OR (c.verdict = 'outbound' AND c.answered_by IS NOT NULL))`;

/**
 * laterClearers across the group: the other PBXs' recorded clearing calls of this batch's
 * missed callers (same tenant name: a VitalPBX tenant never clears another's), at or after
 * the batch's oldest miss by instant, oldest first.
 */
async function laterOtherPbxClearers(conn: PoolConnection, tenant: string, todo: ClassifiedCall[], callerKeys: Map<string, string>, clock: PbxClock): Promise<Map<string, OtherPbxClearer[]>> {
  const out = new Map<string, OtherPbxClearer[]>();
  const misses = todo.filter((c) => c.verdict.verdict === 'missed' && !c.verdict.anonymous);
  if (misses.length === 0) return out;
  const oldest = Math.min(...misses.map((c) => instantOf(c.verdict.startedAt, clock)));
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT ${OTHER_PBX_CLEARER_COLUMNS} FROM smart_missed_calls_calls c
      WHERE c.tenant = ? AND c.caller_key IN (?) AND c.started_utc >= ? AND c.pbx <> @smc_pbx AND ${CLEARING_CALL}
      ORDER BY c.started_utc, c.pbx, c.linkedid`,
    [tenant, [...new Set(misses.map((c) => callerKeys.get(c.verdict.linkedid)!))], utcDatetime(oldest)],
  );
  for (const r of rows) {
    const list = out.get(r.caller_key) ?? [];
    list.push(otherPbxClearerOf(r, clock));
    out.set(r.caller_key, list);
  }
  return out;
}

function firstOtherPbxClearerAfter(clearers: OtherPbxClearer[] | undefined, miss: Verdict, settings: TenantSettings): OtherPbxClearer | undefined {
  if (!clearers || miss.verdict !== 'missed' || miss.anonymous) return undefined;
  return clearers.find((c) => c.at >= miss.startedAt && (c.reason === 'returned' || settings.clearAcrossDids || c.did === miss.did));
}

/** Other PBXs' clearing calls classified since `?` whose caller has an open entry at this PBX. */
const CLEARS_FROM_OTHER_PBXS = `c.classified_at >= ? AND c.pbx <> @smc_pbx AND c.started_utc IS NOT NULL AND ${CLEARING_CALL}
  AND EXISTS (SELECT 1 FROM smart_missed_calls e WHERE e.tenant = c.tenant AND e.pbx = @smc_pbx AND e.caller_key = c.caller_key AND e.status = 'open')`;

/**
 * Whether clearFromOtherPbxs has anything to do: asked outside a transaction, because most
 * cycles find nothing, and its transaction would write the sync lease's fence row, a write
 * every node of the cluster certifies, every second.
 */
export async function anyClearFromOtherPbxs(pool: Pool, since: string): Promise<boolean> {
  const [rows] = await pool.query<RowDataPacket[]>(`SELECT 1 FROM smart_missed_calls_calls c WHERE ${CLEARS_FROM_OTHER_PBXS} LIMIT 1`, [since]);
  return rows.length > 0;
}

/**
 * Clears this PBX's open entries by the clearing calls other PBXs of the group recorded
 * (classified) since `since`, on the ledger's clock: answered callbacks as `returned`,
 * answered calls from the caller as `answered_later`, matched by tenant name and caller key.
 * This PBX's service writes its own entries and its own journal chain, with its own key:
 * the other PBX's calls rows are the request, read here (docs/group.md). Reading a window
 * again is harmless: a cleared entry, or one missed again after the call, is left alone.
 */
export async function clearFromOtherPbxs(
  conn: PoolConnection,
  auditKey: AuditKey,
  clock: PbxClock,
  since: string,
  settingsOf: (tenant: string) => Promise<TenantSettings>,
): Promise<LedgerEvent[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT c.tenant, ${OTHER_PBX_CLEARER_COLUMNS} FROM smart_missed_calls_calls c WHERE ${CLEARS_FROM_OTHER_PBXS}
      ORDER BY c.tenant, c.started_utc, c.pbx, c.linkedid`,
    [since],
  );
  const byTenant = new Map<string, OtherPbxClearer[]>();
  for (const r of rows) byTenant.set(r.tenant, [...(byTenant.get(r.tenant) ?? []), otherPbxClearerOf(r, clock)]);
  const events: LedgerEvent[] = [];
  for (const [tenant, clearers] of byTenant) {
    const settings = await settingsOf(tenant);
    if (!settings.clearAcrossPbxs) continue;
    const entries = new CallerEntries(await lockEntries(conn, tenant, [...new Set(clearers.map((c) => c.callerKey))]));
    for (const clearer of clearers) events.push(...applyOtherPbxClear(entries, clearer, settings));
  }
  if (events.length === 0) return events;
  const [[{ now }]] = (await conn.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  await saveEntries(conn, [...new Set(events.map((e) => e.entry))], now);
  // An entry is cleared here at most once (a cleared entry is not cleared again): its final state is its event's.
  const recorded = events.map((e) => ({ ...e, entry: { ...e.entry, rang: { ...e.entry.rang } } }));
  await appendAudit(conn, auditKey, recorded.map(auditRecordOf));
  await enqueueEvents(conn, recorded, now);
  return recorded;
}

/** The first of a caller's recorded clearing calls that came after this miss and clears it (the DID rule of applyCall). */
function firstClearerAfter(clearers: Verdict[] | undefined, miss: Verdict, settings: TenantSettings): Verdict | undefined {
  if (!clearers || miss.verdict !== 'missed' || miss.anonymous) return undefined;
  return clearers.find((c) => c.startedAt >= miss.startedAt && (c.direction === 'outbound' || settings.clearAcrossDids || c.did === miss.did));
}

export function auditRecordOf(e: LedgerEvent): AuditRecord {
  return { tenant: e.entry.tenant, entryId: e.entry.id, event: e.event, reason: e.reason, actor: e.actor, ext: e.ext, linkedid: e.linkedid, note: e.note };
}

async function storedCalls(conn: PoolConnection, tenant: string, linkedids: string[]): Promise<Map<string, StoredCall>> {
  const out = new Map<string, StoredCall>();
  if (linkedids.length === 0) return out;
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT linkedid, verdict, rows_digest, entry_id, rang, started_at, direction, route_kind, route_id, did, caller_key FROM smart_missed_calls_calls
      WHERE tenant = ? AND pbx = @smc_pbx AND linkedid IN (?) FOR UPDATE`,
    [tenant, linkedids],
  );
  for (const r of rows) {
    out.set(r.linkedid, {
      linkedid: r.linkedid, verdict: r.verdict, rowsDigest: r.rows_digest,
      entryId: r.entry_id === null ? null : Number(r.entry_id),
      rang: parseJson<{ ext: string }[]>(r.rang, []).map((x) => x.ext), startedAt: r.started_at,
      tenant, direction: r.direction, routeKind: r.route_kind, routeId: r.route_id, did: r.did, callerKey: r.caller_key,
    });
  }
  return out;
}

export async function lockEntries(conn: PoolConnection, tenant: string, callerKeys: string[], ids: number[] = []): Promise<Entry[]> {
  if (callerKeys.length === 0 && ids.length === 0) return [];
  // Without ids (a call seen for the first time, all of a backfill) the plain key lookup:
  // the OR made MariaDB merge two indexes and sort the union for every batch.
  const [rows] = await conn.query<RowDataPacket[]>(
    ids.length
      ? `SELECT ${ENTRY_COLUMNS} FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND (caller_key IN (?) OR id IN (?)) FOR UPDATE`
      : `SELECT ${ENTRY_COLUMNS} FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND caller_key IN (?) FOR UPDATE`,
    ids.length ? [tenant, callerKeys.length ? callerKeys : [''], ids] : [tenant, callerKeys],
  );
  return rows.map(entryFromRow);
}

/**
 * Cuts text to its column's width. CDR fields are 80 characters and the classifier builds
 * values from them ('external:' + a dialled number, a route id from dst): a strict-mode
 * MariaDB refuses a longer value, the whole batch rolls back, and the sync would retry
 * the same batch for ever — one bad row must not stop it.
 */
function fit<T extends string | null>(text: T, width: number): T {
  return (text === null ? null : text.slice(0, width)) as T;
}

/**
 * An entry's stored due time (src/ledger/target-due.ts) holds for its episode's first miss,
 * its route and whether it is withheld: when a write changes one of them (a reopen starts a
 * new episode), the due time is marked not computed. First in the assignment list, so it
 * compares the row's old values with the new ones before those are assigned.
 */
const TARGET_STALE_ON_CHANGE = `target_key = IF(first_attempt <=> VALUES(first_attempt) AND route_kind <=> VALUES(route_kind)
  AND route_id <=> VALUES(route_id) AND anonymous <=> VALUES(anonymous), target_key, 0)`;

const ENTRY_STATE_COLUMNS = [
  'caller', 'caller_raw', 'caller_name', 'anonymous', 'route_kind', 'route_id', 'route_label', 'status', 'missed_count',
  'total_missed', 'rang_extensions', 'first_attempt', 'last_attempt', 'last_linkedid', 'voicemail_left', 'callback_attempts',
  'last_callback_at', 'last_callback_ext', 'cleared_by', 'cleared_at', 'cleared_ext', 'cleared_user', 'cleared_linkedid', 'note',
  'updated_at',
];

/**
 * Inserts new entries (giving them ids, before their audit rows are written) and updates
 * the others: one statement for each kind, however many entries a batch touched.
 */
export async function saveEntries(conn: PoolConnection, entries: Entry[], now: string): Promise<void> {
  const state = (e: Entry) => [
    fit(e.caller, 64), fit(e.callerRaw, 80), fit(e.callerName, 160), e.anonymous ? 1 : 0, fit(e.routeKind, 16), fit(e.routeId, 64),
    fit(e.routeLabel, 160), e.status, e.missedCount, e.totalMissed, JSON.stringify(e.rang), e.firstAttempt, e.lastAttempt,
    fit(e.lastLinkedid, 32), e.voicemailLeft === null ? null : e.voicemailLeft ? 1 : 0, e.callbackAttempts, e.lastCallbackAt,
    fit(e.lastCallbackExt, 32), e.clearedBy, e.clearedAt, fit(e.clearedExt, 32), fit(e.clearedUser, 64), fit(e.clearedLinkedid, 32),
    e.note, now,
  ];
  const known = entries.filter((e) => e.id !== null);
  if (known.length > 0) {
    // Every id is locked by this transaction (lockEntries), so this only ever updates; the
    // unique key columns are the row's own and cannot collide with another entry.
    // The pbx is named too: the row the statement would insert must collide with this
    // entry's own keys only, never with another PBX's entry of the same caller.
    const row = `(?, @smc_pbx, ${Array(4 + ENTRY_STATE_COLUMNS.length).fill('?').join(', ')})`;
    await conn.query(
      `INSERT INTO smart_missed_calls (id, pbx, tenant, caller_key, did, created_at, ${ENTRY_STATE_COLUMNS.join(', ')}) VALUES ${known.map(() => row).join(', ')}
       ON DUPLICATE KEY UPDATE ${TARGET_STALE_ON_CHANGE}, ${ENTRY_STATE_COLUMNS.map((c) => `${c} = VALUES(${c})`).join(', ')}`,
      known.flatMap((e) => [e.id, e.tenant, e.callerKey, e.did, now, ...state(e)]),
    );
  }
  const fresh = entries.filter((e) => e.id === null);
  if (fresh.length > 0) {
    const row = `(@smc_pbx, ${Array(4 + ENTRY_STATE_COLUMNS.length).fill('?').join(', ')})`;
    await conn.query(
      `INSERT INTO smart_missed_calls (pbx, tenant, caller_key, did, created_at, ${ENTRY_STATE_COLUMNS.join(', ')}) VALUES ${fresh.map(() => row).join(', ')}`,
      fresh.flatMap((e) => [e.tenant, e.callerKey, e.did, now, ...state(e)]),
    );
    // Ids by the unique key: auto-increment ids of a multi-row INSERT need not be consecutive.
    // By tenant and caller key, the DID matched here: MariaDB planned a (tenant, caller_key,
    // did) IN list of row values three to four times slower.
    const ids = new Map<string, number>();
    for (const tenant of new Set(fresh.map((e) => e.tenant))) {
      const [rows] = await conn.query<RowDataPacket[]>(
        'SELECT id, caller_key, did FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND caller_key IN (?)',
        [tenant, [...new Set(fresh.filter((e) => e.tenant === tenant).map((e) => e.callerKey))]],
      );
      for (const r of rows) ids.set(`${tenant}\n${r.caller_key}\n${r.did}`, Number(r.id));
    }
    for (const e of fresh) {
      e.id = ids.get(`${e.tenant}\n${e.callerKey}\n${e.did}`) ?? null;
      if (e.id === null) throw new Error(`entry ${e.callerKey}/${e.did} was not stored`);
    }
  }
}

const CALL_COLUMNS = `pbx, tenant, linkedid, verdict, direction, caller, caller_key, did, dialled, started_at,
       started_utc, ended_at, wait_s, answered_by, rang, route_kind, route_id, reasons, explanation, voicemail, entry_id, row_count,
       rows_digest, classified_at`;

const CALL_UPDATE = `verdict = VALUES(verdict), direction = VALUES(direction), caller = VALUES(caller),
       caller_key = VALUES(caller_key), did = VALUES(did), dialled = VALUES(dialled), started_at = VALUES(started_at),
       started_utc = VALUES(started_utc), ended_at = VALUES(ended_at), wait_s = VALUES(wait_s), answered_by = VALUES(answered_by), rang = VALUES(rang),
       route_kind = VALUES(route_kind), route_id = VALUES(route_id), reasons = VALUES(reasons),
       explanation = VALUES(explanation), voicemail = VALUES(voicemail), entry_id = VALUES(entry_id),
       row_count = VALUES(row_count), rows_digest = VALUES(rows_digest), classified_at = VALUES(classified_at)`;

const CALL_PLACEHOLDERS = '(@smc_pbx,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)';

/**
 * Calls rows per INSERT. A backfill's transaction writes 2000: sent as one statement,
 * MariaDB waited while Node built all of its text, then Node waited while MariaDB
 * stored it. In slices of a few fixed sizes (prepared once per connection, no SQL text
 * to parse) each is sent while Node goes on with the next.
 */
const CALLS_PER_STATEMENT = 256;
const COLUMNS_PER_CALL = 23;
/** Where entry_id sits in a call's values (CALL_COLUMNS after the pbx, which the statement names). */
const ENTRY_ID_AT = 19;

/** A batch's calls rows, ready to send but for their entries' ids, and the rollup buckets they leave and enter. */
interface CallRows {
  slices: { calls: ClassifiedCall[]; values: (string | number | null)[] }[];
  replaced: CallBucket[];
  written: CallBucket[];
}

function callRows(tenant: string, calls: ClassifiedCall[], stored: Map<string, StoredCall>, callerKeys: Map<string, string>, now: string, clock: PbxClock): CallRows {
  const rows: CallRows = { slices: [], replaced: [], written: [] };
  for (let from = 0; from < calls.length; ) {
    const left = calls.length - from;
    const size = left >= CALLS_PER_STATEMENT ? CALLS_PER_STATEMENT : 2 ** Math.floor(Math.log2(left));
    const slice = calls.slice(from, from + size);
    from += size;
    const values: (string | number | null)[] = [];
    for (const { verdict: v, rowsDigest } of slice) {
      const previous = stored.get(v.linkedid);
      if (previous) rows.replaced.push(previous);
      const callerKey = callerKeys.get(v.linkedid)!;
      rows.written.push({
        tenant, startedAt: v.startedAt, direction: v.direction, verdict: v.verdict, routeKind: fit(v.route.kind, 16), routeId: fit(v.route.id, 64), did: v.did, callerKey,
      });
      values.push(
        tenant, v.linkedid, v.verdict, v.direction, fit(v.caller, 80), callerKey, v.did, fit(v.dialled, 80), v.startedAt, utcDatetime(instantOf(v.startedAt, clock)), v.endedAt,
        Math.round(v.waitSeconds), fit(v.answeredBy, 80), JSON.stringify(v.rang), fit(v.route.kind, 16), fit(v.route.id, 64), JSON.stringify(v.reasons),
        JSON.stringify(v.explanation), v.voicemail ? JSON.stringify(v.voicemail) : null, null,
        v.rowCount, rowsDigest, now,
      );
    }
    rows.slices.push({ calls: slice, values });
  }
  return rows;
}

async function saveCalls(conn: PoolConnection, rows: CallRows, callEntry: Map<string, Entry | null>): Promise<void> {
  const statements: Promise<unknown>[] = [];
  for (const { calls, values } of rows.slices) {
    calls.forEach(({ verdict }, i) => (values[i * COLUMNS_PER_CALL + ENTRY_ID_AT] = callEntry.get(verdict.linkedid)?.id ?? null));
    // Not awaited here: the connection runs its statements in order. All are awaited below,
    // before the transaction goes on (a failure rejects there and the transaction is rolled back).
    statements.push(conn.execute(`INSERT INTO smart_missed_calls_calls (${CALL_COLUMNS}) VALUES ${calls.map(() => CALL_PLACEHOLDERS).join(',')} ON DUPLICATE KEY UPDATE ${CALL_UPDATE}`, values));
  }
  // The rollups' counts are made while MariaDB stores the calls rows; their statements follow those.
  statements.push(writeRollup(conn, rollupDeltas(rows.replaced, rows.written)));
  await Promise.all(statements);
}

/** Outbox rows for everything that may notify: the notifier fans them out to mail and webhooks. */
/** What an outbox row of a ledger event carries (OutboxPayload in src/notify/deliveries.ts). */
export function outboxPayloadOf(e: LedgerEvent) {
  return {
    event: `entry.${e.event}`,
    reason: e.reason,
    ext: e.ext,
    user: e.actor.startsWith('user:') ? e.actor.slice(5) : null,
    entry: {
      id: e.entry.id!, tenant: e.entry.tenant, caller: e.entry.caller, callerName: e.entry.callerName, did: e.entry.did,
      route: e.entry.routeLabel, status: e.entry.status, missedCount: e.entry.missedCount, totalMissed: e.entry.totalMissed,
      firstAttempt: e.entry.firstAttempt, lastAttempt: e.entry.lastAttempt, rang: e.entry.rang, clearedBy: e.entry.clearedBy,
    },
  };
}

export async function enqueueEvents(conn: PoolConnection, events: LedgerEvent[], now: string): Promise<void> {
  if (events.length === 0) return;
  const values: unknown[] = [];
  for (const e of events) values.push(e.entry.tenant, e.event, e.entry.id, e.linkedid, JSON.stringify(outboxPayloadOf(e)), now, now);
  await conn.query(
    `INSERT INTO smart_missed_calls_outbox (pbx, tenant, event, entry_id, linkedid, payload, next_attempt_at, created_at)
     VALUES ${events.map(() => '(@smc_pbx,?,?,?,?,?,?,?)').join(',')}`,
    values,
  );
}
