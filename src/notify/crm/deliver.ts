import { createHash } from 'node:crypto';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { TenantSettings } from '../../config/schema.js';
import type { Translate } from '../../detect/explain.js';
import { normaliseNumber } from '../../clear/numbers.js';
import { numberRules } from '../../ledger/entries.js';
import type { Delivery, OutboxPayload } from '../deliveries.js';
import { wallClockSeconds } from '../digest-period.js';
import { escalationOf, type EscalationInfo } from '../escalation.js';
import { CrmError, type CrmConnector, type CrmContact, type CrmTask, type PhoneVariants } from './connector.js';

/**
 * One `crm` delivery: the CRM's task for an entry brought to the state the ledger event says
 * (created → open task; incremented → its text updated; cleared → completed with the reason;
 * reopened → open again). One task per entry and CRM, its id kept in
 * smart_missed_calls_crm_objects.
 *
 * Never a second task, even across a crash between the CRM's 201 and our record of the id:
 *  - every task carries a marker (a token derived from pbx, tenant and entry) in its text;
 *  - before creating, the CRM is searched for the marker; a hit is that task;
 *  - the time a create starts is committed before the request, and a create whose answer was
 *    never recorded is not repeated until `settleMs` after it started: a CRM's search index
 *    lags its writes by seconds, so "not found" right after a create proves nothing.
 */

export interface TaskSync {
  pool: Pool;
  connector: CrmConnector;
  settings: TenantSettings;
  /** The task's text in the tenant's language. */
  t: Translate;
  /** How long an unconfirmed create keeps a new create away (the CRM's search lag). */
  settleMs: number;
  /** Runs after the CRM created the task and before its id is recorded: the crash window. */
  afterCreated?: () => void;
}

export type TaskOutcome = 'created' | 'updated' | 'found';

/** 'smc' + 24 hex digits: one token for any tokenizer, and it names neither tenant nor number. */
export function crmMarker(pbx: string, tenant: string, entryId: number): string {
  return 'smc' + createHash('sha256').update(`${pbx}\n${tenant}\n${entryId}`).digest('hex').slice(0, 24);
}

/** The spellings a CRM may hold the caller's number under. */
export function phoneVariants(caller: string, settings: TenantSettings): PhoneVariants {
  const number = normaliseNumber(caller, numberRules(settings));
  const spellings = new Set<string>([number.display, number.display.replace(/^\+/, '')]);
  let national = number.key;
  if (settings.defaultCountry) {
    const parsed = parsePhoneNumberFromString(number.display, settings.defaultCountry as CountryCode);
    if (parsed?.isValid()) {
      national = parsed.nationalNumber;
      spellings.add(parsed.number);
      spellings.add(parsed.nationalNumber);
      spellings.add(parsed.formatNational().replace(/\D/g, ''));
    }
  }
  return { display: number.display, spellings: [...spellings].filter(Boolean), national, key: number.key };
}

/** A naive wall-clock time of `zone` ('2025-05-07 10:42:00') as an instant. */
export function instantOf(naive: string, zone: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(naive);
  if (!m) return new Date();
  const asUtc = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
  let guess = asUtc;
  // Twice: the zone's offset at the first guess may differ from the offset at the answer (DST).
  for (let i = 0; i < 2; i += 1) guess = asUtc - (wallClockSeconds(new Date(guess * 1000), zone) - guess);
  return new Date(guess * 1000);
}

/** What clearing said, in words: "called back by ext 102", "answered later by 105", … */
export function clearedText(p: OutboxPayload, t: Translate): string {
  const by = p.ext ?? p.user ?? '';
  switch (p.entry.clearedBy) {
    case 'returned':
      return by ? t('called back by ext {ext}', { ext: by }) : t('called back');
    case 'answered_later':
      return by ? t('answered later by {ext}', { ext: by }) : t('answered later');
    case 'manual':
      return p.user ? t('cleared by {user}', { user: p.user }) : t('cleared by hand');
    case 'expired':
      return t('expired');
    default:
      return t('cleared');
  }
}

/**
 * The task as the entry's event wants it. An escalated episode's task is HIGH priority and
 * says so, in every later update too (`escalated` is the episode's highest escalation).
 */
export function composeTask(p: OutboxPayload, marker: string, settings: TenantSettings, t: Translate, escalated: EscalationInfo | null = null): CrmTask {
  const e = p.entry;
  const who = e.callerName ? `${e.callerName} (${e.caller})` : e.caller;
  const last = e.lastAttempt.slice(11, 16);
  const missed = t.plural('missed {count} time, last {time}', 'missed {count} times, last {time}', e.missedCount, { count: e.missedCount, time: last });
  const completed = e.status === 'cleared';
  const lines = [
    `${missed}.`,
    t('Number called: {did}', { did: e.did }),
    e.route ? t('Route: {route}', { route: e.route }) : '',
    escalated && !completed ? t('Not called back within {minutes} min: escalated.', { minutes: escalated.targetMinutes * escalated.threshold }) : '',
    completed ? t('Done: {reason}.', { reason: clearedText(p, t) }) : '',
    // The marker stays last and on its own: it is how a retry finds this task.
    `[${marker}]`,
  ];
  return {
    marker,
    subject: t('Call back {caller}', { caller: who }) + ` — ${missed}`,
    body: lines.filter(Boolean).join('\n'),
    dueAt: instantOf(e.lastAttempt, settings.timezone),
    dueDay: e.lastAttempt.slice(0, 10),
    completed,
    priority: escalated || e.missedCount >= 3 ? 'HIGH' : 'MEDIUM',
  };
}

