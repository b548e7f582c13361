import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { randomUUID } from 'node:crypto';
import { idempotencyKey, insertDeliveries } from '../deliveries.js';
import type { CrmConnector } from './connector.js';

/**
 * `smc forget` in the CRMs: what we created there for a forgotten caller (each entry's task,
 * and the contact when the delivery created it) is removed through the outbox, as a `crm`
 * delivery of event `forget` per tenant and CRM. A CRM that is down gets it later, retried
 * with the backoff of every CRM delivery; its success is journalled (`crm_forgotten`).
 *
 * The delivery's payload holds the CRM's own ids and our task markers, nothing else: neither
 * the number nor a name, which are gone from our tables when it is queued.
 */
export interface CrmForget {
  /** Tasks whose id we recorded. */
  tasks: string[];
  /** Markers of tasks whose creation was started but never recorded: searched for, then removed. */
  markers: string[];
  /** Contacts the delivery created for the caller. */
  contacts: string[];
}

export const FORGET_EVENT = 'forget';

/**
 * Inside forgetNumber's transaction: queues the removal of what the CRMs hold for these
 * entries and drops our record of it. Returns how many deliveries were queued.
 */
export async function queueCrmForget(conn: PoolConnection, entryIds: number[]): Promise<number> {
  if (entryIds.length === 0) return 0;
  const [objects] = await conn.query<RowDataPacket[]>(
    `SELECT tenant, crm, marker, object_id, contact_id, contact_created FROM smart_missed_calls_crm_objects
      WHERE pbx = @smc_pbx AND entry_id IN (?) FOR UPDATE`,
    [entryIds],
  );
  const byTarget = new Map<string, { tenant: string; crm: string; forget: CrmForget }>();
  for (const o of objects) {
    const id = `${o.tenant}\n${o.crm}`;
    const target = byTarget.get(id) ?? { tenant: String(o.tenant), crm: String(o.crm), forget: { tasks: [], markers: [], contacts: [] } };
    byTarget.set(id, target);
    if (o.object_id) target.forget.tasks.push(String(o.object_id));
    else target.forget.markers.push(String(o.marker));
    if (o.contact_id && Number(o.contact_created) === 1 && !target.forget.contacts.includes(String(o.contact_id))) target.forget.contacts.push(String(o.contact_id));
  }
  await conn.query('DELETE FROM smart_missed_calls_crm_objects WHERE pbx = @smc_pbx AND entry_id IN (?)', [entryIds]);
  await insertDeliveries(
    conn,
    [...byTarget.values()].map(({ tenant, crm, forget }) => ({
      tenant, outboxId: null, entryId: null, callerKey: '', did: '', event: FORGET_EVENT, eventAt: null,
      channel: 'crm' as const, target: crm, idempotencyKey: idempotencyKey(`forget:${randomUUID()}`, 'crm', crm), payload: JSON.stringify(forget),
    })),
  );
  return byTarget.size;
}

/**
 * Removes the objects from the CRM. Repeating it is harmless (an object already gone is no
 * error), so a retry after a failure half-way starts again from the top.
 */
export async function removeFromCrm(connector: CrmConnector, forget: CrmForget): Promise<{ tasks: number; contacts: number }> {
  const tasks = new Set(forget.tasks);
  for (const marker of forget.markers) {
    const found = await connector.findTaskByMarker(marker);
    if (found) tasks.add(found);
  }
  for (const id of tasks) await connector.deleteTask(id);
  for (const id of forget.contacts) await connector.deleteContact(id);
  return { tasks: tasks.size, contacts: forget.contacts.length };
}
