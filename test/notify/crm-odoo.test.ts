import assert from 'node:assert/strict';
import type { RowDataPacket } from 'mysql2/promise';
import { test } from 'node:test';
import { parseNetworks } from '../../src/config/networks.js';
import { loadSettings, saveSettings } from '../../src/config/settings-store.js';
import { forgetNumber } from '../../src/ledger/actions.js';
import { phoneVariants } from '../../src/notify/crm/deliver.js';
import { OdooConnector } from '../../src/notify/crm/odoo.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { connectCrm, crmTestBed, forgetJournal, recordForgetCalls } from '../helpers/crm-notifier.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { OdooStandIn, rateLimited, type OdooStandInOptions } from '../helpers/odoo.js';

/**
 * The Odoo connector end to end: the real ledger writes events, the real notifier fans them
 * out and delivers channel `crm` to a stand-in Odoo database (test/helpers/odoo.ts).
 */

const KEY_A = '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567';
const KEY_B = 'f0e1d2c3b4a5968778695a4b3c2d1e0f98765432';
const KEY_C = '9a8b7c6d5e4f30211203f4e5d6c7b8a9fedcba98';

const bed = crmTestBed('notify_odoo');
const { notifier, drain, logged } = bed;

async function odoo(options: Partial<OdooStandInOptions> = {}): Promise<OdooStandIn> {
  return bed.standIn(new OdooStandIn({ database: 'acme', login: 'bot@acme.example', apiKey: KEY_A, crm: true, ...options }));
}

async function connect(tenant: string, o: OdooStandIn, apiKey = o.options.apiKey, createContact = false): Promise<void> {
  await connectCrm(bed.db.pool, tenant, { kind: 'odoo', baseUrl: o.url, database: o.options.database, login: o.options.login, token: apiKey, createContact });
}

/** The connector as the worker makes it, to call one of its methods directly. */
function connectorTo(o: OdooStandIn): OdooConnector {
  const { database, login, apiKey } = o.options;
  return new OdooConnector({ baseUrl: o.url, database, login, apiKey, allowedNetworks: parseNetworks(['127.0.0.1/32']) });
}

const journal = (tenant: string) => forgetJournal(bed.db.pool, tenant);
/** The ids of each res.partner unlink Odoo was asked for. */
const partnerUnlinks = (o: OdooStandIn) => o.calls.filter((c) => c.call === 'res.partner unlink').map((c) => (c.args[5] as number[][])[0]);
const openActivities = (o: OdooStandIn) => o.activities().filter((a) => a.active !== false);
const created = (o: OdooStandIn, model: string) => o.calls.filter((c) => c.call === `${model} create` && c.answered === 200 && c.error === null);

