import { createHash, createHmac } from 'node:crypto';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
// A note longer than this is cut here too (the web refuses longer ones first).
import { NOTE_MAX_CHARS } from './entries.js';

/** A row of the journal named by id and hash: where the unkeyed chain ends, a remembered head. */
export interface ChainPoint {
  id: number;
  hash: string;
}

/**
 * The secret the journal's chain is keyed with, kept in a file and never in the database:
 * whoever can write the database (the service's own user can) cannot recompute a chain
 * `smc audit verify` accepts. Rows written before the key existed carry the plain SHA-256
 * chain; the file names the last of them (`unkeyed_until`), so those rows still verify —
 * by the old rule and anchored at that row — and no later row may use the old rule.
 */
export interface AuditKey {
  secret: Buffer;
  /** The newest row written before the switch to the keyed chain; null: there was none. */
  unkeyedUntil: ChainPoint | null;
}

/**
 * The append-only journal. Rows are chained: each row's hash covers its fields and the
 * previous row's hash, keyed with an HMAC whose key lives in a file outside the database
 * (audit-key.ts), so `smc audit verify` proves that nothing was altered or removed, even by
 * someone who can write the database and drop the triggers that refuse UPDATE and DELETE.
 *
 * There is one chain per (pbx, tenant), numbered by chain_seq (1, 2, …): under Galera one
 * chain for the whole database would be a single hot row every PBX's writes certify
 * against, and auto-increment ids are neither contiguous nor in write order there, so the
 * order is the chain's own. Each chain's head (its last hash) lives in
 * smart_missed_calls_state as `audit_head:<tenant>` of its pbx and is locked while a
 * transaction appends. Rows written before the per-chain journal (chain_seq NULL) stay on
 * the single chain they were written in, headed by `audit_head`, ordered by id; the first
 * row of every new chain links to that old chain's last hash, so the old chain cannot be
 * cut short without breaking the new ones.
 */
export interface AuditRecord {
  tenant: string;
  entryId: number | null;
  event: string;
  reason: string | null;
  actor: string;
  ext: string | null;
  linkedid: string | null;
  note: string | null;
}

const GENESIS = '0'.repeat(64);
/** The head of the journal written before the per-chain journal (one chain, in id order). */
const LEGACY_HEAD_KEY = 'audit_head';
const headKeyOf = (tenant: string) => `${LEGACY_HEAD_KEY}:${tenant}`;

/**
 * Widths of the journal's columns (migration 1), in characters: MariaDB counts utf8mb4
 * characters, i.e. code points. A value cut by MariaDB instead would no longer match its hash.
 */
const WIDTH = { tenant: 64, event: 24, reason: 24, actor: 80, ext: 32, linkedid: 32, note: NOTE_MAX_CHARS } as const;

/**
 * What MariaDB stores for a JavaScript string: a lone surrogate (half of an emoji, cut or
 * forged) cannot be encoded in utf8mb4 and is stored as U+FFFD, so it is replaced before
 * hashing. String.prototype.toWellFormed does this from Node 20; we run on Node 18.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** The first `max` code points of `text`: an emoji is kept whole or left out, never split. */
export function cutToCodePoints(text: string, max: number): string {
  let count = 0;
  let end = 0;
  for (const char of text) {
    if (count === max) return text.slice(0, end);
    count += 1;
    end += char.length;
  }
  return text;
}

/** Text as a column of `width` characters stores it, byte for byte. */
export function storableText(text: string, width: number): string {
  return cutToCodePoints(wellFormed(text), width);
}

function storable(r: AuditRecord): AuditRecord {
  const fit = (value: string | null, width: number) => (value === null ? null : storableText(value, width));
  return {
    tenant: storableText(r.tenant, WIDTH.tenant), entryId: r.entryId, event: storableText(r.event, WIDTH.event),
    reason: fit(r.reason, WIDTH.reason), actor: storableText(r.actor, WIDTH.actor), ext: fit(r.ext, WIDTH.ext),
    linkedid: fit(r.linkedid, WIDTH.linkedid), note: fit(scrubNote(r.note === null ? null : wellFormed(r.note)), WIDTH.note),
  };
}

function rowBody(r: AuditRecord, createdAt: string): string {
  return JSON.stringify([r.tenant, r.entryId, r.event, r.reason, r.actor, r.ext, r.linkedid, r.note, createdAt]);
}

