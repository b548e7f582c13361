import { readFileSync } from 'node:fs';
import type { Config, DbConfig, GroupConfig } from '../config/schema.js';
import { ConfigError } from '../config/schema.js';
import { createPool, serverOf, type Pool, type PoolOptions } from './pool.js';

/**
 * The two databases the service uses: the PBX's own (cdr, cel and its configuration tables,
 * read only) and the ledger (our smart_missed_calls_* tables). On a single PBX both are the
 * PBX's MariaDB and one pool serves both; in a group the ledger is the group's cluster.
 */
export interface DbPools {
  cdr: Pool;
  ledger: Pool;
}

/** One pool given where two are taken is a single PBX's: it serves both roles. */
export function poolsOf(pools: Pool | DbPools): DbPools {
  return 'ledger' in pools && 'cdr' in pools ? pools : { cdr: pools as Pool, ledger: pools as Pool };
}

/** Opens the CDR pool and the ledger pool (the same one without a group); close with closePools. */
export function openPools(config: Config, connectionLimit = 6, log: (line: string) => void = () => {}): DbPools {
  const cdr = createPool(config.db, connectionLimit, { pbxId: config.pbxId });
  if (config.group.nodes.length === 0) return { cdr, ledger: cdr };
  return { cdr, ledger: createFailoverPool(groupNodes(config), connectionLimit, { pbxId: config.pbxId, ssl: groupTls(config.group) }, log) };
}

/** The database that holds our tables: the group's on its cluster, else the one `db` names. */
export function ledgerDatabase(config: Config): string {
  return config.group.nodes.length > 0 ? config.group.database : config.db.database;
}

export async function closePools(pools: DbPools): Promise<void> {
  await pools.ledger.end();
  if (pools.cdr !== pools.ledger) await pools.cdr.end();
}

/** The ledger's connection settings of each node, in the order they are tried. */
export function groupNodes(config: Config): DbConfig[] {
  const g = config.group;
  return g.nodes.map((node) => ({
    ...config.db,
    host: node.host,
    port: node.port,
    socket: node.socket,
    user: g.user,
    password: g.password,
    database: g.database,
    credentialsFrom: `${config.db.credentialsFrom === 'built-in defaults' ? 'the configuration' : config.db.credentialsFrom} (group)`,
  }));
}

export function groupTls(group: GroupConfig): PoolOptions['ssl'] {
  const { ca, cert, key, rejectUnauthorized } = group.tls;
  if (ca === '' && cert === '' && key === '') return undefined;
  const read = (path: string, field: string) => {
    if (path === '') return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(field, 'cannot read {path}: {reason}', { path, reason: (err as Error).message });
    }
  };
  return { ca: read(ca, 'group.tls.ca'), cert: read(cert, 'group.tls.cert'), key: read(key, 'group.tls.key'), rejectUnauthorized };
}

/**
 * Errors that say the node is gone or not serving (refused, unreachable, timed out, the
 * connection dropped, Galera's 1047 "WSREP has not yet prepared node for application use"):
 * the pool moves to the next node. Any other error is the statement's own.
 */
const NODE_DOWN = new Set(['ECONNREFUSED', 'ENOENT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'ER_UNKNOWN_COM_ERROR']);
/** Of those, the ones raised before the statement reached the server: safe to send again to the next node. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOENT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ER_UNKNOWN_COM_ERROR']);

function codeOf(err: unknown): string {
  return String((err as { code?: unknown } | null)?.code ?? '');
}

/**
 * A pool on the first node that answers, which moves to the next node (round the list) when
 * the one it uses goes away. A statement or a connection that never reached the node is
 * tried on the next ones; one that may have run (the connection dropped under it) fails, as
 * on one server, and the caller retries its batch (the ledger's writes are idempotent).
 * Which service may write is not this pool's business: the lease is (src/db).
 */
export function createFailoverPool(nodes: DbConfig[], connectionLimit: number, options: PoolOptions, log: (line: string) => void): Pool {
  if (nodes.length === 0) throw new Error('a failover pool needs at least one node');
  let index = 0;
  let current = createPool(nodes[0]!, connectionLimit, options);

  const moveOn = (failed: Pool, err: unknown) => {
    if (failed !== current) return; // another call already moved on
    const from = nodes[index]!;
    index = (index + 1) % nodes.length;
    failed.end().catch(() => {});
    current = createPool(nodes[index]!, connectionLimit, options);
    log(`ledger node ${serverOf(from)} failed (${codeOf(err) || (err as Error).message}); now using ${serverOf(nodes[index]!)}`);
  };

  async function onAnyNode<T>(work: (pool: Pool) => Promise<T>): Promise<T> {
    for (let tried = 1; ; tried += 1) {
      const pool = current;
      try {
        return await work(pool);
      } catch (err) {
        if (!NODE_DOWN.has(codeOf(err))) throw err;
        moveOn(pool, err);
        if (!NEVER_SENT.has(codeOf(err)) || tried >= nodes.length) throw err;
      }
    }
  }

  const own: Record<string, unknown> = {
    query: (...args: unknown[]) => onAnyNode((pool) => (pool.query as (...a: unknown[]) => Promise<unknown>)(...args)),
    execute: (...args: unknown[]) => onAnyNode((pool) => (pool.execute as (...a: unknown[]) => Promise<unknown>)(...args)),
    getConnection: () => onAnyNode((pool) => pool.getConnection()),
    end: () => current.end(),
  };
  return new Proxy({} as Pool, {
    get(_target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(own, prop)) return own[prop];
      const value = (current as unknown as Record<string | symbol, unknown>)[prop];
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(current) : value;
    },
  });
}
