import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';

const LOCK_NAME = 'smartmissedcalls.sync';

/**
 * Exactly one instance syncs: the one holding a MariaDB named lock on its own connection.
 * The lock dies with the connection, so a killed instance frees it and another takes over.
 */
export class SyncLock {
  private conn: PoolConnection | null = null;

  constructor(private readonly pool: Pool) {}

  get held(): boolean {
    return this.conn !== null;
  }

  /** Tries to take the lock without waiting; true when this instance holds it. */
  async acquire(): Promise<boolean> {
    if (this.conn) {
      try {
        const [rows] = await this.conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [LOCK_NAME]);
        if (rows[0]?.mine === 1) return true;
      } catch {
        /* the connection died with the lock: fall through and try again */
      }
      this.drop();
    }
    const conn = await this.pool.getConnection();
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [LOCK_NAME]);
      if (rows[0]?.got === 1) {
        this.conn = conn;
        return true;
      }
    } catch {
      /* treated as not acquired */
    }
    conn.release();
    return false;
  }

  async release(): Promise<void> {
    if (!this.conn) return;
    await this.conn.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]).catch(() => {});
    this.conn.release();
    this.conn = null;
  }

  private drop(): void {
    try {
      this.conn?.destroy();
    } catch {
      /* already gone */
    }
    this.conn = null;
  }
}
