import mysql from 'mysql2/promise';
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';

export type { Pool, PoolConnection };

/**
 * One pool for our tables and for reading the PBX's. DATETIMEs come back as the naive
 * strings MariaDB holds (dateStrings): the CDR's times are the PBX's local clock and must
 * not be shifted by the Node process's time zone.
 */
export function createPool(db: DbConfig, connectionLimit = 6): Pool {
  return mysql.createPool({
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
  });
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
