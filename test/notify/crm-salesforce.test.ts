import assert from 'node:assert/strict';
import type { RowDataPacket } from 'mysql2/promise';
import { test } from 'node:test';
import { parseNetworks } from '../../src/config/networks.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { forgetNumber } from '../../src/ledger/actions.js';
import { SalesforceConnector } from '../../src/notify/crm/salesforce.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { connectCrm, crmTestBed, forgetJournal, recordForgetCalls } from '../helpers/crm-notifier.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { API, INTEGRATION_USER, requestLimitExceeded, SalesforceOrg, type OrgOptions } from '../helpers/salesforce.js';

/**
 * The Salesforce connector end to end: the real ledger writes events, the real notifier fans
 * them out and delivers channel `crm` to a stand-in Salesforce org (test/helpers/salesforce.ts).
 */

const CLIENT_ID = '3MVG9stand.in.consumer.key.A';
const CLIENT_SECRET = 'C0NSUMER5ECRET0A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8';
const REFRESH_A = '5Aep861aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.A';
const REFRESH_B = '5Aep861bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.B';
const REFRESH_C = '5Aep861cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.C';
const OWNER = '005000000000077AAA';

const bed = crmTestBed('notify_crm_sf');
const { notifier, drain, logged } = bed;

async function org(refreshToken: string, options: Partial<OrgOptions> = {}): Promise<SalesforceOrg> {
  const o = await bed.standIn(new SalesforceOrg({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken, ...options }));
  o.users.set(OWNER, 'Ana Vânzări');
  return o;
}

async function connect(tenant: string, o: SalesforceOrg, refreshToken: string, createContact = false): Promise<void> {
  await connectCrm(bed.db.pool, tenant, { kind: 'salesforce', baseUrl: o.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, token: refreshToken, createContact });
}

const journal = (tenant: string) => forgetJournal(bed.db.pool, tenant);
const api = (o: SalesforceOrg, method: string, path: string) => o.requests.filter((r) => r.method === method && r.path.startsWith(API + path));

test('contact found: one task on the contact, assigned to its owner, updated on each miss, completed with the reason, reopened', async () => {
  const o = await org(REFRESH_A);
  // Stored as Salesforce users type it, with spaces: found through the international format.
  const ion = o.add('Contact', { FirstName: 'Ion', LastName: 'Popescu', Phone: '+40 731 000 001', OwnerId: OWNER });
  o.add('Contact', { FirstName: 'Other', LastName: 'Person', Phone: '+40 731 999 999', OwnerId: INTEGRATION_USER });
  await connect('found', o, REFRESH_A);
  await record(bed.db.pool, 'found', [
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 10:30:00' }),
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 10:42:00' }),
  ]);
  const n = notifier();
  await drain(n, 'found');
  let [task, ...more] = o.tasks();
  assert.ok(task && more.length === 0, 'one task for the entry');
  assert.equal(task.WhoId, ion.Id, 'on the contact');
  assert.equal(task.OwnerId, OWNER, "assigned to the contact's owner");
  assert.equal(task.TaskSubtype, 'Call');
  assert.equal(task.Status, 'Not Started');
  assert.equal(task.Priority, 'Normal');
  assert.equal(task.ActivityDate, '2025-05-07');
  assert.match(String(task.Subject), /missed 2 times, last 10:42 \[smc[0-9a-f]{24}\]$/, 'the marker ends the subject');
  assert.match(String(task.Description), /\[smc[0-9a-f]{24}\]$/);
  assert.equal(api(o, 'PATCH', '/sobjects/Task/').length, 1, 'the second miss updated the task');
  assert.equal(o.tokenRequests().length, 1, 'one access token, kept across deliveries');

  await record(bed.db.pool, 'found', [callVerdict('callback', { caller: '0731000001', at: '2025-05-07 11:00:00', ext: '102' })]);
  await drain(n, 'found');
  [task, ...more] = o.tasks();
  assert.equal(more.length, 0);
  assert.equal(task!.Status, 'Completed');
  assert.equal(task!.IsClosed, true);
  assert.match(String(task!.Description), /Done: called back by ext 102\./);

  // 01:15 in Bucharest is still the 7th in UTC: the due date is the tenant's day.
  await record(bed.db.pool, 'found', [callVerdict('missed', { caller: '0731000001', at: '2025-05-08 01:15:00' })]);
  await drain(n, 'found');
  [task, ...more] = o.tasks();
  assert.equal(more.length, 0, 'reopened, not a second task');
  assert.equal(task!.Status, 'Not Started');
  assert.equal(task!.IsClosed, false);
  assert.equal(task!.ActivityDate, '2025-05-08');
  assert.match(String(task!.Subject), /missed 1 time, last 01:15/);
  await n.close();
  const [rows] = await bed.db.pool.query<RowDataPacket[]>("SELECT object_id, contact_id FROM smart_missed_calls_crm_objects WHERE tenant = 'found'");
  assert.deepEqual(rows.map((r) => [r.object_id, r.contact_id]), [[task!.Id, ion.Id]]);
});

