import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { ident } from '../db/pool.js';

/** A table that looks like Asterisk CDR: it has calldate, uniqueid and linkedid. */
export interface CdrTableFound {
  database: string;
  table: string;
  columns: string[];
  /** The columns VitalPBX adds (tenant, calltype, did, trunk, source, destination) that this table has. */
  vitalpbxColumns: string[];
  calldateIndexed: boolean;
}

const VITALPBX_COLUMNS = ['tenant', 'calltype', 'did', 'trunk', 'source', 'destination', 'cdr_id'];

/**
 * Every CDR-shaped table this connection can see. Field reports disagree on where
 * VitalPBX keeps CDR (asterisk.cdr for all tenants, or a database per tenant); this asks
 * information_schema instead of trusting either, so `smc doctor` can say what it found.
 */
export async function findCdrTables(pool: Pool): Promise<CdrTableFound[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT c.TABLE_SCHEMA AS db, c.TABLE_NAME AS tbl, GROUP_CONCAT(LOWER(c.COLUMN_NAME) ORDER BY c.ORDINAL_POSITION) AS cols
       FROM information_schema.COLUMNS c
      WHERE c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
      GROUP BY c.TABLE_SCHEMA, c.TABLE_NAME
     HAVING FIND_IN_SET('calldate', cols) AND FIND_IN_SET('uniqueid', cols) AND FIND_IN_SET('linkedid', cols)
      ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME`,
  );
  const found: CdrTableFound[] = [];
  for (const r of rows) {
    const columns = String(r.cols).split(',');
    const [idx] = await pool.query<RowDataPacket[]>(
      "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = 'calldate' AND SEQ_IN_INDEX = 1 LIMIT 1",
      [r.db, r.tbl],
    );
    found.push({
      database: String(r.db),
      table: String(r.tbl),
      columns,
      vitalpbxColumns: VITALPBX_COLUMNS.filter((c) => columns.includes(c)),
      calldateIndexed: idx.length > 0,
    });
  }
  return found;
}

/** Tenants stamped in the last day's rows of a cdr table with a tenant column (read through the calldate index). */
export async function recentTenants(pool: Pool, db: DbConfig): Promise<{ tenant: string; rows: number }[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT tenant, COUNT(*) AS n FROM ${ident(db.cdrDatabase)}.${ident(db.cdrTable)} WHERE calldate >= NOW() - INTERVAL 1 DAY GROUP BY tenant ORDER BY n DESC`,
  );
  return rows.map((r) => ({ tenant: String(r.tenant ?? ''), rows: Number(r.n) }));
}

