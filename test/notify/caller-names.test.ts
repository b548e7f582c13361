import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { saveSettings } from '../../src/config/settings-store.js';
import { ident } from '../../src/db/pool.js';
import { forgetNumber } from '../../src/ledger/actions.js';
import { resolveCallerName } from '../../src/notify/caller-names.js';
import { importContacts, parseContactsCsv } from '../../src/notify/contacts.js';
import { Notifier } from '../../src/notify/worker.js';
import { DEFAULT_SETTINGS, type Config } from '../../src/config/schema.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';

let db: FreshDatabases;
/** The lookup service listens on loopback, which config.yaml must allow (outbound-targets.test.ts shows the refusal). */
const localLookups = (): Config => ({ ...db.config, notify: { allowPrivateNetworks: ['127.0.0.1/32'] } });
let lookups: Server;
let lookupUrl = '';
const asked: string[] = [];
before(async () => {
  db = await freshDatabases('notify_names');
  // A CRM stand-in: JSON for one number, plain text for another, 404 for the rest.
  lookups = createServer((req, res) => {
    const number = decodeURIComponent(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? '');
    asked.push(number);
    if (number === '+40745000003') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'Radu CRM' }));
    else if (number === '0745000004') res.writeHead(200, { 'content-type': 'text/plain' }).end('Text Name\n');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => lookups.listen(0, '127.0.0.1', () => r()));
  lookupUrl = `http://127.0.0.1:${(lookups.address() as { port: number }).port}/lookup?n={number}`;
});
after(async () => {
  lookups.close();
  await db.cleanup();
});

const pbx = () => ident(db.names.pbx);

test('names come from the contact manager, then CSV contacts, then the HTTP lookup, then CNAM', async () => {
  await db.pool.query(`INSERT INTO ${pbx()}.contactmanager_groups (id, owner, name, type) VALUES (1, -1, 'Customers', 'external')`);
  await db.pool.query(`INSERT INTO ${pbx()}.contactmanager_group_entries (id, groupid, user, displayname, fname, lname) VALUES (7, 1, -1, 'Maria Ionescu', 'Maria', 'Ionescu')`);
  await db.pool.query(`INSERT INTO ${pbx()}.contactmanager_entry_numbers (entryid, number, E164, type) VALUES (7, '0745000001', '+40745000001', 'cell')`);
  const parsed = parseContactsCsv('number,name\n0745000002,"Popescu, Ion"\nnot-a-number,Nobody\n0745000001,CSV loses to contact manager\n0745000005\n', DEFAULT_SETTINGS);
  assert.deepEqual(parsed.bad.map((b) => b.line), [3, 5]);
  assert.match(parsed.bad[0]!.problem, /not a phone number/);
  assert.equal(await importContacts(db.pool, 'default', parsed.contacts), 2);
  await db.pool.query(
    `INSERT INTO ${ident(db.names.cdr)}.cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid, userfield, did, cnum, cnam, linkedid, sequence)
     VALUES (NOW() - INTERVAL 1 DAY, '"Cnam Person" <0745000006>', '0745000006', '400', 'from-trunk', 'PJSIP/trunk-1', '', 'Queue', '', 30, 30, 'ANSWERED', 3, '', '1.1', '', '0215550100', '0745000006', 'Cnam Person', '1.1', 1)`,
  );
  await saveSettings(db.pool, 'default', { lookupUrlTemplate: lookupUrl }, 'test');

  assert.deepEqual(await resolveCallerName(db.pool, localLookups(), 'default', '+40 745 000 001'), { name: 'Maria Ionescu', source: 'contactmanager' });
  assert.deepEqual(await resolveCallerName(db.pool, localLookups(), 'default', '0745000002'), { name: 'Popescu, Ion', source: 'csv' });
  assert.deepEqual(await resolveCallerName(db.pool, localLookups(), 'default', '+40745000003'), { name: 'Radu CRM', source: 'http' });
  assert.deepEqual(await resolveCallerName(db.pool, localLookups(), 'default', '0745000004'), { name: 'Text Name', source: 'http' });
  assert.deepEqual(await resolveCallerName(db.pool, localLookups(), 'default', '0745000006'), { name: 'Cnam Person', source: 'cnam' });
  assert.equal(await resolveCallerName(db.pool, localLookups(), 'default', '0745000099'), null);
  const before = asked.length;
  await resolveCallerName(db.pool, localLookups(), 'default', '+40745000003');
  await resolveCallerName(db.pool, localLookups(), 'default', '0745000099');
  assert.equal(asked.length, before, 'found and not-found answers are cached');
});

test('the notifier names new entries before mailing; forgetting a number removes its contact and lookups', async () => {
  await saveSettings(db.pool, 'default', { cadence: 'off', webhooks: [{ url: 'http://127.0.0.1:9/unreachable', secret: 'x'.repeat(16) }] }, 'test');
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0745000002', at: '2025-05-08 09:00:00' })]);
  const n = new Notifier({ pool: db.pool, config: db.config, mailer: null });
  await n.pass();
  await n.close();
  const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT caller_name FROM smart_missed_calls WHERE caller_key = '745000002'`);
  assert.equal(rows[0]!.caller_name, 'Popescu, Ion');
  const [queued] = await db.pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM smart_missed_calls_deliveries WHERE caller_key = '745000002'`);
  assert.equal(Number(queued[0]!.n), 1, 'a webhook delivery holds the number until it is forgotten');
  await forgetNumber(db.pool, db.auditKey, '0745000002', 'user:admin');
  await forgetNumber(db.pool, db.auditKey, '+40745000003', 'user:admin');
  const [left] = await db.pool.query<RowDataPacket[]>(
    `SELECT (SELECT COUNT(*) FROM smart_missed_calls_contacts WHERE caller_key = '745000002') AS contacts,
            (SELECT COUNT(*) FROM smart_missed_calls_lookups WHERE caller_key = '745000003') AS lookups,
            (SELECT COUNT(*) FROM smart_missed_calls_deliveries WHERE caller_key = '745000002') AS deliveries`,
  );
  assert.deepEqual({ ...left[0] }, { contacts: 0, lookups: 0, deliveries: 0 });
});
