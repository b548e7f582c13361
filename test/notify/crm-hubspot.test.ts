import assert from 'node:assert/strict';
import type { RowDataPacket } from 'mysql2/promise';
import { test } from 'node:test';
import { saveSettings } from '../../src/config/settings-store.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { connectCrm, crmTestBed } from '../helpers/crm-notifier.js';
import { error, HubSpotStandIn, rateLimited } from '../helpers/hubspot.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';

/**
 * The HubSpot connector end to end: the real ledger writes events, the real notifier fans
 * them out and delivers channel `crm` to a stand-in HubSpot account (test/helpers/hubspot.ts).
 */

const TOKEN_A = 'pat-eu1-aaaaaaaa-1111-2222-3333-444444444444';
const TOKEN_B = 'pat-eu1-bbbbbbbb-5555-6666-7777-888888888888';

const bed = crmTestBed('notify_crm');
const { notifier, drain, logged } = bed;

async function account(token: string, options: { searchLagMs?: number; scopes?: string[] } = {}): Promise<HubSpotStandIn> {
  return bed.standIn(new HubSpotStandIn({ token, ...options }));
}

async function connect(tenant: string, hub: HubSpotStandIn, token: string, createContact = false): Promise<void> {
  await connectCrm(bed.db.pool, tenant, { kind: 'hubspot', baseUrl: hub.url, token, createContact });
}

const tasksOf = (hub: HubSpotStandIn) => [...hub.tasks.values()];

test('contact found: one task on the contact, assigned to its owner, updated on each miss, completed with the reason, reopened', async () => {
  const hub = await account(TOKEN_A);
  // Stored with spaces, as people type numbers: found through HubSpot's digits-only copy.
  const ion = hub.addContact({ firstname: 'Ion', lastname: 'Popescu', phone: '+40 731 000 001', hubspot_owner_id: '77' });
  hub.addContact({ firstname: 'Other', phone: '+40 731 999 999', hubspot_owner_id: '78' });
  await connect('found', hub, TOKEN_A);
  await record(bed.db.pool, 'found', [
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 10:30:00' }),
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 10:42:00' }),
  ]);
  const n = notifier();
  await drain(n, 'found');
  let [task, ...more] = tasksOf(hub);
  assert.ok(task && more.length === 0, 'one task for the entry');
  assert.deepEqual(task.associations, [[ion.id, 204]], 'associated with the contact, type 204 (task → contact)');
  assert.equal(task.properties.hubspot_owner_id, '77', "assigned to the contact's owner");
  assert.equal(task.properties.hs_task_status, 'NOT_STARTED');
  assert.match(task.properties.hs_task_subject!, /missed 2 times, last 10:42/);
  assert.equal(task.properties.hs_timestamp, '2025-05-07T07:42:00.000Z', 'the last attempt, Bucharest time');
  assert.ok(hub.requests.some((r) => r.method === 'PATCH'), 'the second miss updated the task');

  await record(bed.db.pool, 'found', [callVerdict('callback', { caller: '0731000001', at: '2025-05-07 11:00:00', ext: '102' })]);
  await drain(n, 'found');
  [task, ...more] = tasksOf(hub);
  assert.equal(more.length, 0);
  assert.equal(task!.properties.hs_task_status, 'COMPLETED');
  assert.match(task!.properties.hs_task_body!, /called back by ext 102/);

  await record(bed.db.pool, 'found', [callVerdict('missed', { caller: '0731000001', at: '2025-05-08 09:15:00' })]);
  await drain(n, 'found');
  [task, ...more] = tasksOf(hub);
  assert.equal(more.length, 0, 'reopened, not a second task');
  assert.equal(task!.properties.hs_task_status, 'NOT_STARTED');
  assert.match(task!.properties.hs_task_subject!, /missed 1 time, last 09:15/);
  await n.close();
  const [rows] = await bed.db.pool.query<RowDataPacket[]>("SELECT object_id, contact_id FROM smart_missed_calls_crm_objects WHERE tenant = 'found'");
  assert.deepEqual(rows.map((r) => [r.object_id, r.contact_id]), [[task!.id, ion.id]]);
});

