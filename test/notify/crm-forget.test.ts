import assert from 'node:assert/strict';
import type { RowDataPacket } from 'mysql2/promise';
import { test } from 'node:test';
import { verifyAudit } from '../../src/ledger/audit.js';
import { forgetNumber } from '../../src/ledger/actions.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { connectCrm, crmTestBed, forgetJournal, recordForgetCalls } from '../helpers/crm-notifier.js';
import { error, HubSpotStandIn } from '../helpers/hubspot.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';

/**
 * `smc forget` in the CRM: the real ledger and notifier make the tasks (and a contact) in a
 * stand-in HubSpot account (test/helpers/hubspot.ts); forgetNumber queues their removal
 * through the outbox, which the notifier delivers, retries and journals.
 */

const TOKEN_A = 'pat-eu1-aaaaaaaa-1111-2222-3333-444444444444';
const TOKEN_B = 'pat-eu1-bbbbbbbb-5555-6666-7777-888888888888';
const TOKEN_C = 'pat-eu1-cccccccc-9999-aaaa-bbbb-cccccccccccc';

const bed = crmTestBed('notify_crmforget');
const { drain } = bed;
const notifier = () => bed.notifier({ crmRetry: { baseMs: 10, maxMs: 50, maxAttempts: 5 } });

async function account(token: string): Promise<HubSpotStandIn> {
  return bed.standIn(new HubSpotStandIn({ token }));
}

async function connect(tenant: string, hub: HubSpotStandIn, token: string, createContact = false): Promise<void> {
  await connectCrm(bed.db.pool, tenant, { kind: 'hubspot', baseUrl: hub.url, token, createContact });
}

const journal = (tenant: string) => forgetJournal(bed.db.pool, tenant);

test('forget removes the tasks and the contact we created from HubSpot, keeps the contact HubSpot already had, purges the cached CRM names, and journals it', async () => {
  const hub = await account(TOKEN_A);
  const known = hub.addContact({ firstname: 'Ion', lastname: 'Popescu', phone: '+40731000022' });
  await connect('gdpr', hub, TOKEN_A, true);
  await recordForgetCalls(bed.db.pool, 'gdpr', '0731000021', '0731000022');
  const n = notifier();
  await drain(n, 'gdpr');
  assert.equal(hub.tasks.size, 3);
  const created = [...hub.contacts.values()].find((c) => c.properties.firstname === 'Maria')!;
  assert.ok(created, 'the option created a contact for the unknown caller');
  const [cachedBefore] = await bed.db.pool.query<RowDataPacket[]>("SELECT name FROM smart_missed_calls_crm_names WHERE caller_key = '731000022'");
  assert.deepEqual(cachedBefore.map((r) => r.name), ['Ion Popescu'], 'the name fill cached what HubSpot said');

  const done = await forgetNumber(bed.db.pool, bed.db.auditKey, '+40 731 000 021', 'user:admin');
  assert.equal(done.crm, 1, 'one removal queued: one tenant, one CRM');
  const [queued] = await bed.db.pool.query<RowDataPacket[]>("SELECT payload FROM smart_missed_calls_deliveries WHERE event = 'forget'");
  assert.ok(!String(queued[0]!.payload).includes('731000021') && !String(queued[0]!.payload).includes('Maria'), 'the queued removal holds neither the number nor the name');
  await drain(n, 'gdpr');
  const left = [...hub.tasks.values()];
  assert.equal(left.length, 1, "the forgotten caller's two tasks are gone");
  assert.deepEqual(left[0]!.associations, [[known.id, 204]], "the other caller's task stays");
  assert.ok(!hub.contacts.has(created.id), 'the contact we created is gone');
  assert.deepEqual(hub.gdprDeleted, [created.id], "removed with HubSpot's GDPR delete, once");
  assert.deepEqual(await journal('gdpr'), [
    { event: 'forgotten', note: (await journal('gdpr'))[0]!.note },
    { event: 'crm_forgotten', note: 'hubspot: 2 tasks and 1 contacts we created removed' },
  ]);

  // A caller HubSpot already knew: our task goes, their contact stays.
  await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000022', 'user:admin');
  await drain(n, 'gdpr');
  assert.equal(hub.tasks.size, 0);
  assert.ok(hub.contacts.has(known.id), 'a contact we did not create is never deleted');
  assert.equal((await journal('gdpr')).at(-1)!.note, 'hubspot: 1 tasks and 0 contacts we created removed');
  const [rest] = await bed.db.pool.query<RowDataPacket[]>(
    `SELECT (SELECT COUNT(*) FROM smart_missed_calls_crm_names WHERE tenant = 'gdpr') AS names,
            (SELECT COUNT(*) FROM smart_missed_calls_crm_objects WHERE tenant = 'gdpr') AS objects`,
  );
  assert.deepEqual({ ...rest[0] }, { names: 0, objects: 0 }, 'nothing of either caller is left in our CRM tables');
  assert.ok((await verifyAudit(bed.db.pool, bed.db.auditKey)).ok, 'the journal still verifies');
});