test('partner found (number typed with spaces): one Call activity for its salesperson, updated, done with the reason, a new one on reopen', async () => {
  const o = await odoo();
  const ana = o.addUser('Ana Vânzări');
  // More loose hits of the digit pattern than one page holds, all ahead of the caller: the search pages on.
  for (let i = 0; i < 85; i += 1) o.addPartner({ name: `Extension ${i}`, phone: `0731 000 001 ext ${10 + i}` });
  const ion = o.addPartner({ name: 'Ion Popescu', phone: '+40 731 000 001', user_id: ana });
  o.addPartner({ name: 'Other', mobile: '0731-999-999', user_id: ana });
  // Shares the last digits only in part: the digits check leaves it out.
  o.addPartner({ name: 'Almost', phone: '+40 731 000 0011' });
  await connect('found', o);
  await record(bed.db.pool, 'found', [
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 10:30:00' }),
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 10:42:00' }),
  ]);
  const n = notifier();
  await drain(n, 'found');
  let [activity, ...more] = o.activities();
  assert.ok(activity && more.length === 0, 'one activity for the entry');
  assert.equal(activity.res_model, 'res.partner');
  assert.equal(activity.res_id, ion.id);
  assert.equal(activity.user_id, ana, "assigned to the partner's salesperson");
  assert.equal(activity.activity_type_id, 2, 'the Call type, found by its xml id mail.mail_activity_data_call');
  assert.match(String(activity.summary), /missed 2 times, last 10:42/);
  assert.equal(activity.date_deadline, '2025-05-07');
  assert.match(String(activity.note), /<p>\[smc[0-9a-f]{24}\]<\/p>/);
  assert.equal(o.calls.filter((c) => c.call === 'ir.model.data search_read').length, 1, 'the activity type is looked up once per delivery, by xml id');
  assert.ok(o.calls.some((c) => c.call === 'mail.activity write'), 'the second miss updated the activity');

  await record(bed.db.pool, 'found', [callVerdict('callback', { caller: '0731000001', at: '2025-05-07 11:00:00', ext: '102' })]);
  await drain(n, 'found');
  assert.equal(o.activities().length, 0, 'action_feedback: the done activity is gone (Odoo 14–17, a type that keeps none)');
  const [done, ...others] = o.messages();
  assert.ok(done && others.length === 0);
  assert.equal(done.model, 'res.partner');
  assert.equal(done.res_id, ion.id);
  assert.match(String(done.body), /Call done: .*missed 2 times/);
  assert.match(String(done.body), /called back by ext 102/, 'the reason is the feedback on the chatter');

  await record(bed.db.pool, 'found', [callVerdict('missed', { caller: '0731000001', at: '2025-05-08 09:15:00' })]);
  await drain(n, 'found');
  [activity, ...more] = o.activities();
  assert.ok(activity && more.length === 0, 'reopened: one new activity');
  assert.equal(activity.res_id, ion.id);
  assert.equal(activity.user_id, ana);
  assert.match(String(activity.summary), /missed 1 time, last 09:15/);
  const reopened = activity.id;
  await record(bed.db.pool, 'found', [callVerdict('missed', { caller: '0731000001', at: '2025-05-08 09:40:00' })]);
  await drain(n, 'found');
  [activity, ...more] = o.activities();
  assert.ok(activity && more.length === 0, 'the next miss updates the new activity, found by its marker');
  assert.equal(activity.id, reopened);
  assert.match(String(activity.summary), /missed 2 times, last 09:40/);
  await n.close();
  const [rows] = await bed.db.pool.query<RowDataPacket[]>("SELECT object_id, contact_id FROM smart_missed_calls_crm_objects WHERE tenant = 'found'");
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.contact_id, String(ion.id));
  assert.match(String(rows[0]!.object_id), new RegExp(`^\\d+@res\\.partner/${ion.id}#smc[0-9a-f]{24}$`));

  // The search gives the names for free: the caller-name chain can show them.
  const settings = await loadSettings(bed.db.pool, 'found');
  const contact = await connectorTo(o).findContactByPhone(phoneVariants('0731000001', settings));
  assert.deepEqual(contact, { id: String(ion.id), ownerId: String(ana), name: 'Ion Popescu', ownerName: 'Ana Vânzări' });
});

test('no partner: a lead that has the number gets the activity; else a lead is made for the caller, or a contact when the tenant asks (in Romanian); without the CRM app the failure says what to do', async () => {
  const o = await odoo();
  const mara = o.addUser('Mara Lead');
  const lead = o.addLead({ name: 'Website enquiry', contact_name: 'Dan Lazăr', mobile: '0040 731 000 020', user_id: mara });
  await connect('leads', o);
  await record(bed.db.pool, 'leads', [
    callVerdict('missed', { caller: '0731000020', at: '2025-05-07 10:00:00' }),
    callVerdict('missed', { caller: '0731000021', at: '2025-05-07 10:05:00' }),
  ]);
  const n = notifier();
  await drain(n, 'leads');
  const onKnown = o.activities().find((a) => a.res_id === lead.id);
  assert.ok(onKnown, 'the known lead has the activity');
  assert.equal(onKnown.res_model, 'crm.lead');
  assert.equal(onKnown.user_id, mara, "assigned to the lead's salesperson");
  const made = [...o.table('crm.lead').values()].filter((l) => l.id !== lead.id);
  assert.equal(made.length, 1, 'one lead made for the unknown caller');
  assert.equal(made[0]!.phone, '+40731000021');
  assert.ok(o.activities().some((a) => a.res_model === 'crm.lead' && a.res_id === made[0]!.id));
  assert.equal(o.table('res.partner').size, 0, 'no contact created');

  const o2 = await odoo({ crm: false });
  await connect('contact', o2, KEY_A, true);
  await saveSettings(bed.db.pool, 'contact', { language: 'ro' }, 'test');
  await record(bed.db.pool, 'contact', [callVerdict('missed', { caller: '0731000022', at: '2025-05-07 10:00:00', name: 'Maria Ionescu' })]);
  await drain(n, 'contact');
  const [partner, ...extra] = o2.table('res.partner').values();
  assert.ok(partner && extra.length === 0);
  assert.equal(partner.name, 'Maria Ionescu');
  assert.equal(partner.phone, '+40731000022');
  assert.equal(o2.activities()[0]!.res_id, partner.id);
  assert.equal(o2.activities()[0]!.summary, 'Sunați înapoi pe Maria Ionescu (+40731000022) — ratat o dată, ultima dată la 10:00', "in the tenant's language");

  const o3 = await odoo({ crm: false });
  await connect('nowhere', o3);
  await record(bed.db.pool, 'nowhere', [callVerdict('missed', { caller: '0731000023', at: '2025-05-07 10:00:00' })]);
  await drain(n, 'nowhere');
  await n.close();
  const { failures } = await recentDeliveries(bed.db.pool, 'nowhere');
  assert.match(failures[0]?.lastError ?? '', /CRM app \(crm\.lead\) is not installed.*turn on "Create a contact when none has the number"/);
  assert.equal(o3.activities().length, 0);
});

