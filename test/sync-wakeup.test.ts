import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { startFakeAmi, type FakeAmi } from '../src/cdr/generator/ami-server.js';
import { insertScenarioNow, type ChannelEventSink } from '../src/cdr/generator/live.js';
import type { Config } from '../src/config/schema.js';
import type { LedgerEvent } from '../src/ledger/entries.js';
import { AmiEventListener } from '../src/pbx/ami-events.js';
import { SyncService } from '../src/sync/service.js';
import { freshDatabases, type FreshDatabases } from './harness/db.js';

/**
 * The sync woken by the PBX's AMI call events: a real MariaDB, the AMI stand-in raising the
 * generated call's Newchannel / Hangup as Asterisk would, and the service wired as `smc serve`
 * wires it. No timing is asserted: the interval is set so long that only a wake-up can
 * explain a classification within the test's budget.
 */
let db: FreshDatabases;
let ami: FakeAmi;
const running: { sync: SyncService; listener: AmiEventListener }[] = [];

before(async () => {
  db = await freshDatabases('wakeup');
  ami = await startFakeAmi({ user: 'smc', secret: 's3cret' });
});
after(async () => {
  for (const { sync, listener } of running) {
    await listener.stop();
    await sync.stop();
  }
  await ami.close();
  await db.cleanup();
});

async function startService(intervalSeconds: number): Promise<{ sync: SyncService; changed: LedgerEvent[] }> {
  const config: Config = {
    ...db.config,
    sync: { ...db.config.sync, intervalSeconds, settleSeconds: 2 },
    ami: { host: '127.0.0.1', port: ami.port, user: 'smc', secret: 's3cret' },
  };
  const sync = new SyncService(db.pool, config);
  const listener = new AmiEventListener({ ami: config.ami, onCallOver: (id) => sync.callOver(id), log: () => {} });
  running.push({ sync, listener });
  const changed: LedgerEvent[] = [];
  sync.on('changes', (events) => changed.push(...events));
  sync.start();
  listener.start();
  await until('the service holds the sync lock', async () => sync.isSyncing);
  await until('the listener is logged in', async () => listener.up);
  return { sync, changed };
}

async function until(what: string, ready: () => Promise<boolean>, budgetMs = 30_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`not within ${budgetMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function verdictOf(linkedid: string): Promise<string | undefined> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT verdict FROM smart_missed_calls_calls WHERE linkedid = ?', [linkedid]);
  return rows[0]?.verdict as string | undefined;
}

async function missedCall(seed: number, onChannelEvent?: ChannelEventSink): Promise<string> {
  const call = await insertScenarioNow({ pool: db.pool, cdrDb: db.names.cdr, scenario: 'direct_missed', seed, input: { caller: { number: `07220001${seed}`, name: 'Ion' } }, onChannelEvent });
  assert.equal(call.label.missed, true);
  await call.inserted;
  return call.label.linkedid;
}

test('a missed call is on the list after its AMI Hangup, without waiting for the sync interval', async () => {
  const { sync, changed } = await startService(3600);
  try {
    const linkedid = await missedCall(1, (event, fields) => ami.emitCall(event, fields));
    // The first cycle ran at start; the next timed one is an hour away.
    await until('the call is classified', async () => (await verdictOf(linkedid)) === 'missed');
    assert.ok(changed.some((e) => e.linkedid === linkedid), 'the page is told (the SSE stream listens to these events)');
  } finally {
    await sync.stop();
  }
});

test('a call whose Hangup event was lost is still classified, by the interval and the settle time', async () => {
  const { sync } = await startService(2);
  try {
    // The AMI connection is up but this call's events never come.
    const linkedid = await missedCall(3);
    await until('the call is classified', async () => (await verdictOf(linkedid)) === 'missed');
  } finally {
    await sync.stop();
  }
});
