/**
 * What a run left in our tables, in a form two runs can be compared by: everything except
 * what legitimately differs between them — auto-increment ids (a rolled-back transaction
 * uses some up), timestamps of when we wrote, hashes that cover those timestamps, and the
 * interleaving of the sync's journal rows with the notifier's. Entries are named by
 * (caller_key, did), which is their real identity. Only the pool's PBX's rows (@smc_pbx): in a
 * group each PBX's ledger is compared on its own; the journal in chain order, which under
 * Galera (ids from three nodes' auto-increment offsets) is the order it was written in.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';

export interface LedgerSnapshot {
  entries: Record<string, unknown>[];
  calls: Record<string, unknown>[];
  /** Per entry: its journal without `notified` rows, in order. */
  journal: Record<string, string[]>;
  /** Per entry: how many `notified` rows. */
  notified: Record<string, number>;
  /** Journal rows of no entry (forgotten…), in order. */
  journalOther: string[];
  outbox: string[];
  deliveries: string[];
}

export async function ledgerSnapshot(pool: Pool): Promise<LedgerSnapshot> {
  const [entryRows] = await pool.query<RowDataPacket[]>(
    `SELECT id, tenant, caller, caller_key, caller_raw, caller_name, anonymous, did, route_kind, route_id, route_label, status,
            missed_count, total_missed, rang_extensions, first_attempt, last_attempt, last_linkedid, voicemail_left,
            callback_attempts, last_callback_at, last_callback_ext, cleared_by, cleared_at, cleared_ext, cleared_user,
            cleared_linkedid, note
       FROM smart_missed_calls WHERE pbx = @smc_pbx ORDER BY tenant, caller_key, did`,
  );
  const keyOf = new Map<number, string>();
  const entries = entryRows.map(({ id, ...rest }) => {
    keyOf.set(Number(id), `${rest.tenant}|${rest.caller_key}|${rest.did}`);
    return { ...rest, rang_extensions: JSON.parse(String(rest.rang_extensions)) };
  });
  const entryKey = (id: unknown) => (id === null ? null : keyOf.get(Number(id)) ?? `missing entry ${String(id)}`);

  const [callRows] = await pool.query<RowDataPacket[]>(
    `SELECT tenant, linkedid, verdict, direction, caller, caller_key, did, dialled, started_at, ended_at, wait_s, answered_by,
            rang, route_kind, route_id, reasons, explanation, voicemail, entry_id, row_count, rows_digest
       FROM smart_missed_calls_calls WHERE pbx = @smc_pbx ORDER BY tenant, linkedid`,
  );
  const calls = callRows.map(({ entry_id, ...rest }) => ({ ...rest, entry: entryKey(entry_id) }));

  const [auditRows] = await pool.query<RowDataPacket[]>(
    'SELECT tenant, entry_id, event, reason, actor, ext, linkedid, note FROM smart_missed_calls_audit WHERE pbx = @smc_pbx ORDER BY COALESCE(chain_seq, 0), id',
  );
  const journal: Record<string, string[]> = {};
  const notified: Record<string, number> = {};
  const journalOther: string[] = [];
  for (const a of auditRows) {
    const line = [a.tenant, a.event, a.reason, a.actor, a.ext, a.linkedid, a.note].map((v) => v ?? '').join('|');
    const key = entryKey(a.entry_id);
    if (key === null) journalOther.push(line);
    else if (a.event === 'notified') notified[key] = (notified[key] ?? 0) + 1;
    else (journal[key] ??= []).push(line);
  }

  const [outboxRows] = await pool.query<RowDataPacket[]>('SELECT tenant, event, entry_id, linkedid, status FROM smart_missed_calls_outbox WHERE pbx = @smc_pbx');
  const outbox = outboxRows.map((o) => [o.tenant, o.event, entryKey(o.entry_id), o.linkedid, o.status].join('|')).sort();
  const [deliveryRows] = await pool.query<RowDataPacket[]>('SELECT tenant, entry_id, event, channel, target, status FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx');
  const deliveries = deliveryRows.map((d) => [d.tenant, entryKey(d.entry_id), d.event, d.channel, d.target, d.status].join('|')).sort();
  return { entries, calls, journal, notified, journalOther, outbox, deliveries };
}