test('a storm of 429s is waited out as Retry-After says and never costs an attempt', async () => {
  const o = await odoo();
  await connect('storm', o);
  let refused = 0;
  o.intercept = () => (refused < 4 ? (refused += 1, rateLimited(1)) : undefined);
  await record(bed.db.pool, 'storm', [callVerdict('missed', { caller: '0731000004', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await n.pass();
  const { failures } = await recentDeliveries(bed.db.pool, 'storm');
  assert.equal(failures[0]?.lastError, 'Odoo HTTP 429: 429 Too Many Requests');
  await drain(n, 'storm');
  await n.close();
  assert.equal(o.activities().length, 1);
  const { recent } = await recentDeliveries(bed.db.pool, 'storm');
  assert.deepEqual(recent.map((d) => d.status), ['sent'], 'four 429s with maxAttempts 3: still delivered');
  for (let i = 0; i + 1 < o.calls.length; i += 1) {
    if (o.calls[i]!.answered === 429) assert.ok(o.calls[i + 1]!.at - o.calls[i]!.at >= 950, `call ${i + 1} came ${o.calls[i + 1]!.at - o.calls[i]!.at} ms after a 429`);
  }
});

test('500 then success: retried with backoff, one activity, and the next miss waits for the create', async () => {
  const o = await odoo();
  o.addPartner({ name: 'Flaky Caller', phone: '0731000005' });
  await connect('flaky', o);
  let failed = 0;
  o.intercept = (c) => (c.call === 'mail.activity create' && failed < 2 ? (failed += 1, { status: 500, body: '<h1>Internal Server Error</h1>' }) : undefined);
  await record(bed.db.pool, 'flaky', [
    callVerdict('missed', { caller: '0731000005', at: '2025-05-07 10:00:00' }),
    callVerdict('missed', { caller: '0731000005', at: '2025-05-07 10:05:00' }),
  ]);
  const n = notifier();
  await drain(n, 'flaky');
  await n.close();
  assert.equal(failed, 2);
  assert.equal(o.activities().length, 1);
  const create = o.calls.findIndex((c) => c.call === 'mail.activity create' && c.answered === 200);
  const write = o.calls.findIndex((c) => c.call === 'mail.activity write');
  assert.ok(create >= 0 && write > create, 'the update came after the create succeeded');
  assert.match(String(o.activities()[0]!.summary), /missed 2 times, last 10:05/);
  const { recent } = await recentDeliveries(bed.db.pool, 'flaky');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]).reverse(), [['sent', 3], ['sent', 1]]);
});

test('a crash between Odoo’s answer to the create and our record of it: the retry finds the activity by its marker, no second one', async () => {
  const o = await odoo();
  o.addPartner({ name: 'Crash Caller', phone: '0731 000 006' });
  await connect('crash', o);
  await record(bed.db.pool, 'crash', [callVerdict('missed', { caller: '0731000006', at: '2025-05-07 10:00:00' })]);
  const first = notifier({
    afterAccepted: () => {
      throw new Error('simulated crash after the CRM answered');
    },
  });
  await assert.rejects(first.pass(), /simulated crash/);
  await first.close();
  assert.equal(o.activities().length, 1, 'Odoo made the activity');
  const second = notifier();
  await drain(second, 'crash');
  await second.close();
  assert.equal(o.activities().length, 1, 'still one activity');
  assert.equal(created(o, 'mail.activity').length, 1, 'one create in all');
  const { recent } = await recentDeliveries(bed.db.pool, 'crash');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]), [['sent', 2]]);
  const [rows] = await bed.db.pool.query<RowDataPacket[]>("SELECT object_id FROM smart_missed_calls_crm_objects WHERE tenant = 'crash'");
  assert.match(String(rows[0]?.object_id), new RegExp(`^${o.activities()[0]!.id}@res\\.partner/`));
});