/** The chain's rule before the key file existed: plain SHA-256. Still how those rows verify. */
export function unkeyedHash(prevHash: string, r: AuditRecord, createdAt: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(rowBody(r, createdAt)).digest('hex');
}

export function auditHash(key: AuditKey, prevHash: string, r: AuditRecord, createdAt: string): string {
  return createHmac('sha256', key.secret).update(prevHash).update('\n').update(rowBody(r, createdAt)).digest('hex');
}

/** Phone numbers never enter the journal: digit runs that could be one are masked in notes. */
export function scrubNote(note: string | null): string | null {
  // Hex digests (the keyed hash a `forgotten` row proves the erasure with) hold digit runs
  // too: they are matched first and kept whole, or the proof itself would be masked.
  return note === null
    ? null
    : note.replace(/[0-9a-f]{32,}|\+?\d[\d\s().-]{4,}\d/g, (m) => (/^(?=.*[a-f])[0-9a-f]{32,}$/.test(m) || m.replace(/\D/g, '').length < 6 ? m : '[number]'));
}

/**
 * Locks a head row until the transaction ends (creating it, with `initial`, when absent).
 * Not INSERT IGNORE: on the existing head row that takes only a SHARED lock, so two
 * appenders (the sync and the notifier journalling `notified`) both got it, then both
 * waited for FOR UPDATE below — a deadlock. ON DUPLICATE KEY UPDATE locks it exclusively.
 */
async function lockHead(conn: PoolConnection, key: string, initial: string): Promise<{ head: string; now: string }> {
  await conn.query(
    `INSERT INTO smart_missed_calls_state (pbx, k, v, updated_at) VALUES (@smc_pbx, ?, ?, NOW()) ON DUPLICATE KEY UPDATE k = k`,
    [key, initial],
  );
  const [head] = await conn.query<RowDataPacket[]>(
    `SELECT v, NOW(3) AS now FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k = ? FOR UPDATE`,
    [key],
  );
  return { head: String(head[0]!.v), now: String(head[0]!.now) };
}

/** The head of the journal written before the per-chain journal: locked while the audit key file is made (audit-key.ts). */
export async function lockChainHead(conn: PoolConnection): Promise<{ head: string; now: string }> {
  return lockHead(conn, LEGACY_HEAD_KEY, GENESIS);
}

/** The last hash of the old single chain of this PBX's rows, or GENESIS when it has none. */
async function legacyEnd(db: Pool | PoolConnection): Promise<string> {
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT hash FROM smart_missed_calls_audit WHERE pbx = @smc_pbx AND chain_seq IS NULL ORDER BY id DESC LIMIT 1',
  );
  return rows[0] ? String(rows[0].hash) : GENESIS;
}

/** Appends records to their tenants' chains; the heads are locked in tenant order, so two appenders never wait on each other in a circle. */
export async function appendAudit(conn: PoolConnection, key: AuditKey, records: AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  const byTenant = new Map<string, AuditRecord[]>();
  for (const r of records.map(storable)) byTenant.set(r.tenant, [...(byTenant.get(r.tenant) ?? []), r]);
  for (const tenant of [...byTenant.keys()].sort()) {
    const chain = byTenant.get(tenant)!;
    const { head: stored, now: createdAt } = await lockHead(conn, headKeyOf(tenant), '');
    const [[last]] = (await conn.query<RowDataPacket[]>(
      'SELECT COALESCE(MAX(chain_seq), 0) AS seq FROM smart_missed_calls_audit WHERE tenant = ? AND pbx = @smc_pbx',
      [tenant],
    )) as unknown as [[{ seq: number }]];
    let prev = stored === '' ? await legacyEnd(conn) : stored;
    let seq = Number(last.seq);
    const values: unknown[] = [];
    for (const rec of chain) {
      const hash = auditHash(key, prev, rec, createdAt);
      seq += 1;
      values.push(rec.tenant, rec.entryId, rec.event, rec.reason, rec.actor, rec.ext, rec.linkedid, rec.note, createdAt, seq, prev, hash);
      prev = hash;
    }
    await conn.query(
      `INSERT INTO smart_missed_calls_audit (pbx, tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, chain_seq, prev_hash, hash)
       VALUES ${chain.map(() => '(@smc_pbx,?,?,?,?,?,?,?,?,?,?,?,?)').join(',')}`,
      values,
    );
    await conn.query(`UPDATE smart_missed_calls_state SET v = ?, updated_at = NOW() WHERE pbx = @smc_pbx AND k = ?`, [prev, headKeyOf(tenant)]);
  }
}

