/**
 * Writing generated rows into a PBX-shaped cdr table, the columns cdr_adaptive_odbc fills
 * on FreePBX. Only for test and demo databases: the product never writes to cdr.
 */
import type { Pool } from '../../db/pool.js';
import { ident } from '../../db/pool.js';
import { CDR_COLUMNS } from '../row.js';
import type { GeneratedRow } from './legs.js';
import type { CounterStart } from './counters.js';

export const INSERT_COLUMNS = [...CDR_COLUMNS, 'outbound_cnam', 'amaflags'] as const;

/** Asterisk's default AMA flag, DOCUMENTATION. */
const AMAFLAGS_DOCUMENTATION = 3;

export interface CdrTarget {
  pool: Pool;
  cdrDb: string;
  cdrTable?: string;
}

export function rowValues(row: GeneratedRow): (string | number)[] {
  return INSERT_COLUMNS.map((column) => (column === 'amaflags' ? AMAFLAGS_DOCUMENTATION : row[column]));
}

/** One multi-row INSERT; mysql2 expands the nested array and escapes every value. */
export async function insertRows(target: CdrTarget, rows: GeneratedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await target.pool.query(
    `INSERT INTO ${ident(target.cdrDb)}.${ident(target.cdrTable ?? 'cdr')} (${INSERT_COLUMNS.map(ident).join(', ')}) VALUES ?`,
    [rows.map(rowValues)],
  );
}

/**
 * Counters that continue after what the table already holds, so generated uniqueids and
 * sequences never collide with earlier rows (one full scan, once per process and table).
 */
export async function countersAfterTable(target: CdrTarget): Promise<CounterStart> {
  const [rows] = await target.pool.query(
    `SELECT COALESCE(MAX(sequence), -1) + 1 AS sequence,
            COALESCE(MAX(CAST(SUBSTRING_INDEX(uniqueid, '.', -1) AS UNSIGNED)), -1) + 1 AS uniqueid
       FROM ${ident(target.cdrDb)}.${ident(target.cdrTable ?? 'cdr')}`,
  );
  const first = (rows as { sequence: number | string; uniqueid: number | string }[])[0]!;
  const next = Math.max(Number(first.sequence), Number(first.uniqueid));
  return { sequence: Number(first.sequence), uniqueid: Number(first.uniqueid), pjsip: next, local: next };
}