interface Link {
  contactId: string | null;
  objectId: string | null;
  /** Milliseconds since a create whose answer was never recorded started; null when none. */
  createStartedMsAgo: number | null;
}

async function linkOf(pool: Pool, d: Delivery, crm: string): Promise<Link | null> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT contact_id, object_id, TIMESTAMPDIFF(MICROSECOND, create_started_at, NOW(3)) DIV 1000 AS started_ms_ago
       FROM smart_missed_calls_crm_objects WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ? AND crm = ?`,
    [d.tenant, d.entryId, crm],
  );
  const r = rows[0];
  if (!r) return null;
  return { contactId: r.contact_id, objectId: r.object_id, createStartedMsAgo: r.started_ms_ago === null ? null : Number(r.started_ms_ago) };
}

/**
 * Committed BEFORE the create request: a crash after the CRM's answer leaves this behind.
 * `contactCreated`: we made the contact for this caller, so `smc forget` removes it. A retry
 * that finds that same contact by phone (the search caught up) does not unmark it.
 */
async function markCreateStarted(pool: Pool, d: Delivery, crm: string, marker: string, contactId: string | null, contactCreated: boolean): Promise<void> {
  await pool.query(
    `INSERT INTO smart_missed_calls_crm_objects (pbx, tenant, entry_id, crm, marker, contact_id, contact_created, create_started_at, updated_at)
     VALUES (@smc_pbx, ?, ?, ?, ?, ?, ?, NOW(3), NOW(3))
     ON DUPLICATE KEY UPDATE
       contact_created = IF(contact_id <=> VALUES(contact_id), GREATEST(contact_created, VALUES(contact_created)), VALUES(contact_created)),
       contact_id = VALUES(contact_id), create_started_at = NOW(3), updated_at = NOW(3)`,
    [d.tenant, d.entryId, crm, marker, contactId, contactCreated ? 1 : 0],
  );
}

async function clearCreateStarted(pool: Pool, d: Delivery, crm: string): Promise<void> {
  await pool.query(
    'UPDATE smart_missed_calls_crm_objects SET create_started_at = NULL, updated_at = NOW(3) WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ? AND crm = ?',
    [d.tenant, d.entryId, crm],
  );
}

async function recordTask(pool: Pool, d: Delivery, crm: string, marker: string, objectId: string): Promise<void> {
  await pool.query(
    `INSERT INTO smart_missed_calls_crm_objects (pbx, tenant, entry_id, crm, marker, object_id, updated_at)
     VALUES (@smc_pbx, ?, ?, ?, ?, ?, NOW(3))
     ON DUPLICATE KEY UPDATE object_id = VALUES(object_id), create_started_at = NULL, updated_at = NOW(3)`,
    [d.tenant, d.entryId, crm, marker, objectId],
  );
}

/** Brings the entry's task in the CRM to the state of delivery `d`'s event. */
export async function syncTask(s: TaskSync, d: Delivery, pbx: string): Promise<TaskOutcome> {
  if (d.entryId === null) throw new Error(`crm delivery ${d.id} has no entry`);
  const crm = s.connector.kind;
  const payload = JSON.parse(d.payload) as OutboxPayload;
  const marker = crmMarker(pbx, d.tenant, d.entryId);
  const escalated = payload.escalation ?? (await escalationOf(s.pool, d.tenant, d.entryId, payload.entry.firstAttempt));
  const task = composeTask(payload, marker, s.settings, s.t, escalated);
  const link = await linkOf(s.pool, d, crm);
  if (link?.objectId) {
    await s.connector.updateTask(link.objectId, task);
    return 'updated';
  }
  const found = await s.connector.findTaskByMarker(marker);
  if (found) {
    await recordTask(s.pool, d, crm, marker, found);
    await s.connector.updateTask(found, task);
    return 'found';
  }
  if (link?.createStartedMsAgo !== null && link?.createStartedMsAgo !== undefined && link.createStartedMsAgo < s.settleMs) {
    throw new CrmError(
      `a task for this entry was being created ${Math.round(link.createStartedMsAgo / 1000)} s ago and the CRM's search does not show it yet; looking again before creating one`,
      null,
      s.settleMs - link.createStartedMsAgo,
    );
  }
  const phone = phoneVariants(payload.entry.caller, s.settings);
  let contact: CrmContact | null = await s.connector.findContactByPhone(phone);
  const createContact = !contact && s.settings.crm.createContact;
  if (createContact) contact = await s.connector.createContact(phone, payload.entry.callerName ?? '');
  await markCreateStarted(s.pool, d, crm, marker, contact?.id ?? null, createContact);
  let id: string;
  try {
    id = await s.connector.createTask(task, contact);
  } catch (err) {
    // A refusal (4xx but a timeout) proves nothing was created: the next try need not wait
    // for the search index. A 5xx or no answer may have created the task; the wait stands.
    const status = (err as CrmError).status ?? null;
    if (status !== null && status >= 400 && status < 500 && status !== 408) await clearCreateStarted(s.pool, d, crm);
    throw err;
  }
  s.afterCreated?.();
  await recordTask(s.pool, d, crm, marker, id);
  return 'created';
}
