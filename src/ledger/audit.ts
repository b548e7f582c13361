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
 * The chain head lives in smart_missed_calls_state and is locked while a transaction
 * appends, which also keeps ids in chain order.
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
const HEAD_KEY = 'audit_head';


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
 * Locks the chain head row until the transaction ends (creating it on an empty journal).
 * Not INSERT IGNORE: on the existing head row that takes only a SHARED lock, so two
 * appenders (the sync and the notifier journalling `notified`) both got it, then both
 * waited for FOR UPDATE below — a deadlock. ON DUPLICATE KEY UPDATE locks it exclusively.
 */
export async function lockChainHead(conn: PoolConnection): Promise<{ head: string; now: string }> {
  await conn.query(
    `INSERT INTO smart_missed_calls_state (k, v, updated_at) VALUES (?, ?, NOW()) ON DUPLICATE KEY UPDATE k = k`,
    [HEAD_KEY, GENESIS],
  );
  const [head] = await conn.query<RowDataPacket[]>(
    `SELECT v, NOW(3) AS now FROM smart_missed_calls_state WHERE k = ? FOR UPDATE`,
    [HEAD_KEY],
  );
  return { head: String(head[0]!.v), now: String(head[0]!.now) };
}

export async function appendAudit(conn: PoolConnection, key: AuditKey, records: AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  const { head, now: createdAt } = await lockChainHead(conn);
  let prev = head;
  const values: unknown[] = [];
  for (const r of records) {
    const rec = storable(r);
    const hash = auditHash(key, prev, rec, createdAt);
    values.push(rec.tenant, rec.entryId, rec.event, rec.reason, rec.actor, rec.ext, rec.linkedid, rec.note, createdAt, prev, hash);
    prev = hash;
  }
  const placeholders = records.map(() => '(?,?,?,?,?,?,?,?,?,?,?)').join(',');
  await conn.query(
    `INSERT INTO smart_missed_calls_audit (tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, prev_hash, hash) VALUES ${placeholders}`,
    values,
  );
  await conn.query(`UPDATE smart_missed_calls_state SET v = ?, updated_at = NOW() WHERE k = ?`, [prev, HEAD_KEY]);
}

/** The newest row of the journal: what the service log and each digest mail show as the anchor. */
export async function chainHead(pool: Pool): Promise<ChainPoint | null> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT id, hash FROM smart_missed_calls_audit ORDER BY id DESC LIMIT 1');
  return rows[0] ? { id: Number(rows[0].id), hash: String(rows[0].hash) } : null;
}

export function formatChainPoint(p: ChainPoint): string {
  return `${p.id}:${p.hash}`;
}

export interface BadRow {
  id: number;
  problem: string;
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  /** Every row that does not hold, in id order (a row may be named twice, once per problem). */
  bad: BadRow[];
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

/**
 * Walks the whole chain in id order and names every row that does not hold: a row's
 * contents are checked against its own hash whatever came before, so one altered row does
 * not hide the next. Rows up to key.unkeyedUntil verify by the unkeyed rule, every later
 * one by the keyed rule. `anchor` is a head remembered from a digest mail or the service
 * log: that row must still exist and hold that hash.
 */
export async function verifyAudit(pool: Pool, key: AuditKey, anchor?: ChainPoint): Promise<VerifyResult> {
  const bad: BadRow[] = [];
  const unkeyedUntil = key.unkeyedUntil;
  let prev = GENESIS;
  let rows = 0;
  let lastId = 0;
  let seenUnkeyedEnd = unkeyedUntil === null;
  let seenAnchor = false;
  for (;;) {
    const [batch] = await pool.query<RowDataPacket[]>(
      `SELECT id, tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, prev_hash, hash
         FROM smart_missed_calls_audit WHERE id > ? ORDER BY id LIMIT 5000`,
      [lastId],
    );
    if (batch.length === 0) break;
    for (const row of batch) {
      const id = Number(row.id);
      if (!seenUnkeyedEnd && id > unkeyedUntil!.id) {
        bad.push({ id, problem: PROBLEMS.unkeyedMissing });
        seenUnkeyedEnd = true;
      }
      if (row.prev_hash !== prev) bad.push({ id, problem: PROBLEMS.link });
      const record: AuditRecord = {
        tenant: row.tenant, entryId: row.entry_id === null ? null : Number(row.entry_id), event: row.event, reason: row.reason,
        actor: row.actor, ext: row.ext, linkedid: row.linkedid, note: row.note,
      };
      const unkeyed = unkeyedUntil !== null && id <= unkeyedUntil.id;
      const expected = unkeyed ? unkeyedHash(row.prev_hash, record, String(row.created_at)) : auditHash(key, row.prev_hash, record, String(row.created_at));
      if (expected !== row.hash) bad.push({ id, problem: PROBLEMS.altered });
      if (unkeyedUntil !== null && id === unkeyedUntil.id) {
        if (row.hash !== unkeyedUntil.hash) bad.push({ id, problem: PROBLEMS.unkeyedAnchor });
        seenUnkeyedEnd = true;
      }
      if (anchor && id === anchor.id) {
        if (row.hash !== anchor.hash) bad.push({ id, problem: PROBLEMS.anchorMismatch });
        seenAnchor = true;
      }
      prev = row.hash;
      rows += 1;
      lastId = id;
    }
  }
  if (!seenUnkeyedEnd) bad.push({ id: unkeyedUntil!.id, problem: PROBLEMS.unkeyedMissing });
  if (anchor && !seenAnchor) bad.push({ id: anchor.id, problem: PROBLEMS.anchorMissing });
  const [stored] = await pool.query<RowDataPacket[]>(`SELECT v FROM smart_missed_calls_state WHERE k = ?`, [HEAD_KEY]);
  if (rows > 0 && stored[0] && stored[0].v !== prev) bad.push({ id: lastId, problem: PROBLEMS.truncated });
  return { ok: bad.length === 0, rows, bad, head: rows > 0 ? { id: lastId, hash: prev } : null };
}
