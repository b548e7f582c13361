import { createHmac } from 'node:crypto';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { normaliseNumber, NO_RULES } from '../clear/numbers.js';
import { knownTenants, loadSettings } from '../config/settings-store.js';
import { inRetriedTransaction } from '../db/pool.js';
import { appendAudit, storableText } from './audit.js';
import type { AuditKey } from './audit-key.js';
import { rollupDeltas, writeRollup } from './rollup.js';
import { clear, NOTE_MAX_CHARS, numberRules, type Entry } from './entries.js';
import { enqueueEvents, entryFromRow, saveEntries, auditRecordOf } from './store.js';
import { queueCrmForget } from '../notify/crm/forget.js';
import { NotFound } from './not-found.js';

/**
 * A permitted user closes an entry by hand; the note is required and kept. Each action here
 * re-reads what it changes inside its transaction, so a conflict (in a group: the sync
 * writing the same journal on another node) runs it again whole instead of failing the user.
 */
export async function resolveEntry(pool: Pool, auditKey: AuditKey, tenant: string, id: number, user: string, note: string): Promise<Entry> {
  // Cut by code point and made well-formed here, so the entry and its journal row keep the
  // same note and the journal can always verify it (the web refuses over-long notes first).
  const text = storableText(note.trim(), NOTE_MAX_CHARS);
  if (!text) throw new Error('note: a note is required to resolve an entry');
  return inRetriedTransaction(pool, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND id = ? FOR UPDATE', [tenant, id]);
    if (!rows[0]) throw new NotFound(`entry ${id} not found`);
    const entry = entryFromRow(rows[0]);
    if (entry.status !== 'open') throw new Error(`entry ${id} is already cleared (${entry.clearedBy})`);
    const [[{ now }]] = (await conn.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    clear(entry, 'manual', now, { user, note: text });
    await saveEntries(conn, [entry], now);
    const event = { entry, event: 'cleared' as const, reason: 'manual' as const, actor: `user:${user}`, ext: null, linkedid: null, note: text };
    await appendAudit(conn, auditKey, [auditRecordOf(event)]);
    await enqueueEvents(conn, [event], now);
    return entry;
  });
}