test('Odoo 17 with a Call type that keeps done activities: done archives it, reopen makes a new one, forget removes both', async () => {
  const o = await odoo({ keepDone: true });
  const p = o.addPartner({ name: 'Kept', phone: '0731000030' });
  await connect('kept', o);
  await record(bed.db.pool, 'kept', [callVerdict('missed', { caller: '0731000030', at: '2025-05-07 00:30:00' })]);
  const n = notifier();
  await drain(n, 'kept');
  assert.equal(o.activities()[0]!.date_deadline, '2025-05-07', "half past midnight in Bucharest is still the 6th in UTC: the date is the Odoo user's");
  await record(bed.db.pool, 'kept', [callVerdict('callback', { caller: '0731000030', at: '2025-05-07 10:30:00', ext: '103' })]);
  await drain(n, 'kept');
  assert.equal(openActivities(o).length, 0);
  assert.equal(o.activities().length, 1, 'archived, not deleted');
  await record(bed.db.pool, 'kept', [callVerdict('missed', { caller: '0731000030', at: '2025-05-08 10:00:00' })]);
  await drain(n, 'kept');
  await n.close();
  assert.equal(openActivities(o).length, 1, 'a new open activity; the archived one is not reopened');
  assert.equal(openActivities(o)[0]!.res_id, p.id);

  const [rows] = await bed.db.pool.query<RowDataPacket[]>("SELECT object_id FROM smart_missed_calls_crm_objects WHERE tenant = 'kept'");
  const connector = connectorTo(o);
  await connector.deleteTask(String(rows[0]!.object_id));
  assert.equal(o.activities().length, 0, 'forget: the open and the archived activity are gone');
  assert.equal(o.messages().length, 1, 'the "Call done" message stays on the chatter (docs/crm.md says so)');
  await connector.deleteTask(String(rows[0]!.object_id));
});

