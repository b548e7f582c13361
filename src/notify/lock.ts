import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';

const LOCK_NAME = 'smartmissedcalls.notify';

/**
 * Exactly one instance delivers notifications: the one holding a MariaDB named lock on its
 * own connection. The lock dies with the connection, so a killed instance frees it; the
 * instance that takes over knows that every delivery still marked `sending` was cut off.
 */
export class NotifyLock {
  private conn: PoolConnection | null = null;

  constructor(private readonly pool: Pool) {}

  /** 'kept' when this instance already held it, 'acquired' when it just took it over. */
  async acquire(): Promise<'kept' | 'acquired' | 'busy'> {
    if (this.conn) {
      try {
        const [rows] = await this.conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [LOCK_NAME]);
        if (rows[0]?.mine === 1) return 'kept';
      } catch {
        /* the connection died with the lock: try again below */
      }
      this.drop();
    }
    const conn = await this.pool.getConnection();
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [LOCK_NAME]);
      if (rows[0]?.got === 1) {
        this.conn = conn;
        return 'acquired';
      }
    } catch {
      /* treated as not acquired */
    }
    conn.release();
    return 'busy';
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