/** Retention: open entries whose last attempt is older than `days` are cleared as expired. */
export async function expireEntries(pool: Pool, auditKey: AuditKey, tenant: string, days: number): Promise<number> {
  return inRetriedTransaction(pool, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT * FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND status = 'open' AND last_attempt < NOW() - INTERVAL ? DAY FOR UPDATE`,
      [tenant, days],
    );
    if (rows.length === 0) return 0;
    const [[{ now }]] = (await conn.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    const entries = rows.map(entryFromRow);
    for (const e of entries) clear(e, 'expired', now, {});
    await saveEntries(conn, entries, now);
    const events = entries.map((entry) => ({ entry, event: 'cleared' as const, reason: 'expired' as const, actor: 'cron', ext: null, linkedid: null, note: null }));
    await appendAudit(conn, auditKey, events.map(auditRecordOf));
    await enqueueEvents(conn, events, now);
    return entries.length;
  });
}

/**
 * The erasure proof a `forgotten` row keeps: an HMAC of the number's key under the journal's
 * key, which lives outside the database. Whoever holds the key file can confirm that a given
 * number was forgotten; the database alone cannot, however few digits a number has (a salted
 * hash with the salt in the database fell to brute force in minutes).
 */
export function forgetProof(auditKey: AuditKey, numberKey: string): string {
  return createHmac('sha256', auditKey.secret).update('smc forget\n').update(numberKey).digest('hex');
}

/**
 * GDPR: removes every trace of a caller — entries, classified calls, name lookups (the CRM's
 * cached names too), imported contacts, queued notifications and their delivery records —
 * and journals only a keyed hash of the number (forgetProof), so the erasure itself is
 * provable without keeping the number. What we created in a tenant's CRM (tasks, a contact
 * the delivery created) is removed through the outbox (src/notify/crm/forget.ts): `crm`
 * counts the removals queued, each journalled as `crm_forgotten` once the CRM confirms it.
 * Mails that list many callers (digests, held-back summaries) are kept as records of what
 * was sent (deleting one would make it be queued and sent again) with this caller cut out.
 */
export async function forgetNumber(pool: Pool, auditKey: AuditKey, number: string, actor: string): Promise<{ entries: number; calls: number; crm: number }> {
  const key = normaliseNumber(number, NO_RULES).key;
  if (key === 'anonymous' || key.length < 3) throw new Error(`'${number}' is not a phone number`);
  // Entries are keyed by each tenant's own rules (country, match digits): every key this
  // number has under any tenant's rules is the same person.
  const keys = new Set([key]);
  for (const tenant of await knownTenants(pool)) keys.add(normaliseNumber(number, numberRules(await loadSettings(pool, tenant))).key);
  const keyList = [...keys];
  const proof = forgetProof(auditKey, key);
  return inRetriedTransaction(pool, async (conn) => {
    const [entries] = await conn.query<RowDataPacket[]>('SELECT id, tenant, caller_name FROM smart_missed_calls WHERE pbx = @smc_pbx AND caller_key IN (?) FOR UPDATE', [keyList]);
    const ids = entries.map((e) => Number(e.id));
    const [calls] = await conn.query<RowDataPacket[]>(
      `SELECT tenant, linkedid, started_at, direction, verdict, route_kind, route_id, did, caller_key FROM smart_missed_calls_calls
        WHERE pbx = @smc_pbx AND (caller_key IN (?) OR entry_id IN (?)) FOR UPDATE`,
      [keyList, ids.length ? ids : [0]],
    );
    if (calls.length) {
      await conn.query('DELETE FROM smart_missed_calls_calls WHERE pbx = @smc_pbx AND (caller_key IN (?) OR entry_id IN (?))', [keyList, ids.length ? ids : [0]]);
      // The rollups let go of the calls, so they stay the count of the calls rows and a call
      // the sync reads again later is not counted twice.
      await writeRollup(conn, rollupDeltas(
        calls.map((c) => ({
          tenant: c.tenant, startedAt: c.started_at, direction: c.direction, verdict: c.verdict, routeKind: c.route_kind, routeId: c.route_id, did: c.did,
          callerKey: c.caller_key,
        })),
        [],
      ));
    }
    // The per-caller counts hold the number itself: its rows go whatever they count, and so
    // does any other caller's row the deleted calls left at 0.
    const touched = [...new Set([...keyList, ...calls.map((c) => String(c.caller_key))])];
    await conn.query('DELETE FROM smart_missed_calls_caller_misses WHERE pbx = @smc_pbx AND (caller_key IN (?) OR (caller_key IN (?) AND calls = 0))', [keyList, touched]);
    const crm = await queueCrmForget(conn, ids);
    if (ids.length) {
      await conn.query('DELETE FROM smart_missed_calls_outbox WHERE pbx = @smc_pbx AND entry_id IN (?)', [ids]);
      // When the caller's entry was missed and escalated is a trace of them too.
      await conn.query('DELETE FROM smart_missed_calls_escalations WHERE pbx = @smc_pbx AND entry_id IN (?)', [ids]);
      await conn.query('DELETE FROM smart_missed_calls WHERE pbx = @smc_pbx AND id IN (?)', [ids]);
    }
    const [named] = await conn.query<RowDataPacket[]>(
      `SELECT name FROM smart_missed_calls_lookups WHERE pbx = @smc_pbx AND caller_key IN (?) UNION SELECT name FROM smart_missed_calls_contacts WHERE pbx = @smc_pbx AND caller_key IN (?)
       UNION SELECT name FROM smart_missed_calls_crm_names WHERE pbx = @smc_pbx AND caller_key IN (?)`,
      [keyList, keyList, keyList],
    );
    const names = [...entries.map((e) => String(e.caller_name ?? '')), ...named.map((r) => String(r.name ?? ''))];
    await conn.query('DELETE FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND (caller_key IN (?) OR entry_id IN (?))', [keyList, ids.length ? ids : [0]]);
    await conn.query('DELETE FROM smart_missed_calls_lookups WHERE pbx = @smc_pbx AND caller_key IN (?)', [keyList]);
    await conn.query('DELETE FROM smart_missed_calls_contacts WHERE pbx = @smc_pbx AND caller_key IN (?)', [keyList]);
    await conn.query('DELETE FROM smart_missed_calls_crm_names WHERE pbx = @smc_pbx AND caller_key IN (?)', [keyList]);
    await redactDeliveries(conn, keyList, names);
    const tenants = new Set(entries.map((e) => String(e.tenant)));
    if (tenants.size === 0) tenants.add('default');
    await appendAudit(
      conn,
      auditKey,
      [...tenants].map((tenant) => ({ tenant, entryId: null, event: 'forgotten', reason: null, actor, ext: null, linkedid: null, note: `hmac-sha256:${proof}` })),
    );
    return { entries: ids.length, calls: calls.length, crm };
  });
}

const REMOVED = '[removed]';

/**
 * Cuts a forgotten caller out of the stored mails that name several callers: the number in
 * any written form (+40 722 000 333, 0722-000-333: the key's digits with separators
 * between them, whatever comes before, no digit after) and the names we knew them by.
 */
async function redactDeliveries(conn: PoolConnection, keys: string[], names: string[]): Promise<void> {
  const shortest = keys.reduce((a, b) => (a.length <= b.length ? a : b));
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT id, payload FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND payload LIKE ? FOR UPDATE',
    [`%${shortest.slice(-2)}%`],
  );
  const numberPattern = new RegExp(keys.map((k) => `(?:\\+?\\d[\\d\\s().-]*?)?${k.split('').join('[\\s().-]?')}(?!\\d)`).join('|'), 'g');
  const nameForms = [...new Set(names.map((n) => n.trim()).filter((n) => n.length >= 3))].flatMap((n) => {
    const json = JSON.stringify(n).slice(1, -1);
    const html = n.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');
    return [...new Set([json, JSON.stringify(html).slice(1, -1)])];
  });
  for (const row of rows) {
    const before = String(row.payload);
    let after = before.replace(numberPattern, REMOVED);
    for (const form of nameForms) after = after.split(form).join(REMOVED);
    if (after !== before) await conn.query('UPDATE smart_missed_calls_deliveries SET payload = ? WHERE id = ?', [after, row.id]);
  }
}
