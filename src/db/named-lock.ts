import { createHash } from 'node:crypto';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';

/**
 * "Exactly one instance does this", whichever way it is kept: a named lock on one MariaDB
 * server (NamedLock), or a lease row across a Galera cluster (Lease, lease.ts).
 */
export interface SingleInstanceLock {
  readonly held: boolean;
  /** 'kept' when this instance already held it, 'acquired' when it just took it, 'busy' when another holds it. */
  acquire(): Promise<'kept' | 'acquired' | 'busy'>;
  release(): Promise<void>;
  /**
   * Run first in each write transaction of the holder: throws when this instance no longer
   * holds it, so the transaction writes nothing.
   */
  fence(conn: PoolConnection): Promise<void>;
}

/**
 * "Exactly one instance does this": a MariaDB named lock held on a connection of its own.
 * The lock dies with the connection, so a killed instance frees it and another takes over.
 * Lock names are server-wide, so the name carries our database: two installs (or two test
 * databases) on one MariaDB server do not block each other.
 */
export class NamedLock implements SingleInstanceLock {
  private conn: PoolConnection | null = null;
  private readonly name: string;

  constructor(private readonly pool: Pool, purpose: string, database: string) {
    const name = `smc.${purpose}.${database}`;
    // MariaDB lock names are at most 64 characters.
    this.name = name.length <= 64 ? name : `smc.${purpose}.${createHash('sha1').update(database).digest('hex')}`;
  }

  get held(): boolean {
    return this.conn !== null;
  }

  /** 'kept' when this instance already held it, 'acquired' when it just took it, 'busy' when another holds it. */
  async acquire(): Promise<'kept' | 'acquired' | 'busy'> {
    if (this.conn) {
      try {
        const [rows] = await this.conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [this.name]);
        if (rows[0]?.mine === 1) return 'kept';
      } catch {
        /* the connection died with the lock: try again below */
      }
      this.drop();
    }
    const conn = await this.pool.getConnection();
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [this.name]);
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
    await this.conn.query('SELECT RELEASE_LOCK(?)', [this.name]).catch(() => {});
    this.conn.release();
    this.conn = null;
  }

  /**
   * Nothing more than acquire() checks: on one server the lock lives on this instance's own
   * connection, which dies with the instance (single-server behaviour as it always was).
   */
  async fence(): Promise<void> {}

  private drop(): void {
    try {
      this.conn?.destroy();
    } catch {
      /* already gone */
    }
    this.conn = null;
  }
}
