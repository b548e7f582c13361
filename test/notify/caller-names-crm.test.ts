import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { RowDataPacket } from 'mysql2/promise';
import { after, before, test } from 'node:test';
import { loadSettings, saveSettings } from '../../src/config/settings-store.js';
import { parseNetworks } from '../../src/config/networks.js';
import { ident } from '../../src/db/pool.js';
import { applyCrmName, fillCallerNames, resolveCallerName } from '../../src/notify/caller-names.js';
import { CrmNameFill } from '../../src/notify/crm-names.js';
import type { Notifier } from '../../src/notify/worker.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { signIdentity } from '../../src/web/identity.js';
import { repoRoot } from '../harness/db.js';
import { connectCrm, crmTestBed } from '../helpers/crm-notifier.js';
import { error, HubSpotStandIn } from '../helpers/hubspot.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { listenOnLoopback } from '../helpers/listen.js';
import { TestSmtp } from '../helpers/smtp.js';

/**
 * Names and owners from the CRM in the caller-name chain (contact manager → CSV → CRM → HTTP
 * → CNAM), against a stand-in HubSpot account (test/helpers/hubspot.ts): filled in the
 * background by the real notifier, cached with a TTL, shown by the real web app.
 */

const TOKEN = 'pat-eu1-aaaaaaaa-1111-2222-3333-444444444444';
const SECRET = 'crm-names-test-secret-0123456789ab';

const bed = crmTestBed('notify_crmnames', (c) => ({ ...c, server: { ...c.server, secret: SECRET } }));
const { notifier, config } = bed;
let hub: HubSpotStandIn;
let lookups: Server;
let lookupUrl = '';
const asked: string[] = [];
const loopback = parseNetworks(['127.0.0.1/32']);

before(async () => {
  hub = await bed.standIn(new HubSpotStandIn({ token: TOKEN }));
  // The tenant's HTTP lookup: a name for one number, 404 for the rest.
  lookups = createServer((req, res) => {
    const number = decodeURIComponent(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? '');
    asked.push(number);
    if (number === '0731000014' || number === '0731000031') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'Http Name' }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => lookups.listen(0, '127.0.0.1', () => r()));
  lookupUrl = `http://127.0.0.1:${(lookups.address() as { port: number }).port}/lookup?n={number}`;
});
after(() => {
  lookups.closeAllConnections();
  lookups.close();
});

async function connect(tenant: string, baseUrl = hub.url): Promise<void> {
  await connectCrm(bed.db.pool, tenant, { kind: 'hubspot', baseUrl, token: TOKEN, createContact: false }, { lookupUrlTemplate: lookupUrl });
}

/** One notifier pass, then the background lookups it asked for. */
async function passAndFill(n: Notifier): Promise<void> {
  await n.pass();
  await n.crmNames.idle();
}

async function nameOf(tenant: string, key: string): Promise<string> {
  const [rows] = await bed.db.pool.query<RowDataPacket[]>('SELECT caller_name FROM smart_missed_calls WHERE tenant = ? AND caller_key = ? ORDER BY id LIMIT 1', [tenant, key]);
  return String(rows[0]?.caller_name);
}

/** The stand-in's contact searches that looked for this number. */
const searchesFor = (national: string) => hub.requests.filter((r) => r.path === '/crm/v3/objects/contacts/search' && JSON.stringify(r.body).includes(national)).length;