test("Odoo's errors reach the delivery in Odoo's words: a missing access right is an AccessError", async () => {
  const o = await odoo({ rights: { 'res.partner': ['read'] } });
  o.addPartner({ name: 'Read Only', phone: '0731000040' });
  await connect('acl', o);
  await record(bed.db.pool, 'acl', [callVerdict('missed', { caller: '0731000040', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await drain(n, 'acl');
  await n.close();
  const { failures } = await recentDeliveries(bed.db.pool, 'acl');
  assert.match(failures[0]?.lastError ?? '', /^Odoo odoo\.exceptions\.AccessError: You are not allowed to modify 'Contact' \(res\.partner\) records\./);
  assert.equal(failures[0]?.status, 'dead');
  assert.equal(created(o, 'mail.activity').length, 0);
});

test("a tenant's activity never lands in another tenant's Odoo", async () => {
  const a = await odoo();
  const b = await odoo({ database: 'globex', login: 'bot@globex.example', apiKey: KEY_B });
  a.addPartner({ name: 'Same Caller', phone: '0731000007' });
  b.addPartner({ name: 'Same Caller', phone: '0731000007' });
  await connect('acme', a);
  await connect('globex', b);
  await record(bed.db.pool, 'acme', [callVerdict('missed', { caller: '0731000007', at: '2025-05-07 10:00:00' })]);
  await record(bed.db.pool, 'globex', [callVerdict('missed', { caller: '0731000007', at: '2025-05-07 10:01:00' })]);
  const n = notifier();
  await drain(n, 'acme');
  await drain(n, 'globex');
  await n.close();
  assert.equal(a.activities().length, 1);
  assert.equal(b.activities().length, 1);
  assert.match(String(a.activities()[0]!.summary), /last 10:00/);
  assert.match(String(b.activities()[0]!.summary), /last 10:01/);
  assert.notEqual(a.activities()[0]!.note, b.activities()[0]!.note, 'each with its own marker');
  for (const [o, db_, key] of [[a, 'acme', KEY_A], [b, 'globex', KEY_B]] as const) {
    assert.ok(o.calls.every((c) => c.service !== 'object' || (c.args[0] === db_ && c.args[2] === key)), 'each database only ever saw its own name and key');
  }
});

test('no API key in the log, in the stored errors or in the outbox', async () => {
  const o = await odoo({ apiKey: 'the-right-one-0000000000000000000000000' });
  await connect('secrets', o, KEY_A);
  await record(bed.db.pool, 'secrets', [callVerdict('missed', { caller: '0731000008', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await drain(n, 'secrets');
  await n.close();
  const { failures } = await recentDeliveries(bed.db.pool, 'secrets');
  assert.match(failures[0]?.lastError ?? '', /^Odoo refused the login bot@acme\.example or its API key/);
  assert.equal(failures[0]?.status, 'dead');
  const [rows] = await bed.db.pool.query<RowDataPacket[]>('SELECT CONCAT_WS(" ", target, payload, last_error) AS t FROM smart_missed_calls_deliveries UNION ALL SELECT payload FROM smart_missed_calls_outbox');
  for (const key of [KEY_A, KEY_B]) {
    assert.ok(logged.length > 0 && logged.every((l) => !l.includes(key)), 'no key in the log');
    assert.ok(rows.every((r) => !String(r.t).includes(key)), 'no key in our tables');
  }
});

test('forget removes the activities and the partner we created from Odoo, keeps the partner Odoo already had, and journals it', async () => {
  const o = await odoo();
  const ana = o.addUser('Ana Vânzări');
  const known = o.addPartner({ name: 'Ion Popescu', phone: '+40731000072', user_id: ana });
  await connect('od-gdpr', o, KEY_A, true);
  await recordForgetCalls(bed.db.pool, 'od-gdpr', '0731000071', '0731000072');
  const n = notifier();
  await drain(n, 'od-gdpr');
  assert.equal(o.activities().length, 3);
  const [ours, ...more] = [...o.table('res.partner').values()].filter((p) => p.id !== known.id);
  assert.ok(ours && more.length === 0 && ours.name === 'Maria Ionescu', 'the option created one partner for the unknown caller');

  assert.equal((await forgetNumber(bed.db.pool, bed.db.auditKey, '+40 731 000 071', 'user:admin')).crm, 1);
  await drain(n, 'od-gdpr');
  assert.deepEqual(o.activities().map((a) => [a.res_model, a.res_id]), [['res.partner', known.id]], "only the other caller's activity stays");
  assert.ok(!o.table('res.partner').has(ours.id), 'the partner we created is gone');
  assert.deepEqual(partnerUnlinks(o), [[ours.id]], 'unlinked once, after its activities');
  assert.deepEqual((await journal('od-gdpr')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.equal((await journal('od-gdpr')).at(-1)!.note, 'odoo: 2 tasks and 1 contacts we created removed');

  // A caller Odoo already knew: our activity goes, their partner stays.
  await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000072', 'user:admin');
  await drain(n, 'od-gdpr');
  assert.equal(o.activities().length, 0);
  assert.ok(o.table('res.partner').has(known.id), 'a partner we did not create is never deleted');
  assert.deepEqual(partnerUnlinks(o), [[ours.id]]);
  assert.equal((await journal('od-gdpr')).at(-1)!.note, 'odoo: 1 tasks and 0 contacts we created removed');
});

test('a partner we created that a sale order now points at: Odoo refuses its unlink, the removal fails in Odoo’s words for an admin, the activities are gone all the same', async () => {
  const o = await odoo({ sales: true });
  await connect('od-sold', o, KEY_A, true);
  await record(bed.db.pool, 'od-sold', [callVerdict('missed', { caller: '0731000073', at: '2025-05-07 10:00:00', name: 'Dan Client' })]);
  const n = notifier();
  await drain(n, 'od-sold');
  const [ours] = o.table('res.partner').values();
  assert.equal(ours?.name, 'Dan Client');
  o.addSaleOrder(ours.id); // the salesperson called back and sold them something

  await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000073', 'user:admin');
  await drain(n, 'od-sold');
  const { failures } = await recentDeliveries(bed.db.pool, 'od-sold');
  assert.equal(failures[0]?.status, 'dead', 'given up after the retries: only an admin in Odoo can settle it (docs/crm.md)');
  assert.match(failures[0]?.lastError ?? '', /^Odoo odoo\.exceptions\.ValidationError: The operation cannot be completed: another model requires the record being deleted\. If possible, archive it instead\.\s+Model: Sales Order \(sale\.order\)/);
  assert.equal(o.activities().length, 0, 'the activity was removed before the partner was refused');
  assert.ok(o.table('res.partner').has(ours.id), 'the partner stays with its sale order');
  assert.deepEqual((await journal('od-sold')).map((j) => j.event), ['forgotten'], 'not journalled as removed');
});

test('an Odoo that is down when the number is forgotten gets the removal later: retried, nothing lost, journalled once done', async () => {
  const o = await odoo();
  await connect('od-later', o, KEY_A, true);
  await record(bed.db.pool, 'od-later', [callVerdict('missed', { caller: '0731000074', at: '2025-05-07 11:00:00', name: 'Later Caller' })]);
  const n = notifier();
  await drain(n, 'od-later');
  o.intercept = (c) => (c.call.endsWith(' unlink') ? { status: 503, body: '<html><body><h1>503 Service Unavailable</h1></body></html>' } : undefined);
  await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000074', 'user:admin');
  await n.pass();
  const { failures } = await recentDeliveries(bed.db.pool, 'od-later');
  assert.equal(failures[0]?.status, 'pending', 'failed, to be retried');
  assert.equal(failures[0]?.lastError, 'Odoo HTTP 503: 503 Service Unavailable');
  assert.equal(o.activities().length, 1);
  assert.deepEqual((await journal('od-later')).map((j) => j.event), ['forgotten'], 'not journalled as removed while it is not');
  o.intercept = null;
  await drain(n, 'od-later');
  assert.equal(o.activities().length, 0, 'removed once Odoo was back');
  assert.equal(o.table('res.partner').size, 0, 'and the partner we created');
  assert.deepEqual((await journal('od-later')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
});

test("forget never touches another tenant's Odoo: each tenant's activity goes from its own database, and a database without the caller is not called", async () => {
  const a = await odoo();
  const b = await odoo({ database: 'globex', login: 'bot@globex.example', apiKey: KEY_B });
  const c = await odoo({ database: 'initech', login: 'bot@initech.example', apiKey: KEY_C });
  for (const o of [a, b, c]) o.addPartner({ name: 'Known Caller', phone: '0731000075' });
  await connect('od-acme', a);
  await connect('od-globex', b);
  await connect('od-initech', c);
  await record(bed.db.pool, 'od-acme', [callVerdict('missed', { caller: '0731000075', at: '2025-05-07 12:00:00' })]);
  await record(bed.db.pool, 'od-globex', [callVerdict('missed', { caller: '0731000075', at: '2025-05-07 12:01:00' })]);
  await record(bed.db.pool, 'od-initech', [callVerdict('missed', { caller: '0731000076', at: '2025-05-07 12:02:00' })]);
  c.addPartner({ name: 'Other Caller', phone: '0731000076' });
  const n = notifier();
  for (const t of ['od-acme', 'od-globex', 'od-initech']) await drain(n, t);
  const seen = [a, b, c].map((o) => o.calls.length);

  assert.equal((await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000075', 'user:admin')).crm, 2);
  for (const t of ['od-acme', 'od-globex', 'od-initech']) await drain(n, t);
  assert.deepEqual([a, b, c].map((o) => o.activities().length), [0, 0, 1], "the third tenant's activity stays");
  assert.equal(c.calls.length, seen[2], 'the third database was not called at all');
  for (const [i, o] of [a, b].entries()) {
    const unlinks = o.calls.slice(seen[i]).filter((call) => call.call.endsWith(' unlink'));
    assert.deepEqual(unlinks.map((call) => [call.call, call.error]), [['mail.activity unlink', null]], 'one unlink, of its own activity, with its own key');
  }
  assert.deepEqual((await journal('od-acme')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.deepEqual((await journal('od-globex')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.deepEqual(await journal('od-initech'), []);
});
