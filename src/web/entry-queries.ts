import type { RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import type { OwnedRow } from '../cdr/directory.js';
import { normaliseNumber, type NumberRules } from '../clear/numbers.js';
import { cdrColumns } from '../cdr/reader.js';
import { ident, type Pool } from '../db/pool.js';
import type { Verdict } from '../detect/verdict.js';
import type { Entry } from '../ledger/entries.js';
import { entryFromRow } from '../ledger/store.js';
import type { TenantScope } from './tenant-scope.js';
import { addDays, type ListFilter } from './filters.js';

export const PAGE_SIZE = 50;
/** The CSV export is one file; beyond this the user narrows the filter. */
export const CSV_LIMIT = 50_000;

const SORT_COLUMN: Record<ListFilter['sort'], string> = {
  last: 'last_attempt', first: 'first_attempt', count: 'missed_count', caller: 'caller',
};

/**
 * A search that is a whole phone number, in any form the PBX or a person writes it
 * ('0744 000 555', '+40744000555', '0040744000555'): the key its caller's entries are
 * stored under, found through the (tenant, caller_key, did) index. A substring LIKE can use
 * no index: at 100 k entries it read them all for the count and, when few matched, walked
 * the list's order fetching each row (p95 over 300 ms). Whole means more digits than the key
 * keeps (matchDigits, 9 by default: a national 07xx xxx xxx has 10); anything shorter (part
 * of a number, an extension) or with letters in it is searched as text, as before.
 */
export function numberSearchKey(q: string, rules: NumberRules): string | null {
  if (!/^\s*\+?[\d\s().\/-]+$/.test(q)) return null;
  if (q.replace(/\D/g, '').length <= rules.matchDigits) return null;
  const number = normaliseNumber(q, rules);
  return number.anonymous ? null : number.key;
}

function where(f: ListFilter, rules: NumberRules): { sql: string; params: unknown[] } {
  const parts = ['tenant = @tenant'];
  const params: unknown[] = [];
  if (f.status !== 'all') {
    parts.push('status = ?');
    params.push(f.status);
  }
  if (f.from) {
    parts.push('last_attempt >= ?');
    params.push(`${f.from} 00:00:00`);
  }
  if (f.to) {
    parts.push('last_attempt < ?');
    params.push(`${addDays(f.to, 1)} 00:00:00`);
  }
  if (f.did) {
    parts.push('did = ?');
    params.push(f.did);
  }
  if (f.route) {
    const [kind, id] = f.route.split(':');
    parts.push('route_kind = ? AND route_id = ?');
    params.push(kind, id ?? '');
  }
  if (f.ext) {
    // rang_extensions is {"101":2,...}: the quoted key followed by a colon is that extension.
    parts.push('rang_extensions LIKE ?');
    params.push(`%${JSON.stringify(f.ext).slice(0, -1).replace(/[%_\\]/g, '\\$&')}":%`);
  }
  const key = f.q ? numberSearchKey(f.q, rules) : null;
  if (key) {
    parts.push('caller_key = ?');
    params.push(key);
  } else if (f.q) {
    const like = `%${f.q.replace(/[%_\\]/g, '\\$&')}%`;
    parts.push('(caller LIKE ? OR caller_raw LIKE ? OR caller_name LIKE ?)');
    params.push(like, like, like);
  }
  return { sql: parts.join(' AND '), params };
}

/** An entry as the pages read it: with the PBX whose list it is on (a group's pages show several). */
export type PbxEntry = Entry & { pbx: string };

function pbxEntryFromRow(r: RowDataPacket): PbxEntry {
  return { ...entryFromRow(r), pbx: String(r.pbx) };
}

export async function listEntries(scope: TenantScope, f: ListFilter, rules: NumberRules, limit = PAGE_SIZE): Promise<{ entries: PbxEntry[]; total: number }> {
  const w = where(f, rules);
  const [count] = await scope.rows<{ n: number }>(`SELECT COUNT(*) AS n FROM smart_missed_calls WHERE ${w.sql}`, w.params);
  const order = `${SORT_COLUMN[f.sort]} ${f.dir === 'asc' ? 'ASC' : 'DESC'}, id ${f.dir === 'asc' ? 'ASC' : 'DESC'}`;
  const rows = await scope.rows<RowDataPacket>(
    `SELECT * FROM smart_missed_calls WHERE ${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`,
    [...w.params, limit, (f.page - 1) * limit],
  );
  return { entries: rows.map(pbxEntryFromRow), total: Number(count?.n ?? 0) };
}

/**
 * The callers' owners in the tenant's CRM, as the caller-name chain last cached them
 * (src/notify/crm-names.ts; a stale one too): `pbx` + "\n" + caller key → the owner's name.
 */
export async function crmOwnersOf(scope: TenantScope, crm: string, entries: PbxEntry[]): Promise<Map<string, string>> {
  const keys = [...new Set(entries.filter((e) => !e.anonymous).map((e) => e.callerKey))];
  if (crm === '' || keys.length === 0) return new Map();
  const rows = await scope.rows<RowDataPacket>(
    `SELECT pbx, caller_key, owner_name FROM smart_missed_calls_crm_names WHERE tenant = @tenant AND crm = ? AND caller_key IN (?) AND owner_name <> ''`,
    [crm, keys],
  );
  return new Map(rows.map((r) => [`${r.pbx}\n${r.caller_key}`, String(r.owner_name)]));
}

export const ownerKey = (e: PbxEntry): string => `${e.pbx}\n${e.callerKey}`;

/** Whether this tenant's list ever held an entry: without one the page explains itself. */
export async function anyEntries(scope: TenantScope): Promise<boolean> {
  const row = await scope.one<{ found: number }>('SELECT EXISTS (SELECT 1 FROM smart_missed_calls WHERE tenant = @tenant) AS found');
  return Number(row?.found) === 1;
}

export async function findEntry(scope: TenantScope, id: number): Promise<PbxEntry | null> {
  const row = await scope.one<RowDataPacket>('SELECT * FROM smart_missed_calls WHERE tenant = @tenant AND id = ?', [id]);
  return row ? pbxEntryFromRow(row) : null;
}

export interface StoredCall {
  linkedid: string;
  verdict: string;
  direction: string;
  caller: string;
  callerKey: string;
  did: string;
  dialled: string;
  startedAt: string;
  endedAt: string;
  waitSeconds: number;
  answeredBy: string | null;
  rang: { ext: string; tries: number; ringSeconds: number; outcome: string }[];
  routeKind: string;
  routeId: string;
  reasons: string[];
  voicemail: Verdict['voicemail'];
  rowCount: number;
}

function json<T>(text: unknown, fallback: T): T {
  try {
    return typeof text === 'string' && text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

function callFromRow(r: RowDataPacket): StoredCall {
  return {
    linkedid: String(r.linkedid), verdict: String(r.verdict), direction: String(r.direction), caller: String(r.caller),
    callerKey: String(r.caller_key), did: String(r.did), dialled: String(r.dialled), startedAt: String(r.started_at),
    endedAt: String(r.ended_at), waitSeconds: Number(r.wait_s), answeredBy: r.answered_by === null ? null : String(r.answered_by),
    rang: json(r.rang, []), routeKind: String(r.route_kind), routeId: String(r.route_id), reasons: json(r.reasons, []),
    voicemail: json(r.voicemail, null), rowCount: Number(r.row_count),
  };
}

/** The entry's missed calls and the call that cleared it, oldest first. */
export async function callsOfEntry(scope: TenantScope, entry: Entry): Promise<StoredCall[]> {
  const rows = await scope.rows<RowDataPacket>(
    `SELECT * FROM smart_missed_calls_calls WHERE tenant = @tenant AND entry_id = ?
     UNION
     SELECT * FROM smart_missed_calls_calls WHERE tenant = @tenant AND linkedid = ?
     ORDER BY started_at LIMIT 500`,
    [entry.id, entry.clearedLinkedid ?? ''],
  );
  return rows.map(callFromRow);
}

export interface AuditRow {
  event: string;
  reason: string | null;
  actor: string;
  ext: string | null;
  note: string | null;
  createdAt: string;
}

export async function journalOf(scope: TenantScope, entryId: number): Promise<AuditRow[]> {
  const rows = await scope.rows<RowDataPacket>(
    `SELECT event, reason, actor, ext, note, created_at FROM smart_missed_calls_audit
      WHERE tenant = @tenant AND entry_id = ? ORDER BY id LIMIT 1000`,
    [entryId],
  );
  return rows.map((r) => ({
    event: String(r.event), reason: r.reason, actor: String(r.actor), ext: r.ext, note: r.note, createdAt: String(r.created_at).slice(0, 19),
  }));
}

/** The columns a standard CDR report (FreePBX Reports → CDR Reports) shows for each row. */
export const CDR_REPORT_COLUMNS = [
  'calldate', 'clid', 'src', 'dst', 'dcontext', 'channel', 'dstchannel', 'lastapp', 'lastdata', 'duration', 'billsec', 'disposition', 'uniqueid',
] as const;

/**
 * The raw CDR rows of one call. The call was first looked up in this tenant's calls, so
 * the linkedid is the tenant's own; the calldate window keeps the read on the calldate
 * index (an index on linkedid may not exist on older systems). A call that crossed
 * tenants on VitalPBX shares its linkedid with the other tenant's legs: `owns` keeps
 * only this tenant's (by the cdr's tenant column, else the channels' tenant prefixes).
 */
export async function cdrRowsOf(
  cdrPool: Pool, db: DbConfig, call: StoredCall, owns: (row: OwnedRow) => boolean,
): Promise<Record<string, string>[]> {
  const table = `${ident(db.cdrDatabase)}.${ident(db.cdrTable)}`;
  const tenantColumn = (await cdrColumns(cdrPool, db)).has('tenant') ? ', tenant' : '';
  const [rows] = await cdrPool.query<RowDataPacket[]>(
    `SELECT ${CDR_REPORT_COLUMNS.map(ident).join(', ')}${tenantColumn} FROM ${table}
      WHERE calldate >= ? - INTERVAL 1 MINUTE AND calldate <= ? AND linkedid = ?
      ORDER BY calldate, sequence LIMIT 200`,
    [call.startedAt, call.endedAt, call.linkedid],
  );
  const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));
  return rows
    .filter((r) => owns({ tenant: text(r.tenant), channel: text(r.channel), dstchannel: text(r.dstchannel), dcontext: text(r.dcontext) }))
    .map((r) => Object.fromEntries(CDR_REPORT_COLUMNS.map((c) => [c, text(r[c])])));
}

export async function findCall(scope: TenantScope, linkedid: string): Promise<StoredCall | null> {
  const row = await scope.one<RowDataPacket>('SELECT * FROM smart_missed_calls_calls WHERE tenant = @tenant AND linkedid = ?', [linkedid]);
  return row ? callFromRow(row) : null;
}
