import type { Pool, RowDataPacket } from 'mysql2/promise';
import { INSERT_COLUMNS } from '../cdr/generator/insert.js';
import { naiveDatetime, naiveSeconds } from '../cdr/row.js';
import { ident } from '../db/pool.js';

/** A block of generated CDR rows kept aside, copied into the cdr table moved in time. */
export interface Block {
  pool: Pool;
  cdrDb: string;
  cdrTable: string;
  blockTable: string;
}

/** Seconds of the block's first and last calldate. */
export async function blockSpan(block: Block): Promise<{ first: number; last: number }> {
  const [rows] = await block.pool.query<RowDataPacket[]>(
    `SELECT MIN(calldate) AS first, MAX(calldate) AS last FROM ${ident(block.cdrDb)}.${ident(block.blockTable)}`,
  );
  if (!rows[0]?.first) throw new Error(`${block.cdrDb}.${block.blockTable} is empty`);
  return { first: naiveSeconds(String(rows[0].first)), last: naiveSeconds(String(rows[0].last)) };
}

/**
 * Copies the block's rows into cdr, `shift` seconds later (negative: earlier). The
 * uniqueid/linkedid epoch moves with the calldate, so copies never share ids and each
 * call keeps its root row (uniqueid = linkedid). Done inside MariaDB: ~10x faster than
 * generating the rows again.
 */
export async function insertShiftedCopy(block: Block, shift: number, calldateRange?: { from: number; to: number }): Promise<number> {
  const moved = (column: string) => `CONCAT(CAST(SUBSTRING_INDEX(${column}, '.', 1) AS SIGNED) + ${Math.trunc(shift)}, '.', SUBSTRING_INDEX(${column}, '.', -1))`;
  const select = INSERT_COLUMNS.map((c) => {
    if (c === 'calldate') return `calldate + INTERVAL ${Math.trunc(shift)} SECOND`;
    if (c === 'uniqueid' || c === 'linkedid') return moved(c);
    return ident(c);
  });
  const range = calldateRange ? ' WHERE calldate >= ? AND calldate < ?' : '';
  const [res] = await block.pool.query(
    `INSERT INTO ${ident(block.cdrDb)}.${ident(block.cdrTable)} (${INSERT_COLUMNS.map(ident).join(', ')})
     SELECT ${select.join(', ')} FROM ${ident(block.cdrDb)}.${ident(block.blockTable)}${range}`,
    calldateRange ? [naiveDatetime(calldateRange.from), naiveDatetime(calldateRange.to)] : [],
  );
  return (res as { affectedRows: number }).affectedRows;
}

/**
 * Older history under a block: copies laid one block-span apart going back from today,
 * until cdr holds `totalRows` minus one block (the newest copy, aligned to the minute the
 * cycle is timed, comes later). Returns the rows written.
 */
export async function writeHistory(block: Block, totalRows: number): Promise<number> {
  const span = await blockSpan(block);
  const [[{ n: blockRows }]] = (await block.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM ${ident(block.cdrDb)}.${ident(block.blockTable)}`,
  )) as unknown as [[{ n: number }]];
  const [[{ now }]] = (await block.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const step = Math.ceil((span.last - span.first) / 86_400 + 1) * 86_400;
  const newest = naiveSeconds(now) - span.last;
  let written = 0;
  for (let k = 1; written + Number(blockRows) * 2 <= totalRows; k++) written += await insertShiftedCopy(block, newest - k * step);
  return written;
}