test('a CRM that is down when the number is forgotten gets the removal later: retried, nothing lost, journalled once done', async () => {
  const hub = await account(TOKEN_A);
  await connect('later', hub, TOKEN_A);
  await record(bed.db.pool, 'later', [callVerdict('missed', { caller: '0731000023', at: '2025-05-07 11:00:00' })]);
  const n = notifier();
  await drain(n, 'later');
  assert.equal(hub.tasks.size, 1);
  hub.intercept = (r) => (r.method === 'DELETE' ? { status: 503, body: error('Service unavailable', 'SERVICE_UNAVAILABLE') } : undefined);
  await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000023', 'user:admin');
  await n.pass();
  const { failures } = await recentDeliveries(bed.db.pool, 'later');
  assert.equal(failures[0]?.status, 'pending', 'failed, to be retried');
  assert.match(failures[0]?.lastError ?? '', /HubSpot 503 SERVICE_UNAVAILABLE: Service unavailable/);
  assert.equal(hub.tasks.size, 1);
  assert.deepEqual((await journal('later')).map((j) => j.event), ['forgotten'], 'not journalled as removed while it is not');
  hub.intercept = null;
  await drain(n, 'later');
  assert.equal(hub.tasks.size, 0, 'removed once HubSpot was back');
  assert.deepEqual((await journal('later')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
});

test("forget never touches another tenant's CRM: each tenant's objects go to its own account, and an account without the caller is not called", async () => {
  const hubA = await account(TOKEN_A);
  const hubB = await account(TOKEN_B);
  const hubC = await account(TOKEN_C);
  await connect('acme', hubA, TOKEN_A);
  await connect('globex', hubB, TOKEN_B);
  await connect('initech', hubC, TOKEN_C);
  await record(bed.db.pool, 'acme', [callVerdict('missed', { caller: '0731000024', at: '2025-05-07 12:00:00' })]);
  await record(bed.db.pool, 'globex', [callVerdict('missed', { caller: '0731000024', at: '2025-05-07 12:01:00' })]);
  // Another caller at a third tenant, whose task has the same id in its own account.
  await record(bed.db.pool, 'initech', [callVerdict('missed', { caller: '0731000099', at: '2025-05-07 12:02:00' })]);
  const n = notifier();
  for (const t of ['acme', 'globex', 'initech']) await drain(n, t);
  assert.deepEqual([hubA, hubB, hubC].map((h) => [...h.tasks.keys()]), [['1001'], ['1001'], ['1001']], 'the same task id in each account');
  const seenBefore = [hubA, hubB, hubC].map((h) => h.requests.length);

  assert.equal((await forgetNumber(bed.db.pool, bed.db.auditKey, '0731000024', 'user:admin')).crm, 2);
  for (const t of ['acme', 'globex', 'initech']) await drain(n, t);
  assert.equal(hubA.tasks.size, 0);
  assert.equal(hubB.tasks.size, 0);
  assert.equal(hubC.tasks.size, 1, "the third tenant's task stays");
  assert.equal(hubC.requests.length, seenBefore[2], 'the third account was not called at all');
  for (const [i, hub] of [hubA, hubB].entries()) {
    const deletes = hub.requests.slice(seenBefore[i]).filter((r) => r.method === 'DELETE');
    assert.deepEqual(deletes.map((r) => [r.path, r.answered]), [['/crm/v3/objects/tasks/1001', 204]], 'one delete, of its own task, accepted with its own token');
  }
  assert.deepEqual((await journal('acme')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.deepEqual((await journal('globex')).map((j) => j.event), ['forgotten', 'crm_forgotten']);
  assert.deepEqual(await journal('initech'), []);
});