test('lead found when no contact has the number: the task is on the lead, for its owner; a converted lead or a queue-owned one is no owner', async () => {
  const o = await org(REFRESH_A);
  o.add('Lead', { LastName: 'Converted', Company: 'Old', Phone: '0731000010', IsConverted: true, OwnerId: INTEGRATION_USER });
  const lead = o.add('Lead', { FirstName: 'Maria', LastName: 'Ionescu', Company: 'Acme', MobilePhone: '0731 000 010', OwnerId: OWNER });
  const queued = o.add('Lead', { LastName: 'Queued', Company: 'Acme', Phone: '+40731000011', OwnerId: '00G000000000001AAA' });
  await connect('lead', o, REFRESH_A);
  await record(bed.db.pool, 'lead', [
    callVerdict('missed', { caller: '0731000010', at: '2025-05-07 10:00:00' }),
    callVerdict('missed', { caller: '0731000011', at: '2025-05-07 10:01:00' }),
  ]);
  const n = notifier();
  await drain(n, 'lead');
  await n.close();
  const [first, second] = o.tasks();
  assert.equal(first?.WhoId, lead.Id, 'the open lead, found by its mobile number');
  assert.equal(first?.OwnerId, OWNER);
  assert.equal(second?.WhoId, queued.Id);
  assert.equal(second?.OwnerId, INTEGRATION_USER, 'a queue cannot own a task: the default owner');
  // Each search asks contacts before leads (the caller-name lookups search the same way).
  const queries = api(o, 'GET', '/query').map((r) => decodeURIComponent(r.path));
  const firstLead = queries.findIndex((q) => q.includes('FROM Lead'));
  assert.ok(firstLead > 0 && queries.slice(0, firstLead).some((q) => q.includes('FROM Contact')), `contacts were asked first: ${queries.join('\n')}`);
});

test('not found: the task stands alone, or on a lead created for the caller when the tenant asks for it (in Romanian for a Romanian tenant)', async () => {
  const o = await org(REFRESH_A);
  await connect('alone', o, REFRESH_A, false);
  await record(bed.db.pool, 'alone', [callVerdict('missed', { caller: '0731000002', at: '2025-05-07 10:00:00', name: 'Maria Ionescu' })]);
  const n = notifier();
  await drain(n, 'alone');
  assert.equal(o.records.Lead.size, 0, 'no lead created');
  assert.equal(o.tasks().length, 1);
  assert.equal(o.tasks()[0]!.WhoId, undefined);

  const o2 = await org(REFRESH_B);
  await connect('create', o2, REFRESH_B, true);
  await saveSettings(bed.db.pool, 'create', { language: 'ro' }, 'test');
  await record(bed.db.pool, 'create', [callVerdict('missed', { caller: '0731000003', at: '2025-05-07 10:00:00', name: 'Maria Ionescu' })]);
  await drain(n, 'create');
  await n.close();
  const [lead, ...others] = [...o2.records.Lead.values()];
  assert.ok(lead && others.length === 0);
  assert.deepEqual([lead.FirstName, lead.LastName, lead.Company, lead.Phone], ['Maria', 'Ionescu', '[not provided]', '+40731000003']);
  assert.equal(o2.tasks()[0]!.WhoId, lead.Id);
  assert.equal(o2.tasks()[0]!.Subject, `Sunați înapoi pe Maria Ionescu (+40731000003) — ratat o dată, ultima dată la 10:00 [${String(o2.tasks()[0]!.Subject).slice(-28, -1)}]`);
});