test('contact not found: the task stands alone, or on a contact created for the caller when the tenant asks for it (in Romanian for a Romanian tenant)', async () => {
  const hub = await account(TOKEN_A);
  await connect('alone', hub, TOKEN_A, false);
  await record(bed.db.pool, 'alone', [callVerdict('missed', { caller: '0731000002', at: '2025-05-07 10:00:00', name: 'Maria Ionescu' })]);
  const n = notifier();
  await drain(n, 'alone');
  assert.equal(hub.contacts.size, 0, 'no contact created');
  assert.equal(tasksOf(hub).length, 1);
  assert.deepEqual(tasksOf(hub)[0]!.associations, []);

  const hub2 = await account(TOKEN_A);
  await connect('create', hub2, TOKEN_A, true);
  await saveSettings(bed.db.pool, 'create', { language: 'ro' }, 'test');
  await record(bed.db.pool, 'create', [callVerdict('missed', { caller: '0731000003', at: '2025-05-07 10:00:00', name: 'Maria Ionescu' })]);
  await drain(n, 'create');
  await n.close();
  const [contact, ...others] = [...hub2.contacts.values()];
  assert.ok(contact && others.length === 0);
  assert.equal(contact.properties.phone, '+40731000003');
  assert.equal(contact.properties.firstname, 'Maria');
  assert.deepEqual(tasksOf(hub2)[0]!.associations, [[contact.id, 204]]);
  assert.equal(tasksOf(hub2)[0]!.properties.hs_task_subject, 'Sunați înapoi pe Maria Ionescu (+40731000003) — ratat o dată, ultima dată la 10:00', "in the tenant's language");
});

test('a storm of 429s is waited out as Retry-After says, never costs an attempt, and shows HubSpot’s message meanwhile', async () => {
  const hub = await account(TOKEN_A);
  await connect('storm', hub, TOKEN_A);
  let refused = 0;
  hub.intercept = () => (refused < 4 ? (refused += 1, rateLimited(1)) : undefined);
  await record(bed.db.pool, 'storm', [callVerdict('missed', { caller: '0731000004', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await n.pass();
  const { failures } = await recentDeliveries(bed.db.pool, 'storm');
  assert.match(failures[0]?.lastError ?? '', /HubSpot 429 RATE_LIMITS: You have reached your ten_secondly_rolling limit/);
  await drain(n, 'storm');
  await n.close();
  assert.equal(tasksOf(hub).length, 1);
  const { recent } = await recentDeliveries(bed.db.pool, 'storm');
  assert.deepEqual(recent.map((d) => d.status), ['sent'], 'four 429s with maxAttempts 3: still delivered');
  const seen = hub.requests;
  for (let i = 0; i + 1 < seen.length; i += 1) {
    // Retry-After: 1 — the next request comes at least a second later (less a little clock rounding).
    if (seen[i]!.answered === 429) assert.ok(seen[i + 1]!.at - seen[i]!.at >= 950, `request ${i + 1} came ${seen[i + 1]!.at - seen[i]!.at} ms after a 429`);
  }
});

test('500 then success: retried with backoff, one task, and the next miss waits for the create', async () => {
  const hub = await account(TOKEN_A);
  await connect('flaky', hub, TOKEN_A);
  let failed = 0;
  hub.intercept = (r) => (r.method === 'POST' && r.path === '/crm/v3/objects/tasks' && failed < 2 ? (failed += 1, { status: 500, body: error('internal error', 'INTERNAL_ERROR') }) : undefined);
  await record(bed.db.pool, 'flaky', [
    callVerdict('missed', { caller: '0731000005', at: '2025-05-07 10:00:00' }),
    callVerdict('missed', { caller: '0731000005', at: '2025-05-07 10:05:00' }),
  ]);
  const n = notifier();
  await drain(n, 'flaky');
  await n.close();
  assert.equal(failed, 2);
  assert.equal(tasksOf(hub).length, 1);
  const created = hub.requests.findIndex((r) => r.path === '/crm/v3/objects/tasks' && r.answered === 201);
  const patched = hub.requests.findIndex((r) => r.method === 'PATCH');
  assert.ok(created >= 0 && patched > created, 'the update came after the create succeeded');
  assert.match(tasksOf(hub)[0]!.properties.hs_task_subject!, /missed 2 times, last 10:05/);
  const { recent } = await recentDeliveries(bed.db.pool, 'flaky');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]).reverse(), [['sent', 3], ['sent', 1]]);
});

/** A notifier whose process "dies" right after HubSpot's 201 for the first task create. */
async function crashAfterCreate(tenant: string, hub: HubSpotStandIn): Promise<void> {
  await record(bed.db.pool, tenant, [callVerdict('missed', { caller: '0731000006', at: '2025-05-07 10:00:00' })]);
  const first = notifier({
    afterAccepted: () => {
      throw new Error('simulated crash after the CRM answered 201');
    },
  });
  await assert.rejects(first.pass(), /simulated crash/);
  await first.close();
  assert.equal(tasksOf(hub).length, 1, 'HubSpot made the task');
}

test('a crash between HubSpot’s 201 and our record of the task: the retry finds the task by its marker, no second task', async () => {
  const hub = await account(TOKEN_A);
  await connect('crash', hub, TOKEN_A);
  await crashAfterCreate('crash', hub);
  const second = notifier();
  await drain(second, 'crash');
  await second.close();
  assert.equal(tasksOf(hub).length, 1, 'still one task');
  const { recent } = await recentDeliveries(bed.db.pool, 'crash');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]), [['sent', 2]]);
  const [rows] = await bed.db.pool.query<RowDataPacket[]>("SELECT object_id FROM smart_missed_calls_crm_objects WHERE tenant = 'crash'");
  assert.equal(rows[0]?.object_id, tasksOf(hub)[0]!.id);
});

