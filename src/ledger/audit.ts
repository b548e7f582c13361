import { createHash } from 'node:crypto';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';

/**
 * The append-only journal. Rows are chained: each row's hash covers its fields and the
 * previous row's hash, so `smc audit verify` proves that nothing was altered or removed,
 * even by someone who bypassed the triggers that refuse UPDATE and DELETE. The chain head
 * lives in smart_missed_calls_state and is locked while a transaction appends, which also
 * keeps ids in chain order.
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

export function auditHash(prevHash: string, r: AuditRecord, createdAt: string): string {
  const body = JSON.stringify([r.tenant, r.entryId, r.event, r.reason, r.actor, r.ext, r.linkedid, r.note, createdAt]);
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

/** Phone numbers never enter the journal: digit runs that could be one are masked in notes. */
export function scrubNote(note: string | null): string | null {
  // Hex digests (the salted hash a `forgotten` row proves the erasure with) hold digit runs
  // too: they are matched first and kept whole, or the proof itself would be masked.
  return note === null
    ? null
    : note.replace(/[0-9a-f]{32,}|\+?\d[\d\s().-]{4,}\d/g, (m) => (/^(?=.*[a-f])[0-9a-f]{32,}$/.test(m) || m.replace(/\D/g, '').length < 6 ? m : '[number]'));
}

export async function appendAudit(conn: PoolConnection, records: AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  // Not INSERT IGNORE: on the existing head row that takes only a SHARED lock, so two
  // appenders (the sync and the notifier journalling `notified`) both got it, then both
  // waited for FOR UPDATE below — a deadlock. ON DUPLICATE KEY UPDATE locks it exclusively.
  await conn.query(
    `INSERT INTO smart_missed_calls_state (k, v, updated_at) VALUES (?, ?, NOW()) ON DUPLICATE KEY UPDATE k = k`,
    [HEAD_KEY, GENESIS],
  );
  const [head] = await conn.query<RowDataPacket[]>(
    `SELECT v, NOW(3) AS now FROM smart_missed_calls_state WHERE k = ? FOR UPDATE`,
    [HEAD_KEY],
  );
  let prev = String(head[0]!.v);
  const createdAt = String(head[0]!.now);
  const values: unknown[] = [];
  for (const r of records) {
    const note = scrubNote(r.note);
    const rec = { ...r, note };
    const hash = auditHash(prev, rec, createdAt);
    values.push(r.tenant, r.entryId, r.event, r.reason, r.actor, r.ext, r.linkedid, note, createdAt, prev, hash);
    prev = hash;
  }
  const placeholders = records.map(() => '(?,?,?,?,?,?,?,?,?,?,?)').join(',');
  await conn.query(
    `INSERT INTO smart_missed_calls_audit (tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, prev_hash, hash) VALUES ${placeholders}`,
    values,
  );
  await conn.query(`UPDATE smart_missed_calls_state SET v = ?, updated_at = NOW() WHERE k = ?`, [prev, HEAD_KEY]);
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  firstBad?: { id: number; problem: string };
}

/** Walks the whole chain in id order; names the first row that does not hold. */
export async function verifyAudit(pool: Pool): Promise<VerifyResult> {
  let prev = GENESIS;
  let rows = 0;
  let lastId = 0;
  for (;;) {
    const [batch] = await pool.query<RowDataPacket[]>(
      `SELECT id, tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, prev_hash, hash
         FROM smart_missed_calls_audit WHERE id > ? ORDER BY id LIMIT 5000`,
      [lastId],
    );
    if (batch.length === 0) break;
    for (const row of batch) {
      const id = Number(row.id);
      if (row.prev_hash !== prev) return { ok: false, rows, firstBad: { id, problem: 'prev_hash does not match the previous row (a row was removed or reordered)' } };
      const record: AuditRecord = {
        tenant: row.tenant, entryId: row.entry_id === null ? null : Number(row.entry_id), event: row.event, reason: row.reason,
        actor: row.actor, ext: row.ext, linkedid: row.linkedid, note: row.note,
      };
      if (auditHash(prev, record, String(row.created_at)) !== row.hash) return { ok: false, rows, firstBad: { id, problem: 'contents do not match the row hash (the row was altered)' } };
      prev = row.hash;
      rows += 1;
      lastId = id;
    }
  }
  const [head] = await pool.query<RowDataPacket[]>(`SELECT v FROM smart_missed_calls_state WHERE k = ?`, [HEAD_KEY]);
  if (rows > 0 && head[0] && head[0].v !== prev) {
    return { ok: false, rows, firstBad: { id: lastId, problem: 'the newest rows were removed (chain head does not match the last row)' } };
  }
  return { ok: true, rows };
}