/** The newest row of the journal: what the service log and each digest mail show as the anchor. */
export async function chainHead(pool: Pool): Promise<ChainPoint | null> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT id, hash FROM smart_missed_calls_audit WHERE pbx = @smc_pbx ORDER BY id DESC LIMIT 1');
  return rows[0] ? { id: Number(rows[0].id), hash: String(rows[0].hash) } : null;
}

export function formatChainPoint(p: ChainPoint): string {
  return `${p.id}:${p.hash}`;
}

export interface BadRow {
  id: number;
  problem: string;
  /** The chain the row is in: `legacy` (rows written before per-chain journals) or the tenant's. */
  chain: string;
}

export interface ChainReport {
  chain: string;
  rows: number;
  bad: number;
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  /** Every row that does not hold, chain by chain, in chain order (a row may be named twice, once per problem). */
  bad: BadRow[];
  /** Each chain: the old single one first (when it has rows), then one per tenant. */
  chains: ChainReport[];
  /** The newest row of this PBX's journal. */
  head: ChainPoint | null;
}

export const PROBLEMS = {
  link: 'prev_hash does not match the previous row (a row was removed or reordered)',
  altered: 'contents do not match the row hash (the row was altered, or its hash recomputed without the key)',
  unkeyedAnchor: 'this row no longer holds the hash the key file recorded for the last row written before the keyed chain',
  unkeyedMissing: 'the last row written before the keyed chain, recorded in the key file, is missing',
  truncated: 'the newest rows were removed (chain head does not match the last row)',
  anchorMissing: 'the remembered head is missing (rows were removed)',
  anchorMismatch: 'this row does not hold the remembered head hash (the row was rewritten)',
} as const;

interface JournalRow {
  id: number;
  record: AuditRecord;
  createdAt: string;
  prevHash: string;
  hash: string;
}

const JOURNAL_COLUMNS = 'id, tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, chain_seq, prev_hash, hash';