test('the daily API limit (403 REQUEST_LIMIT_EXCEEDED) is waited out for an hour, never costs an attempt, holds the tenant’s other tasks, and shows Salesforce’s message', async () => {
  const o = await org(REFRESH_A);
  await connect('limit', o, REFRESH_A);
  let refused = 0;
  o.intercept = (r) => (r.path.startsWith(API) && refused < 4 ? (refused += 1, requestLimitExceeded()) : undefined);
  await record(bed.db.pool, 'limit', [
    callVerdict('missed', { caller: '0731000004', at: '2025-05-07 10:00:00' }),
    callVerdict('missed', { caller: '0731000044', at: '2025-05-07 10:01:00' }),
  ]);
  let n = notifier();
  for (let hour = 0; hour < 4; hour += 1) {
    await n.pass();
    const [waiting] = await bed.db.pool.query<RowDataPacket[]>(
      "SELECT attempts, TIMESTAMPDIFF(SECOND, NOW(3), next_attempt_at) AS wait_s, last_error FROM smart_missed_calls_deliveries WHERE tenant = 'limit' AND status = 'pending'",
    );
    assert.equal(waiting.length, 2, 'the refused task and the one behind it in the same pass both wait');
    for (const w of waiting) {
      assert.equal(Number(w.attempts), 0, 'the refusal did not count as an attempt');
      assert.ok(Number(w.wait_s) > 3000 && Number(w.wait_s) <= 3600, `hour ${hour}: retried in an hour, not ${w.wait_s} s`);
      assert.match(String(w.last_error), /^Salesforce 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded\. \(api-usage 15000\/15000\)$/);
    }
    // An hour passes: the deliveries are due again, and a notifier that keeps the refusal in
    // memory would have let it go by then (a restarted one never knew it): a fresh one.
    await n.close();
    await bed.db.pool.query("UPDATE smart_missed_calls_deliveries SET next_attempt_at = NOW(3) WHERE tenant = 'limit'");
    n = notifier();
  }
  const { failures } = await recentDeliveries(bed.db.pool, 'limit');
  assert.match(failures[0]?.lastError ?? '', /^Salesforce 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded\. \(api-usage 15000\/15000\)$/);
  assert.equal(api(o, 'GET', '/query').length, 4, 'one request per hour while the limit holds');
  await drain(n, 'limit');
  await n.close();
  assert.equal(o.tasks().length, 2);
  const { recent } = await recentDeliveries(bed.db.pool, 'limit');
  assert.deepEqual(recent.map((d) => d.status), ['sent', 'sent'], 'four refusals with maxAttempts 3: still delivered');
});

