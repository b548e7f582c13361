import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { saveSettings } from '../../src/config/settings-store.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { HubSpotStandIn } from '../helpers/hubspot.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { eventually, ServeProcess, sleep, writeServeConfig } from '../helpers/serve-process.js';

/**
 * `smc serve` killed with SIGKILL at the fault point `crm-created` — HubSpot has answered 201
 * for the task, our record of its id is not written — and started again: the restarted
 * service finds that task by its marker and records it; HubSpot never gets a second one.
 */

const TOKEN = 'pat-eu1-crash-0000-1111-2222-333333333333';
let db: FreshDatabases;
let hub: HubSpotStandIn;
let dir: string;
let serve: ServeProcess | undefined;

before(async () => {
  db = await freshDatabases('crmcrash');
  hub = await new HubSpotStandIn({ token: TOKEN }).start();
  dir = mkdtempSync(join(tmpdir(), 'smc-crm-crash-'));
});
after(async () => {
  await serve?.kill();
  await hub.stop();
  await db.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const deliveries = async (): Promise<[string, number][]> => {
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT status, attempts FROM smart_missed_calls_deliveries WHERE channel = 'crm' ORDER BY id");
  return rows.map((r) => [String(r.status), Number(r.attempts)]);
};

test('kill -9 between HubSpot’s 201 and our mark: after the restart, the task is recorded and never made twice', { timeout: 120_000 }, async () => {
  await saveSettings(db.pool, 'default', { cadence: 'off', defaultCountry: 'RO', crm: { kind: 'hubspot', baseUrl: hub.url, token: TOKEN } }, 'test');
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0731000200', at: '2025-05-07 10:00:00' })]);
  serve = new ServeProcess(writeServeConfig({ dir, name: 'crm', db, notify: { allow_private_networks: ['127.0.0.1/32'] } }));

  serve.start({ SMC_FAULT: 'crm-created:1' });
  const ended = await Promise.race([serve.exit(), sleep(60_000).then(() => null)]);
  assert.equal(ended?.signal, 'SIGKILL', `serve was not killed at the fault point; stderr:\n${serve.stderr.slice(-2000)}`);
  assert.match(serve.stderr, /fault injected at crm-created/);
  assert.equal(hub.tasks.size, 1, 'HubSpot made the task before the kill');
  assert.deepEqual(await deliveries(), [['sending', 1]], 'our side never learnt of it');

  serve.start({ SMC_FAULT: '' });
  await eventually('the crm delivery to be sent', async () => (await deliveries())[0]?.[0] === 'sent');
  await serve.kill('SIGTERM');
  assert.equal(hub.tasks.size, 1, 'no second task');
  const [task] = [...hub.tasks.values()];
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT object_id FROM smart_missed_calls_crm_objects');
  assert.deepEqual(rows.map((r) => r.object_id), [task!.id]);
  assert.equal(hub.requests.filter((r) => r.method === 'POST' && r.path === '/crm/v3/objects/tasks').length, 1, 'one create request in all');
  assert.ok(!serve.stderr.includes(TOKEN), 'the token is not in the service log');
});
