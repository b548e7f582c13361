import mysql from 'mysql2/promise';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { DEFAULT_PBX_ID, type DbConfig } from '../config/schema.js';

export type { Pool, PoolConnection };

export interface PoolOptions {
  /** The pbx id every connection's @smc_pbx holds (see below); the CDR pool leaves the default. */
  pbxId?: string;
  /** TLS to the server (group mode: PBX to cluster). */
  ssl?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
}

/**
 * A pool on one server. DATETIMEs come back as the naive strings MariaDB holds
 * (dateStrings): the CDR's times are the PBX's local clock and must not be shifted by the
 * Node process's time zone.
 *
 * Every connection starts with @smc_pbx set to this PBX's id: the ledger's statements stamp
 * and filter our rows by it (`pbx = @smc_pbx`), so the PBXs of a group share one database
 * without a pbx parameter threaded through every function that already takes the tenant.
 */
export function createPool(db: DbConfig, connectionLimit = 6, options: PoolOptions = {}): Pool {
  const pool = mysql.createPool({
    ...(db.socket ? { socketPath: db.socket } : { host: db.host, port: db.port }),
    user: db.user,
    password: db.password,
    database: db.database,
    connectionLimit,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
    multipleStatements: false,
    connectTimeout: 5000,
    ...(options.ssl ? { ssl: options.ssl } : {}),
  });
  const pbxId = options.pbxId ?? DEFAULT_PBX_ID;
  // Queued on the new connection before whatever it was opened for, so no statement runs without it.
  pool.pool.on('connection', (conn) => {
    conn.query('SET @smc_pbx = CAST(? AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin', [pbxId], (err) => {
      if (err) conn.destroy();
    });
  });
  return pool;
}

/** Where the pool connects, for messages: the socket, or host:port. */
export function serverOf(db: DbConfig): string {
  return db.socket ? `socket ${db.socket}` : `${db.host}:${db.port}`;
}

/**
 * MariaDB's "Access denied … (using password: NO)" says neither which of our settings
 * chose that user nor that the password was simply not given: name both, never the
 * password itself. Other errors pass through unchanged.
 */
export function explainAccessDenied(err: unknown, db: DbConfig): unknown {
  if ((err as { code?: unknown } | null)?.code !== 'ER_ACCESS_DENIED_ERROR') return err;
  const password = db.password === '' ? 'no password given' : 'a password given';
  return new Error(
    `access denied for ${db.user} at ${serverOf(db)} (${password}; connection settings from ${db.credentialsFrom})`,
    { cause: err },
  );
}

/** Backtick-quotes an identifier that validation already restricted to \w characters. */
export function ident(name: string): string {
  if (!/^\w{1,64}$/.test(name)) throw new Error(`refusing SQL identifier '${name}'`);
  return '`' + name + '`';
}

export async function inTransaction<T>(pool: Pool, work: (conn: PoolConnection) => Promise<T>): Promise<T> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const result = await work(conn);
    await conn.commit();
    return result;
  } catch (err) {
    await conn.rollback().catch(() => {});
    throw err;
  } finally {
    conn.release();
  }
}

/**
 * ER_LOCK_DEADLOCK (1213): an InnoDB deadlock on one server, and under Galera a certification
 * conflict, which a transaction can meet at any statement or at COMMIT. Either way nothing of
 * the transaction was kept, and running it again is the remedy.
 */
export function isConflict(err: unknown): boolean {
  const e = err as { errno?: unknown; code?: unknown } | null;
  return e?.errno === 1213 || e?.code === 'ER_LOCK_DEADLOCK';
}

export interface ConflictRetry {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait before the second try; doubled before each later one, with jitter. */
  baseDelayMs: number;
  /** No wait longer than this (before jitter). */
  maxDelayMs?: number;
  /** Told about each conflict that is tried again (attempt = the one that failed, from 1). */
  onRetry?: (attempt: number, err: unknown) => void;
}

/**
 * Ten tries over about 5 s at most: several PBXs of a group writing at once (a backfill each,
 * a burst of calls) deadlock each other's batches on the entries' secondary indexes even on one
 * server, and five tries within 0.3 s were seen used up by ten concurrent backfills.
 */
export const DEFAULT_CONFLICT_RETRY: ConflictRetry = { attempts: 10, baseDelayMs: 20, maxDelayMs: 1000 };

/**
 * inTransaction, run again from the start on a conflict (isConflict): `work` must keep all its
 * state in the database or build it afresh on each call, since a rolled-back attempt leaves
 * nothing behind. Other errors, and a conflict on the last attempt, are thrown.
 */
export async function inRetriedTransaction<T>(pool: Pool, work: (conn: PoolConnection) => Promise<T>, retry: ConflictRetry = DEFAULT_CONFLICT_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(pool, work);
    } catch (err) {
      if (!isConflict(err) || attempt >= retry.attempts) throw err;
      retry.onRetry?.(attempt, err);
      // Jittered, so two writers that met once do not meet again at the same instant.
      const delay = Math.min(retry.baseDelayMs * 2 ** (attempt - 1), retry.maxDelayMs ?? Infinity);
      await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * delay));
    }
  }
}