test('the same crash while HubSpot’s search still lags its writes: no second create until the task shows (and without that wait, a duplicate)', async () => {
  const hub = await account(TOKEN_A, { searchLagMs: 1_000 });
  await connect('lag', hub, TOKEN_A);
  await crashAfterCreate('lag', hub);
  const second = notifier({ crmSettleMs: 3_000 });
  await drain(second, 'lag');
  await second.close();
  assert.equal(tasksOf(hub).length, 1, 'waited for the search index, found the task');

  // The wait is what prevents the duplicate: without it, "not found" right after the crash creates again.
  const hub2 = await account(TOKEN_A, { searchLagMs: 1_000 });
  await connect('nolag', hub2, TOKEN_A);
  await crashAfterCreate('nolag', hub2);
  const impatient = notifier({ crmSettleMs: 0 });
  await drain(impatient, 'nolag');
  await impatient.close();
  assert.equal(tasksOf(hub2).length, 2);
});

test("a tenant's task never lands in another tenant's HubSpot", async () => {
  const hubA = await account(TOKEN_A);
  const hubB = await account(TOKEN_B);
  await connect('acme', hubA, TOKEN_A);
  await connect('globex', hubB, TOKEN_B);
  // The same caller at both tenants, in one batch of the outbox.
  await record(bed.db.pool, 'acme', [callVerdict('missed', { caller: '0731000007', at: '2025-05-07 10:00:00' })]);
  await record(bed.db.pool, 'globex', [callVerdict('missed', { caller: '0731000007', at: '2025-05-07 10:01:00' })]);
  const n = notifier();
  await drain(n, 'acme');
  await drain(n, 'globex');
  await n.close();
  assert.equal(tasksOf(hubA).length, 1);
  assert.equal(tasksOf(hubB).length, 1);
  assert.match(tasksOf(hubA)[0]!.properties.hs_task_subject!, /last 10:00/);
  assert.match(tasksOf(hubB)[0]!.properties.hs_task_subject!, /last 10:01/);
  assert.notEqual(tasksOf(hubA)[0]!.properties.hs_task_body, tasksOf(hubB)[0]!.properties.hs_task_body, 'each with its own marker');
  assert.ok([...hubA.requests, ...hubB.requests].every((r) => r.answered !== 401), 'each account only ever saw its own token');
});

test('no token in the log, in the stored errors or in the outbox', async () => {
  const hub = await account('pat-eu1-the-right-one');
  await connect('secrets', hub, TOKEN_A); // a token the account refuses: every attempt fails with HubSpot's 401
  await record(bed.db.pool, 'secrets', [callVerdict('missed', { caller: '0731000008', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await drain(n, 'secrets');
  await n.close();
  const { failures } = await recentDeliveries(bed.db.pool, 'secrets');
  assert.match(failures[0]?.lastError ?? '', /HubSpot 401 INVALID_AUTHENTICATION: Authentication credentials not found/);
  assert.equal(failures[0]?.status, 'dead');
  const [rows] = await bed.db.pool.query<RowDataPacket[]>('SELECT CONCAT_WS(" ", target, payload, last_error) AS t FROM smart_missed_calls_deliveries UNION ALL SELECT payload FROM smart_missed_calls_outbox');
  for (const token of [TOKEN_A, TOKEN_B]) {
    assert.ok(logged.length > 0 && logged.every((l) => !l.includes(token)), 'no token in the log');
    assert.ok(rows.every((r) => !String(r.t).includes(token)), 'no token in our tables');
  }
});