test('the daily limit met by a caller-name lookup holds the tenant’s tasks for the hour too, with Salesforce’s message and no attempt counted', async () => {
  const o = await org(REFRESH_A);
  await connect('lookup-limit', o, REFRESH_A);
  // The org's daily requests run out right after the first task: the lookup that follows it meets the limit.
  o.intercept = (r) => (r.path.startsWith(API) && o.tasks().length > 0 ? requestLimitExceeded() : undefined);
  await record(bed.db.pool, 'lookup-limit', [callVerdict('missed', { caller: '0731000046', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await n.pass();
  await n.crmNames.idle();
  assert.equal(o.tasks().length, 1);
  assert.equal(o.requests.filter((r) => r.answered === 403).length, 1, 'the caller-name lookup was refused');
  const since = o.requests.length;
  await record(bed.db.pool, 'lookup-limit', [callVerdict('missed', { caller: '0731000047', at: '2025-05-07 10:05:00' })]);
  await n.pass();
  await n.close();
  const [waiting] = await bed.db.pool.query<RowDataPacket[]>(
    "SELECT attempts, TIMESTAMPDIFF(SECOND, NOW(3), next_attempt_at) AS wait_s, last_error FROM smart_missed_calls_deliveries WHERE tenant = 'lookup-limit' AND status = 'pending'",
  );
  assert.equal(waiting.length, 1, "the second caller's task waits");
  assert.equal(Number(waiting[0]!.attempts), 0);
  assert.ok(Number(waiting[0]!.wait_s) > 3000 && Number(waiting[0]!.wait_s) <= 3600, `put off for the hour, not ${waiting[0]!.wait_s} s`);
  assert.match(String(waiting[0]!.last_error), /^Salesforce 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded\./, 'shows why it waits');
  assert.equal(o.requests.slice(since).filter((r) => r.path.startsWith(API)).length, 0, 'no request while the limit holds');
});

test('401 INVALID_SESSION_ID after the session timed out: the access token is refreshed once and the call repeated', async () => {
  const o = await org(REFRESH_A);
  await connect('expired', o, REFRESH_A);
  await record(bed.db.pool, 'expired', [callVerdict('missed', { caller: '0731000020', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await drain(n, 'expired');
  const tokensBefore = o.tokenRequests().length;
  o.expireSessions();
  const since = o.requests.length;
  await record(bed.db.pool, 'expired', [callVerdict('missed', { caller: '0731000020', at: '2025-05-07 10:10:00' })]);
  await drain(n, 'expired');
  await n.close();
  assert.equal(o.tokenRequests().length, tokensBefore + 1, 'one refresh');
  // The task update or a caller-name lookup still running in the background: whichever asks
  // first is refused, the token is refreshed for both, and the refused call is made again.
  const after = o.requests.slice(since);
  const refused = after.filter((r) => r.answered === 401);
  assert.equal(refused.length, 1, `one call refused with the old token: ${after.map((r) => `${r.method} ${r.answered}`).join(', ')}`);
  const repeated = after.slice(after.indexOf(refused[0]!) + 1).find((r) => r.method === refused[0]!.method && r.path === refused[0]!.path);
  assert.ok(repeated && repeated.answered < 300, 'the refused call repeated with the new token');
  assert.equal(api(o, 'PATCH', '/sobjects/Task/').at(-1)?.answered, 204, 'the task updated');
  assert.match(String(o.tasks()[0]!.Subject), /missed 2 times, last 10:10/);
  const { recent } = await recentDeliveries(bed.db.pool, 'expired');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]), [['sent', 1], ['sent', 1]], 'the refresh cost no attempt');
});

test('a revoked refresh token: every attempt fails with Salesforce’s invalid_grant, and the delivery resumes once a new token is saved', async () => {
  const o = await org(REFRESH_A);
  await connect('revoked', o, REFRESH_A);
  o.revokeRefreshToken();
  await record(bed.db.pool, 'revoked', [callVerdict('missed', { caller: '0731000021', at: '2025-05-07 10:00:00' })]);
  const n = notifier({ crmRetry: { baseMs: 10, maxMs: 50, maxAttempts: 50 } });
  await n.pass();
  const { failures } = await recentDeliveries(bed.db.pool, 'revoked');
  assert.equal(failures[0]?.lastError, 'Salesforce token refresh 400 invalid_grant: expired access/refresh token');
  assert.equal(failures[0]?.status, 'pending', 'still retried: the admin can fix the settings');
  assert.equal(o.requests.filter((r) => r.path.startsWith(API)).length, 0, 'no API call without a token');

  const fresh = await org(REFRESH_B);
  await connect('revoked', fresh, REFRESH_B);
  await drain(n, 'revoked');
  await n.close();
  assert.equal(fresh.tasks().length, 1);
});

test('500 and 503 SERVER_UNAVAILABLE, then success: retried with backoff, one task, and the next miss waits for the create', async () => {
  const o = await org(REFRESH_A);
  await connect('flaky', o, REFRESH_A);
  let failed = 0;
  o.intercept = (r) => {
    if (r.method !== 'POST' || r.path !== `${API}/sobjects/Task` || failed >= 2) return undefined;
    failed += 1;
    return failed === 1
      ? { status: 500, body: [{ message: 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234-5678', errorCode: 'UNKNOWN_EXCEPTION' }] }
      : { status: 503, body: [{ message: 'Server is unavailable', errorCode: 'SERVER_UNAVAILABLE' }] };
  };
  await record(bed.db.pool, 'flaky', [
    callVerdict('missed', { caller: '0731000005', at: '2025-05-07 10:00:00' }),
    callVerdict('missed', { caller: '0731000005', at: '2025-05-07 10:05:00' }),
  ]);
  const n = notifier({ crmSettleMs: 0 });
  await drain(n, 'flaky');
  await n.close();
  assert.equal(failed, 2);
  assert.equal(o.tasks().length, 1);
  const created = o.requests.findIndex((r) => r.path === `${API}/sobjects/Task` && r.answered === 201);
  const patched = o.requests.findIndex((r) => r.method === 'PATCH');
  assert.ok(created >= 0 && patched > created, 'the update came after the create succeeded');
  assert.match(String(o.tasks()[0]!.Subject), /missed 2 times, last 10:05/);
  const { recent } = await recentDeliveries(bed.db.pool, 'flaky');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]).reverse(), [['sent', 3], ['sent', 1]]);
});

test('a crash between Salesforce’s 201 and our record of the task: the retry finds the task by the marker in its Subject, no second task', async () => {
  const o = await org(REFRESH_A);
  await connect('crash', o, REFRESH_A);
  await record(bed.db.pool, 'crash', [callVerdict('missed', { caller: '0731000006', at: '2025-05-07 10:00:00' })]);
  const first = notifier({
    afterAccepted: () => {
      throw new Error('simulated crash after the CRM answered 201');
    },
  });
  await assert.rejects(first.pass(), /simulated crash/);
  await first.close();
  assert.equal(o.tasks().length, 1, 'Salesforce made the task');
  const second = notifier();
  await drain(second, 'crash');
  await second.close();
  assert.equal(o.tasks().length, 1, 'still one task');
  const markerQueries = api(o, 'GET', '/query').filter((r) => decodeURIComponent(r.path).includes('FROM Task'));
  assert.equal(markerQueries.length, 2, 'searched before each create attempt');
  assert.ok(markerQueries.every((r) => r.answered === 200), 'Subject LIKE is a valid filter (Description would be refused)');
  const { recent } = await recentDeliveries(bed.db.pool, 'crash');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]), [['sent', 2]]);
  const [rows] = await bed.db.pool.query<RowDataPacket[]>("SELECT object_id FROM smart_missed_calls_crm_objects WHERE tenant = 'crash'");
  assert.equal(rows[0]?.object_id, o.tasks()[0]!.Id);
});

test("a tenant's task never lands in another tenant's Salesforce", async () => {
  const a = await org(REFRESH_A);
  const b = await org(REFRESH_B);
  await connect('acme', a, REFRESH_A);
  await connect('globex', b, REFRESH_B);
  // The same caller at both tenants, in one batch of the outbox.
  await record(bed.db.pool, 'acme', [callVerdict('missed', { caller: '0731000007', at: '2025-05-07 10:00:00' })]);
  await record(bed.db.pool, 'globex', [callVerdict('missed', { caller: '0731000007', at: '2025-05-07 10:01:00' })]);
  const n = notifier();
  await drain(n, 'acme');
  await drain(n, 'globex');
  await n.close();
  assert.equal(a.tasks().length, 1);
  assert.equal(b.tasks().length, 1);
  assert.match(String(a.tasks()[0]!.Subject), /last 10:00/);
  assert.match(String(b.tasks()[0]!.Subject), /last 10:01/);
  assert.notEqual(a.tasks()[0]!.Subject, b.tasks()[0]!.Subject);
  assert.ok([...a.requests, ...b.requests].every((r) => r.answered !== 401 && r.answered !== 400), 'each org only ever saw its own tokens');
});

test('no refresh token, consumer secret or access token in the log, in the stored errors or in the outbox', async () => {
  const o = await org('5Aep861-the-right-one');
  await connect('secrets', o, REFRESH_A); // a refresh token the org refuses
  await record(bed.db.pool, 'secrets', [callVerdict('missed', { caller: '0731000008', at: '2025-05-07 10:00:00' })]);
  const n = notifier();
  await drain(n, 'secrets');
  await n.close();
  const { failures } = await recentDeliveries(bed.db.pool, 'secrets');
  assert.match(failures[0]?.lastError ?? '', /invalid_grant/);
  assert.equal(failures[0]?.status, 'dead');
  const [rows] = await bed.db.pool.query<RowDataPacket[]>('SELECT CONCAT_WS(" ", target, payload, last_error) AS t FROM smart_missed_calls_deliveries UNION ALL SELECT payload FROM smart_missed_calls_outbox');
  for (const secret of [REFRESH_A, REFRESH_B, CLIENT_SECRET, '00D000000000001!']) {
    assert.ok(logged.length > 0 && logged.every((l) => !l.includes(secret)), 'no secret in the log');
    assert.ok(rows.every((r) => !String(r.t).includes(secret)), 'no secret in our tables');
  }
});

test('the connector pages through nextRecordsUrl, checks each hit’s digits, and deletes a task (forget) to the recycle bin', async () => {
  const o = await org(REFRESH_A, { batchSize: 2 });
  for (let i = 0; i < 5; i += 1) o.add('Contact', { LastName: `Namesake ${i}`, Phone: '0731000030' });
  const connector = new SalesforceConnector({ baseUrl: o.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH_A, allowedNetworks: parseNetworks(['127.0.0.1/32']) });
  // A key no stored number ends with: every page is looked at, none matches.
  assert.equal(await connector.findContactByPhone({ display: '0731000030', spellings: ['0731000030'], national: '731000030', key: '99999' }), null);
  const pages = api(o, 'GET', '/query').filter((r) => !decodeURIComponent(r.path).includes('FROM Lead'));
  assert.deepEqual(pages.map((r) => r.path.startsWith(`${API}/query/01g`)), [false, true, true], 'five hits in pages of two: the query and two nextRecordsUrl');
  const found = await connector.findContactByPhone({ display: '0731000030', spellings: ['0731000030'], national: '731000030', key: '731000030' });
  assert.equal(found?.name, 'Namesake 4', 'the most recently modified first');
  assert.equal(found?.ownerName, 'Integration User', "the owner's name from the same query");
  const id = await connector.createTask({ marker: 'smc000000000000000000000001', subject: 'x'.repeat(300), body: 'b', dueAt: new Date(), dueDay: '2025-05-07', completed: false, priority: 'HIGH' }, found);
  assert.equal(String(o.records.Task.get(id)!.Subject).length, 255, 'a long subject is cut to fit, the marker kept');
  assert.equal(await connector.findTaskByMarker('smc000000000000000000000001'), id);
  // Why the marker is in the Subject: the org refuses a filter on the long text area.
  const { access_token: token } = (await (await fetch(`${o.url}/services/oauth2/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: REFRESH_A, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }),
  })).json()) as { access_token: string };
  const byDescription = await fetch(`${o.url}${API}/query?q=${encodeURIComponent("SELECT Id FROM Task WHERE Description LIKE '%smc%'")}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(byDescription.status, 400);
  assert.deepEqual(await byDescription.json(), [{ message: "field 'Description' can not be filtered in a query call", errorCode: 'INVALID_FIELD' }]);
  await connector.deleteTask(id);
  await connector.deleteTask(id); // already deleted: nothing to do
  assert.equal(o.tasks().length, 0);
  assert.ok(o.recycleBin.has(id), 'Salesforce keeps it in the recycle bin (docs/crm.md)');
});

/** The object and the answer of each DELETE Salesforce was sent since `since`. */
const deletesSince = (o: SalesforceOrg, since: number) =>
  o.requests.slice(since).filter((r) => r.method === 'DELETE').map((r) => [r.path.replace(/\/[^/]+$/, '').slice(API.length), r.answered]);

test('forget removes the tasks and the lead we created from Salesforce (to its recycle bin), keeps the contact Salesforce already had, and journals it', async () => {
  const o = await org(REFRESH_A);
  const known = o.add('Contact', { FirstName: 'Ion', LastName: 'Popescu', Phone: '+40731000062', OwnerId: OWNER });
  await connect('gdpr', o, REFRESH_A, true);
  await recordForgetCalls(bed.db.pool, 'gdpr', '0731000061', '0731000062');
  const n = notifier();
  await drain(n, 'gdpr');
  assert.equal(o.tasks().length, 3);
  const [created, ...more] = [...o.records.Lead.values()];
  assert.ok(created && more.length === 0 && created.LastName === 'Ionescu', 'the option created one lead for the unknown caller, found again for the second entry');

  const since = o.requests.length;
  assert.equal((await forgetNumber(bed.db.pool, bed.db.auditKey, '+40 731 000 061', 'user:admin')).crm, 1);
  await drain(n, 'gdpr');
  assert.deepEqual(o.tasks().map((t) => t.WhoId), [known.Id], "only the other caller's task stays");
  assert.equal(o.records.Lead.size, 0, 'the lead we created is gone');
  assert.ok(o.recycleBin.has(created.Id), "to Salesforce's recycle bin (docs/crm.md)");
  assert.deepEqual(deletesSince(o, since), [['/sobjects/Task', 204], ['/sobjects/Task', 204], ['/sobjects/Lead', 204]], 'the two tasks, then the lead, each once');
  assert.deepEqual((await journal('gdpr')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.equal((await journal('gdpr')).at(-1)!.note, 'salesforce: 2 tasks and 1 contacts we created removed');

  // A caller Salesforce already knew: our task goes, their contact stays.
  await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000062', 'user:admin');
  await drain(n, 'gdpr');
  assert.equal(o.tasks().length, 0);
  assert.ok(o.records.Contact.has(known.Id), 'a contact we did not create is never deleted');
  assert.equal((await journal('gdpr')).at(-1)!.note, 'salesforce: 1 tasks and 0 contacts we created removed');
  const [objects] = await bed.db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM smart_missed_calls_crm_objects WHERE tenant = 'gdpr'");
  assert.equal(Number(objects[0]!.n), 0, 'nothing of either caller is left in our CRM table');
});

test('a Salesforce that is down when the number is forgotten gets the removal later: retried, nothing lost, journalled once done', async () => {
  const o = await org(REFRESH_A);
  await connect('later', o, REFRESH_A);
  await record(bed.db.pool, 'later', [callVerdict('missed', { caller: '0731000064', at: '2025-05-07 11:00:00' })]);
  const n = notifier();
  await drain(n, 'later');
  o.intercept = (r) => (r.method === 'DELETE' ? { status: 503, body: [{ message: 'Server is unavailable', errorCode: 'SERVER_UNAVAILABLE' }] } : undefined);
  await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000064', 'user:admin');
  await n.pass();
  const { failures } = await recentDeliveries(bed.db.pool, 'later');
  assert.equal(failures[0]?.status, 'pending', 'failed, to be retried');
  assert.equal(failures[0]?.lastError, 'Salesforce 503 SERVER_UNAVAILABLE: Server is unavailable');
  assert.equal(o.tasks().length, 1);
  assert.deepEqual((await journal('later')).map((j) => j.event), ['forgotten'], 'not journalled as removed while it is not');
  o.intercept = null;
  await drain(n, 'later');
  assert.equal(o.tasks().length, 0, 'removed once Salesforce was back');
  assert.deepEqual((await journal('later')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
});

test("forget never touches another tenant's Salesforce: each tenant's task goes from its own org, and an org without the caller is not called", async () => {
  const a = await org(REFRESH_A);
  const b = await org(REFRESH_B);
  const c = await org(REFRESH_C);
  await connect('sf-acme', a, REFRESH_A);
  await connect('sf-globex', b, REFRESH_B);
  await connect('sf-initech', c, REFRESH_C);
  await record(bed.db.pool, 'sf-acme', [callVerdict('missed', { caller: '0731000065', at: '2025-05-07 12:00:00' })]);
  await record(bed.db.pool, 'sf-globex', [callVerdict('missed', { caller: '0731000065', at: '2025-05-07 12:01:00' })]);
  await record(bed.db.pool, 'sf-initech', [callVerdict('missed', { caller: '0731000066', at: '2025-05-07 12:02:00' })]);
  const n = notifier();
  for (const t of ['sf-acme', 'sf-globex', 'sf-initech']) await drain(n, t);
  const seen = [a, b, c].map((o) => o.requests.length);

  assert.equal((await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000065', 'user:admin')).crm, 2);
  for (const t of ['sf-acme', 'sf-globex', 'sf-initech']) await drain(n, t);
  assert.deepEqual([a, b, c].map((o) => o.tasks().length), [0, 0, 1], "the third tenant's task stays");
  assert.equal(c.requests.length, seen[2], 'the third org was not called at all');
  for (const [i, o] of [a, b].entries()) {
    assert.deepEqual(deletesSince(o, seen[i]!), [['/sobjects/Task', 204]], 'one delete, of its own task, accepted with its own token');
  }
  assert.deepEqual((await journal('sf-acme')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.deepEqual((await journal('sf-globex')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.deepEqual(await journal('sf-initech'), []);
});
