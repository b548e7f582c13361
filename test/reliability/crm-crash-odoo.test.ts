import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { saveSettings } from '../../src/config/settings-store.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { OdooStandIn } from '../helpers/odoo.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { eventually, ServeProcess, sleep, writeServeConfig } from '../helpers/serve-process.js';

/**
 * `smc serve` killed with SIGKILL at the fault point `crm-created` — Odoo has answered the
 * mail.activity create with the new id, our record of it is not written — and started again:
 * the restarted service finds that activity by the marker in its note and records it; Odoo
 * never gets a second one.
 */

const API_KEY = '5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b';
let db: FreshDatabases;
let odoo: OdooStandIn;
let dir: string;
let serve: ServeProcess | undefined;

before(async () => {
  db = await freshDatabases('crmcrashodoo');
  odoo = await new OdooStandIn({ database: 'acme', login: 'bot@acme.example', apiKey: API_KEY, crm: true }).start();
  dir = mkdtempSync(join(tmpdir(), 'smc-crm-crash-odoo-'));
});
after(async () => {
  await serve?.kill();
  await odoo.stop();
  await db.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const deliveries = async (): Promise<[string, number][]> => {
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT status, attempts FROM smart_missed_calls_deliveries WHERE channel = 'crm' ORDER BY id");
  return rows.map((r) => [String(r.status), Number(r.attempts)]);
};

test('kill -9 between Odoo’s answer to the activity create and our mark: after the restart, the activity is recorded and never made twice', { timeout: 120_000 }, async () => {
  const partner = odoo.addPartner({ name: 'Crash Caller', phone: '+40 (731) 000-200' });
  await saveSettings(db.pool, 'default', {
    cadence: 'off', defaultCountry: 'RO',
    crm: { kind: 'odoo', baseUrl: odoo.url, database: 'acme', login: 'bot@acme.example', token: API_KEY },
  }, 'test');
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0731000200', at: '2025-05-07 10:00:00' })]);
  serve = new ServeProcess(writeServeConfig({ dir, name: 'crmodoo', db, notify: { allow_private_networks: ['127.0.0.1/32'] } }));

  serve.start({ SMC_FAULT: 'crm-created:1' });
  const ended = await Promise.race([serve.exit(), sleep(60_000).then(() => null)]);
  assert.equal(ended?.signal, 'SIGKILL', `serve was not killed at the fault point; stderr:\n${serve.stderr.slice(-2000)}`);
  assert.match(serve.stderr, /fault injected at crm-created/);
  assert.equal(odoo.activities().length, 1, 'Odoo made the activity before the kill');
  assert.deepEqual(await deliveries(), [['sending', 1]], 'our side never learnt of it');

  serve.start({ SMC_FAULT: '' });
  await eventually('the crm delivery to be sent', async () => (await deliveries())[0]?.[0] === 'sent');
  await serve.kill('SIGTERM');
  const [activity, ...more] = odoo.activities();
  assert.ok(activity && more.length === 0, 'no second activity');
  assert.equal(activity.res_id, partner.id);
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT object_id FROM smart_missed_calls_crm_objects');
  assert.deepEqual(rows.map((r) => String(r.object_id).split('@')[0]), [String(activity.id)]);
  assert.equal(odoo.calls.filter((c) => c.call === 'mail.activity create').length, 1, 'one create call in all');
  assert.ok(!serve.stderr.includes(API_KEY), 'the API key is not in the service log');
});
