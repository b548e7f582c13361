import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { ident } from '../db/pool.js';
import { BadCdrRow, CDR_COLUMNS, toCdrRow, type CdrRow } from './row.js';

export interface WindowRead {
  /** The database's clock when the rows were read: all settle decisions use it. */
  now: string;
  rows: CdrRow[];
  /** Rows that could not be read as CDR, skipped (their calldate as the database gave it). */
  bad: { reason: string; calldate: string }[];
}

/** Bad rows counted by reason, for `smc status`. */
export function countBad(bad: WindowRead['bad']): { reason: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const b of bad) counts.set(b.reason, (counts.get(b.reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => ({ reason, count }));
}

/**
 * Reads every CDR row whose calldate lies in [since, ∞) through the calldate index. The
 * window, not the table, bounds the cost: a cycle costs the same on 100 k rows as on 10 M.
 * We never rely on an index on linkedid — older FreePBX systems do not have one.
 */
/** `now`: the database clock when the caller already asked for it, to save a round trip. */
export async function readWindow(pool: Pool, db: DbConfig, since: string, until?: string, now?: string): Promise<WindowRead> {
  const table = `${ident(db.cdrDatabase)}.${ident(db.cdrTable)}`;
  const columns = await cdrColumns(pool, db);
  // VitalPBX stamps the tenant on every row; FreePBX has no such column.
  const select = [...CDR_COLUMNS, ...(columns.has('tenant') ? ['tenant'] : [])]
    .map((c) => (columns.has(c) ? ident(c) : `'' AS ${ident(c)}`))
    .join(', ');
  now ??= String(((await pool.query<RowDataPacket[]>('SELECT NOW() AS now'))[0][0] as { now: string }).now);
  const [raw] = await pool.query<RowDataPacket[]>(
    `SELECT ${select} FROM ${table} WHERE calldate >= ?${until ? ' AND calldate < ?' : ''}`,
    until ? [since, until] : [since],
  );
  const rows: CdrRow[] = [];
  const bad: WindowRead['bad'] = [];
  for (const r of raw) {
    try {
      rows.push(toCdrRow(r));
    } catch (err) {
      const reason = err instanceof BadCdrRow ? err.reason.replace(/'.*'/, "'…'") : 'unreadable row';
      bad.push({ reason, calldate: String(r.calldate ?? '') });
    }
  }
  return { now, rows, bad };
}

const columnCache = new Map<string, Set<string>>();

/** Which of the columns we read this PBX's cdr table has (cnum, sequence… came later). */
export async function cdrColumns(pool: Pool, db: DbConfig): Promise<Set<string>> {
  const key = `${db.cdrDatabase}.${db.cdrTable}`;
  const cached = columnCache.get(key);
  if (cached) return cached;
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db.cdrDatabase, db.cdrTable],
  );
  if (rows.length === 0) throw new Error(`CDR table ${key} not found (check db.cdr_database / db.cdr_table)`);
  const set = new Set(rows.map((r) => String(r.name).toLowerCase()));
  columnCache.set(key, set);
  return set;
}

/** Groups rows into calls by linkedid. */
export function groupByCall(rows: CdrRow[]): Map<string, CdrRow[]> {
  const calls = new Map<string, CdrRow[]>();
  for (const row of rows) {
    const list = calls.get(row.linkedid);
    if (list) list.push(row);
    else calls.set(row.linkedid, [row]);
  }
  return calls;
}

/**
 * A fingerprint of a call's rows, independent of their order: it only tells the sync
 * whether a call's rows changed since it was classified. Runs on every row of every
 * cycle and backfill, so it hashes the fields in place (two 32-bit FNV-1a lanes) instead
 * of building, sorting and joining strings; rows are combined by addition, which does not
 * care about order but still counts a row that appears twice.
 */
export function rowsDigest(rows: CdrRow[]): string {
  let low = rows.length;
  let high = 0;
  for (const r of rows) {
    const fields = [r.uniqueid, r.sequence, r.calldate, r.channel, r.dstchannel, r.disposition, r.duration, r.billsec, r.lastapp, r.dst];
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ 0x5bd1e995;
    for (const field of fields) {
      const text = typeof field === 'number' ? String(field) : field;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
      }
      a = Math.imul(a ^ 0x7c, 0x01000193);
      b = Math.imul(b ^ 0x7c, 0x01000193) ^ (b >>> 15);
    }
    low = (low + a) | 0;
    high = (high + b) | 0;
  }
  return (high >>> 0).toString(16).padStart(8, '0') + (low >>> 0).toString(16).padStart(8, '0');
}