async function withApp<T>(use: (get: (path: string) => Promise<Response>) => Promise<T>): Promise<T> {
  const sync = new SyncService(bed.db.pool, config());
  const { server, base } = await listenOnLoopback(createApp({ pool: bed.db.pool, config: config(), sync, moduleDir: repoRoot() }));
  try {
    return await use((path) => {
      const signed = signIdentity(SECRET, { user: 'ana', tenant: 'names', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
      return fetch(`${base}${path}`, { headers: { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature } });
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test("a CRM contact's name and its owner reach the list and the entry page after the background fill; the next sight is answered from the cache", async () => {
  hub.addOwner('77', 'Ana', 'Pop');
  hub.addContact({ firstname: 'Ion', lastname: 'Popescu', phone: '+40 731 000 011', hubspot_owner_id: '77' });
  hub.addContact({ firstname: 'Dan', lastname: 'Ene', phone: '+40 731 000 015', hubspot_owner_id: '77' });
  await connect('names');
  await record(bed.db.pool, 'names', [
    callVerdict('missed', { caller: '0731000011', at: '2025-05-07 10:00:00' }),
    callVerdict('missed', { caller: '0731000015', at: '2025-05-07 10:01:00' }),
  ]);
  const n = notifier();
  await passAndFill(n);
  assert.equal(await nameOf('names', '731000011'), 'Ion Popescu');
  assert.equal(await nameOf('names', '731000015'), 'Dan Ene');
  assert.equal(hub.requests.filter((r) => r.path === '/crm/v3/owners/77').length, 1, "the owner's name is asked once for both callers");

  await withApp(async (get) => {
    const list = (await (await get('/api/entries?status=all')).json()) as { entries: { caller: string; name: string; owner: string }[] };
    const ion = list.entries.find((e) => e.caller === '+40731000011');
    assert.deepEqual({ name: ion?.name, owner: ion?.owner }, { name: 'Ion Popescu', owner: 'Ana Pop' });
    const page = await (await get('/entries?status=all')).text();
    assert.match(page, /Ion Popescu/);
    assert.match(page, /Owner: Ana Pop/);
    const [[entry]] = (await bed.db.pool.query<RowDataPacket[]>("SELECT id FROM smart_missed_calls WHERE caller_key = '731000011'")) as unknown as [[{ id: number }]];
    const detail = await (await get(`/entries/${entry.id}`)).text();
    assert.match(detail, /Owner in the CRM<\/th><td id="smc-entry-owner">Ana Pop</);
  });

  // The caller again: the name is in the cache, HubSpot is not asked (the task is updated by id).
  const searches = searchesFor('731000011');
  await record(bed.db.pool, 'names', [callVerdict('missed', { caller: '0731000011', at: '2025-05-07 10:30:00' })]);
  await passAndFill(n);
  assert.equal(searchesFor('731000011'), searches, 'answered from the cache');
  assert.deepEqual(await resolveCallerName(bed.db.pool, config(), 'names', '0731000011'), { name: 'Ion Popescu', source: 'crm' });
});

test('the cache expires: a found name after a day, "not found" after an hour, and the next sight asks the CRM again', async () => {
  // Renamed in HubSpot; within the TTL we keep showing the old name.
  const ion = [...hub.contacts.values()].find((c) => c.properties.firstname === 'Ion')!;
  ion.properties.firstname = 'Ioan';
  await record(bed.db.pool, 'names', [callVerdict('missed', { caller: '0731000011', at: '2025-05-07 11:00:00' })]);
  const n = notifier();
  await passAndFill(n);
  assert.equal(await nameOf('names', '731000011'), 'Ion Popescu', 'still within the day');
  await bed.db.pool.query("UPDATE smart_missed_calls_crm_names SET fetched_at = NOW() - INTERVAL 25 HOUR WHERE caller_key = '731000011'");
  await record(bed.db.pool, 'names', [callVerdict('missed', { caller: '0731000011', at: '2025-05-07 11:30:00' })]);
  await passAndFill(n);
  assert.equal(await nameOf('names', '731000011'), 'Ioan Popescu', 'asked again after the TTL');

  // Not in HubSpot: cached as such, not asked again for an hour.
  await record(bed.db.pool, 'names', [callVerdict('missed', { caller: '0731000012', at: '2025-05-07 12:00:00' })]);
  await passAndFill(n);
  const [[cached]] = (await bed.db.pool.query<RowDataPacket[]>("SELECT name, crm FROM smart_missed_calls_crm_names WHERE caller_key = '731000012'")) as unknown as [[{ name: string; crm: string }]];
  assert.deepEqual({ ...cached }, { name: '', crm: 'hubspot' }, '"not found" is cached too');
  const searches = searchesFor('731000012');
  await record(bed.db.pool, 'names', [callVerdict('missed', { caller: '0731000012', at: '2025-05-07 12:10:00' })]);
  await passAndFill(n);
  assert.equal(searchesFor('731000012'), searches, 'within the hour: not asked');
  await bed.db.pool.query("UPDATE smart_missed_calls_crm_names SET fetched_at = NOW() - INTERVAL 61 MINUTE WHERE caller_key = '731000012'");
  hub.addContact({ firstname: 'Nou', lastname: 'Client', phone: '0731000012' });
  await record(bed.db.pool, 'names', [callVerdict('missed', { caller: '0731000012', at: '2025-05-07 13:20:00' })]);
  await passAndFill(n);
  assert.equal(searchesFor('731000012'), searches + 1, 'asked again after the hour');
  assert.equal(await nameOf('names', '731000012'), 'Nou Client');
});

test('chain order: the contact manager beats the CRM, the CRM beats the HTTP lookup and the name the trunk sent', async () => {
  const pbx = ident(bed.db.names.pbx);
  await bed.db.pool.query(`INSERT INTO ${pbx}.contactmanager_groups (id, owner, name, type) VALUES (1, -1, 'Customers', 'external')`);
  await bed.db.pool.query(`INSERT INTO ${pbx}.contactmanager_group_entries (id, groupid, user, displayname, fname, lname) VALUES (7, 1, -1, 'Maria CM', 'Maria', 'CM')`);
  await bed.db.pool.query(`INSERT INTO ${pbx}.contactmanager_entry_numbers (entryid, number, E164, type) VALUES (7, '0731000013', '+40731000013', 'cell')`);
  hub.addContact({ firstname: 'Maria', lastname: 'Crm', phone: '+40731000013' });
  hub.addContact({ firstname: 'Radu', lastname: 'Crm', phone: '+40731000014' });
  hub.addContact({ firstname: 'Elena', lastname: 'Crm', phone: '+40731000016' });
  await record(bed.db.pool, 'names', [
    callVerdict('missed', { caller: '0731000013', at: '2025-05-07 14:00:00' }),
    callVerdict('missed', { caller: '0731000014', at: '2025-05-07 14:01:00' }),
    callVerdict('missed', { caller: '0731000016', at: '2025-05-07 14:02:00', name: 'BUCURESTI' }),
  ]);
  const n = notifier();
  await n.pass();
  assert.ok(asked.includes('0731000014'), 'the first sight went on down the chain to the HTTP lookup');
  await n.crmNames.idle();
  assert.equal(await nameOf('names', '731000013'), 'Maria CM', 'the contact manager stands');
  assert.equal(await nameOf('names', '731000014'), 'Radu Crm', "the CRM's answer replaced the HTTP lookup's");
  assert.equal(await nameOf('names', '731000016'), 'Elena Crm', "and the trunk's caller-id name");
  assert.deepEqual(await resolveCallerName(bed.db.pool, config(), 'names', '0731000013'), { name: 'Maria CM', source: 'contactmanager' });
  assert.deepEqual(await resolveCallerName(bed.db.pool, config(), 'names', '0731000014'), { name: 'Radu Crm', source: 'crm' });
});

test('a CRM that is down never holds up the chain: no answer at all, or 500s, and the name comes from the HTTP lookup; the CRM is asked again later', async () => {
  // Accepts the connection and never answers.
  const silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  try {
    await connect('down', `http://127.0.0.1:${(silent.address() as { port: number }).port}`);
    await record(bed.db.pool, 'down', [callVerdict('missed', { caller: '0731000031', at: '2025-05-07 15:00:00' })]);
    const [[row]] = (await bed.db.pool.query<RowDataPacket[]>("SELECT id FROM smart_missed_calls WHERE tenant = 'down'")) as unknown as [[{ id: number }]];
    const pools = { ledger: bed.db.pool, cdr: bed.db.pool };
    const fill = new CrmNameFill({
      pools, config: config(), allowedNetworks: loopback,
      apply: async (tenant, key, name, s) => void (await applyCrmName(pools, config(), tenant, key, name, s)),
    });
    const started = Date.now();
    await fillCallerNames(pools, config(), 'down', [row.id], await loadSettings(bed.db.pool, 'down'), fill);
    assert.ok(Date.now() - started < 5_000, `the chain took ${Date.now() - started} ms with the CRM not answering`);
    assert.equal(await nameOf('down', '731000031'), 'Http Name');
    await fill.close();
  } finally {
    silent.closeAllConnections();
    silent.close();
  }

  // HubSpot answering 500: nothing is cached, the tenant's CRM is left alone a while, then asked again.
  await connect('flaky');
  hub.addContact({ firstname: 'Vlad', lastname: 'Crm', phone: '+40731000032' });
  hub.intercept = (r) => (r.path === '/crm/v3/objects/contacts/search' ? { status: 500, body: error('internal error', 'INTERNAL_ERROR') } : undefined);
  await record(bed.db.pool, 'flaky', [callVerdict('missed', { caller: '0731000032', at: '2025-05-07 15:10:00' })]);
  const [[flaky]] = (await bed.db.pool.query<RowDataPacket[]>("SELECT id FROM smart_missed_calls WHERE tenant = 'flaky'")) as unknown as [[{ id: number }]];
  const pools = { ledger: bed.db.pool, cdr: bed.db.pool };
  const fill = new CrmNameFill({
    pools, config: config(), allowedNetworks: loopback, pauseAfterFailureMs: 500,
    apply: async (tenant, key, name, s) => void (await applyCrmName(pools, config(), tenant, key, name, s)),
  });
  const settings = await loadSettings(bed.db.pool, 'flaky');
  await fillCallerNames(pools, config(), 'flaky', [flaky.id], settings, fill);
  await fill.idle();
  const [cachedRows] = await bed.db.pool.query<RowDataPacket[]>("SELECT 1 FROM smart_missed_calls_crm_names WHERE tenant = 'flaky'");
  assert.equal(cachedRows.length, 0, 'a failure is not cached as "not found"');
  const tried = searchesFor('731000032');
  await fillCallerNames(pools, config(), 'flaky', [flaky.id], settings, fill);
  await fill.idle();
  assert.equal(searchesFor('731000032'), tried, 'paused after the failure: not asked again at once');
  hub.intercept = null;
  await new Promise((r) => setTimeout(r, 600));
  await fillCallerNames(pools, config(), 'flaky', [flaky.id], settings, fill);
  await fill.idle();
  assert.equal(await nameOf('flaky', '731000032'), 'Vlad Crm', 'asked again after the pause');
  await fill.close();
});

test("a caller the CRM named before: the missed-call mail carries the CRM's name and the contact's owner", async () => {
  const smtp = await new TestSmtp().start();
  try {
    await connect('mailed');
    await saveSettings(bed.db.pool, 'mailed', { cadence: 'realtime', recipients: ['team@example.test'] }, 'test');
    // What an earlier background lookup left in the cache.
    await bed.db.pool.query(
      "INSERT INTO smart_missed_calls_crm_names (tenant, pbx, caller_key, crm, name, owner_name, fetched_at) VALUES ('mailed', @smc_pbx, '731000041', 'hubspot', 'Ion Mail', 'Ana Pop', NOW())",
    );
    await record(bed.db.pool, 'mailed', [callVerdict('missed', { caller: '0731000041', at: '2025-05-07 16:00:00' })]);
    // A mailer made from the config (the bed's notifiers have none), pointed at the test SMTP server.
    const n = notifier({ mailer: undefined, config: { ...config(), mail: { ...bed.db.config.mail, transport: 'smtp', host: '127.0.0.1', port: smtp.port, secure: false } } });
    for (let i = 0; i < 100 && smtp.mails.length === 0; i += 1) {
      await n.pass();
      await new Promise((r) => setTimeout(r, 20));
    }
    const [mail] = smtp.mails;
    assert.match(mail?.subject ?? '', /Ion Mail/);
    assert.match(mail?.text ?? '', /Owner in the CRM: Ana Pop/);
    assert.match(String(mail?.html ?? ''), /Owner in the CRM<\/td><td>Ana Pop/);
  } finally {
    await smtp.stop();
  }
});

test('a private app without crm.objects.owners.read: the caller is still named, with no owner', async () => {
  const noOwners = await new HubSpotStandIn({ token: TOKEN, scopes: ['crm.objects.contacts.read', 'crm.objects.contacts.write'] }).start();
  try {
    noOwners.addOwner('78', 'Ana', 'Pop');
    noOwners.addContact({ firstname: 'Sorin', lastname: 'Crm', phone: '+40731000051', hubspot_owner_id: '78' });
    await connect('scoped', noOwners.url);
    await record(bed.db.pool, 'scoped', [callVerdict('missed', { caller: '0731000051', at: '2025-05-07 17:00:00' })]);
    const n = notifier();
    await passAndFill(n);
    assert.equal(await nameOf('scoped', '731000051'), 'Sorin Crm');
    const owners = noOwners.requests.filter((r) => r.path === '/crm/v3/owners/78');
    assert.deepEqual(owners.map((r) => r.answered), [403], 'asked once, refused, remembered');
    const [[cached]] = (await bed.db.pool.query<RowDataPacket[]>("SELECT owner_name FROM smart_missed_calls_crm_names WHERE tenant = 'scoped'")) as unknown as [[{ owner_name: string }]];
    assert.equal(cached.owner_name, '');
    assert.equal(noOwners.tasks.size, 1, 'and the task was made all the same');
  } finally {
    await noOwners.stop();
  }
});