function journalRow(row: RowDataPacket): JournalRow {
  return {
    id: Number(row.id),
    record: {
      tenant: row.tenant, entryId: row.entry_id === null ? null : Number(row.entry_id), event: row.event, reason: row.reason,
      actor: row.actor, ext: row.ext, linkedid: row.linkedid, note: row.note,
    },
    createdAt: String(row.created_at),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * Walks every chain of this PBX's journal and names every row that does not hold: a row's
 * contents are checked against its own hash whatever came before, so one altered row does
 * not hide the next. The old single chain (rows before per-chain journals) goes in id order,
 * rows up to key.unkeyedUntil by the unkeyed rule; each (pbx, tenant) chain goes in chain_seq
 * order, keyed, from the old chain's last hash. `anchor` is a head remembered from a digest
 * mail or the service log: that row must still exist and hold that hash.
 */
export async function verifyAudit(pool: Pool, key: AuditKey, anchor?: ChainPoint): Promise<VerifyResult> {
  const bad: BadRow[] = [];
  const chains: ChainReport[] = [];
  let rows = 0;
  let seenAnchor = false;
  const checkAnchor = (row: JournalRow, chain: string) => {
    if (!anchor || row.id !== anchor.id) return;
    if (row.hash !== anchor.hash) bad.push({ id: row.id, problem: PROBLEMS.anchorMismatch, chain });
    seenAnchor = true;
  };
  const headOf = async (k: string) => {
    const [stored] = await pool.query<RowDataPacket[]>(`SELECT v FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k = ?`, [k]);
    return stored[0] ? String(stored[0].v) : null;
  };

  // The old single chain, in id order.
  const unkeyedUntil = key.unkeyedUntil;
  let prev = GENESIS;
  let lastId = 0;
  let legacyRows = 0;
  const legacyBadBefore = bad.length;
  let seenUnkeyedEnd = unkeyedUntil === null;
  for (;;) {
    const [batch] = await pool.query<RowDataPacket[]>(
      `SELECT ${JOURNAL_COLUMNS} FROM smart_missed_calls_audit WHERE pbx = @smc_pbx AND chain_seq IS NULL AND id > ? ORDER BY id LIMIT 5000`,
      [lastId],
    );
    if (batch.length === 0) break;
    for (const row of batch.map(journalRow)) {
      const { id } = row;
      if (!seenUnkeyedEnd && id > unkeyedUntil!.id) {
        bad.push({ id, problem: PROBLEMS.unkeyedMissing, chain: 'legacy' });
        seenUnkeyedEnd = true;
      }
      if (row.prevHash !== prev) bad.push({ id, problem: PROBLEMS.link, chain: 'legacy' });
      const unkeyed = unkeyedUntil !== null && id <= unkeyedUntil.id;
      const expected = unkeyed ? unkeyedHash(row.prevHash, row.record, row.createdAt) : auditHash(key, row.prevHash, row.record, row.createdAt);
      if (expected !== row.hash) bad.push({ id, problem: PROBLEMS.altered, chain: 'legacy' });
      if (unkeyedUntil !== null && id === unkeyedUntil.id) {
        if (row.hash !== unkeyedUntil.hash) bad.push({ id, problem: PROBLEMS.unkeyedAnchor, chain: 'legacy' });
        seenUnkeyedEnd = true;
      }
      checkAnchor(row, 'legacy');
      prev = row.hash;
      legacyRows += 1;
      lastId = id;
    }
  }
  if (!seenUnkeyedEnd) bad.push({ id: unkeyedUntil!.id, problem: PROBLEMS.unkeyedMissing, chain: 'legacy' });
  const legacyHead = await headOf(LEGACY_HEAD_KEY);
  if (legacyRows > 0 && legacyHead !== null && legacyHead !== prev) bad.push({ id: lastId, problem: PROBLEMS.truncated, chain: 'legacy' });
  if (legacyRows > 0) chains.push({ chain: 'legacy', rows: legacyRows, bad: bad.length - legacyBadBefore });
  rows += legacyRows;
  const legacyLast = prev;

  // One chain per tenant: those with rows, and those whose head says they had some.
  const [tenantRows] = await pool.query<RowDataPacket[]>(
    `SELECT DISTINCT tenant FROM smart_missed_calls_audit WHERE pbx = @smc_pbx AND chain_seq IS NOT NULL
     UNION SELECT SUBSTRING(k, ?) FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k LIKE ?`,
    [LEGACY_HEAD_KEY.length + 2, `${LEGACY_HEAD_KEY}:%`],
  );
  for (const tenant of tenantRows.map((r) => String(Object.values(r)[0])).sort()) {
    const badBefore = bad.length;
    let chainPrev = legacyLast;
    let seq = 0;
    let count = 0;
    let lastRow = 0;
    for (;;) {
      const [batch] = await pool.query<RowDataPacket[]>(
        `SELECT ${JOURNAL_COLUMNS} FROM smart_missed_calls_audit WHERE tenant = ? AND pbx = @smc_pbx AND chain_seq > ? ORDER BY chain_seq LIMIT 5000`,
        [tenant, seq],
      );
      if (batch.length === 0) break;
      for (const raw of batch) {
        const row = journalRow(raw);
        // A gap in the numbers is a removed row, as is a broken link: one problem either way.
        if (row.prevHash !== chainPrev || Number(raw.chain_seq) !== seq + 1) bad.push({ id: row.id, problem: PROBLEMS.link, chain: tenant });
        if (auditHash(key, row.prevHash, row.record, row.createdAt) !== row.hash) bad.push({ id: row.id, problem: PROBLEMS.altered, chain: tenant });
        checkAnchor(row, tenant);
        chainPrev = row.hash;
        seq = Number(raw.chain_seq);
        lastRow = row.id;
        count += 1;
      }
    }
    const head = await headOf(headKeyOf(tenant));
    if (head !== null && head !== '' && head !== chainPrev) bad.push({ id: lastRow, problem: PROBLEMS.truncated, chain: tenant });
    chains.push({ chain: tenant, rows: count, bad: bad.length - badBefore });
    rows += count;
  }
  if (anchor && !seenAnchor) bad.push({ id: anchor.id, problem: PROBLEMS.anchorMissing, chain: '' });
  return { ok: bad.length === 0, rows, bad, chains, head: await chainHead(pool) };
}
