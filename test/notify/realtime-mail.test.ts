import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { Notifier } from '../../src/notify/worker.js';
import { verifyAudit } from '../../src/ledger/audit.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, plusMinutes, record } from '../helpers/ledger-calls.js';
import { TestSmtp } from '../helpers/smtp.js';

let db: FreshDatabases;
let smtp: TestSmtp;
before(async () => {
  db = await freshDatabases('notify_mail');
  smtp = await new TestSmtp().start();
});
after(async () => {
  await smtp.stop();
  await db.cleanup();
});

const FAST = { baseMs: 20, maxMs: 200, maxAttempts: 50 };

function config(port = smtp.port): Config {
  return { ...db.config, mail: { ...db.config.mail, transport: 'smtp', host: '127.0.0.1', port, secure: false }, server: { ...db.config.server, baseUrl: 'https://pbx.example.test/admin/' } };
}

async function realtimeTenant(tenant: string, change: Record<string, unknown> = {}): Promise<void> {
  await saveSettings(db.pool, tenant, { cadence: 'realtime', recipients: ['team@example.test', 'boss@example.test'], ...change }, 'test');
}

function notifier(extra: Partial<ConstructorParameters<typeof Notifier>[0]> = {}): Notifier {
  return new Notifier({ pool: db.pool, config: config(), mailRetry: FAST, log: (l) => process.env.SMC_TEST_LOG && console.error(l), ...extra });
}

async function mailsFor(tenantCaller: string) {
  return smtp.mails.filter((m) => (m.subject ?? '').includes(tenantCaller));
}

async function until(what: string, check: () => Promise<boolean>, work: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    await work();
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never happened: ${what}`);
}

async function auditOf(event: string, tenant: string) {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT entry_id, note FROM smart_missed_calls_audit WHERE tenant = ? AND event = ?', [tenant, event]);
  return rows;
}

test('six misses in ten minutes from one caller make two mails, the second saying +2 more attempts', async () => {
  await realtimeTenant('dedupe');
  const n = notifier();
  const start = '2025-05-06 09:00:00';
  for (let i = 0; i < 6; i += 1) {
    await record(db.pool, 'dedupe', [callVerdict('missed', { caller: '0722000111', at: plusMinutes(start, i * 2), name: 'Ion Popescu' })]);
    await n.pass();
  }
  await n.close();
  const mails = await mailsFor('0722000111');
  assert.equal(mails.length, 2, mails.map((m) => m.subject).join(' | '));
  assert.equal(mails[0]!.subject, 'Missed call from Ion Popescu (0722000111)');
  assert.equal(mails[1]!.subject, 'Missed call from Ion Popescu (0722000111) (+2 more attempts)');
  assert.match(mails[1]!.text ?? '', /\+2 more attempts since the last alert/);
  assert.match(mails[1]!.html as string, /Sales queue/);
  assert.deepEqual(mails[0]!.to && 'value' in mails[0]!.to ? mails[0]!.to.value.map((a) => a.address) : [], ['team@example.test', 'boss@example.test']);
  assert.match(mails[0]!.text ?? '', /https:\/\/pbx\.example\.test\/admin\/config\.php\?display=smartmissedcalls&view=entry&id=\d+/);
  const notified = await auditOf('notified', 'dedupe');
  assert.equal(notified.length, 2, 'one notified journal row per mail sent');
  for (const row of notified) assert.doesNotMatch(String(row.note), /0722/);
  assert.equal((await verifyAudit(db.pool, db.auditKey)).ok, true, 'the journal chain still holds');
});

test('past the hourly cap mails are held and one summary says how many', async () => {
  await realtimeTenant('capped');
  const n = notifier();
  const verdicts = Array.from({ length: 60 }, (_, i) => callVerdict('missed', { caller: `07230${String(i).padStart(5, '0')}`, at: plusMinutes('2025-05-06 10:00:00', i) }));
  await record(db.pool, 'capped', verdicts);
  await n.pass();
  await n.pass();
  await n.close();
  const ours = smtp.mails.filter((m) => /07230\d{5}|held back/.test(m.subject ?? ''));
  const summaries = ours.filter((m) => /held back/.test(m.subject ?? ''));
  assert.equal(ours.length - summaries.length, 50);
  assert.equal(summaries.length, 1);
  assert.equal(summaries[0]!.subject, '10 missed-call alerts were held back (limit: 50 emails per hour)');
  for (let i = 50; i < 60; i += 1) assert.match(summaries[0]!.text ?? '', new RegExp(`07230${String(i).padStart(5, '0')}`));
  const { recent } = await recentDeliveries(db.pool, 'capped', 100);
  assert.equal(recent.filter((d) => d.status === 'held').length, 10);
});

test('with the SMTP server down for a while every mail arrives once it is back, none twice', async () => {
  const down = await new TestSmtp().start();
  const port = down.port;
  await down.stop();
  await realtimeTenant('outage');
  const n = new Notifier({ pool: db.pool, config: config(port), mailRetry: FAST });
  await record(db.pool, 'outage', Array.from({ length: 5 }, (_, i) => callVerdict('missed', { caller: `07240000${i}0`, at: plusMinutes('2025-05-06 11:00:00', i) })));
  await n.pass();
  await n.pass();
  const { failures } = await recentDeliveries(db.pool, 'outage');
  assert.ok(failures.length >= 1, 'the failed attempt is visible');
  assert.match(String(failures[0]!.lastError), /ECONNREFUSED|connect/i);
  const back = await new TestSmtp().start(port);
  try {
    await until('all five delivered', async () => back.mails.length >= 5 && (await recentDeliveries(db.pool, 'outage')).recent.every((d) => d.status === 'sent'), () => n.pass());
    await n.pass();
    assert.equal(back.mails.length, 5);
    assert.equal(new Set(back.mails.map((m) => m.messageId)).size, 5, 'five different mails, none twice');
  } finally {
    await n.close();
    await back.stop();
  }
});

test('a crash between the SMTP server accepting a mail and marking it sent causes at most one duplicate', async () => {
  await realtimeTenant('crash');
  let crashes = 0;
  const first = notifier({
    afterAccepted: (d) => {
      if (d.channel === 'email_realtime' && crashes === 0) {
        crashes += 1;
        throw new Error('simulated crash after the server accepted the mail');
      }
    },
  });
  await record(db.pool, 'crash', [
    callVerdict('missed', { caller: '0725000001', at: '2025-05-06 12:00:00' }),
    callVerdict('missed', { caller: '0725000002', at: '2025-05-06 12:01:00' }),
  ]);
  await assert.rejects(first.pass(), /simulated crash/);
  await first.close();
  const [stuck] = await db.pool.query<RowDataPacket[]>(`SELECT status FROM smart_missed_calls_deliveries WHERE tenant = 'crash' ORDER BY id`);
  assert.deepEqual(stuck.map((r) => r.status), ['sending', 'pending'], 'the interrupted delivery is detectable');

  const second = notifier();
  await second.pass();
  await second.pass();
  await second.close();
  const mails = smtp.mails.filter((m) => /072500000[12]/.test(m.subject ?? ''));
  const first1 = mails.filter((m) => (m.subject ?? '').includes('0725000001'));
  const first2 = mails.filter((m) => (m.subject ?? '').includes('0725000002'));
  assert.equal(first1.length, 2, 'the interrupted mail is sent again: the one allowed duplicate');
  assert.equal(first1[0]!.messageId, first1[1]!.messageId, 'the copy carries the same Message-ID');
  assert.equal(first2.length, 1);
  const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT status, attempts, last_error FROM smart_missed_calls_deliveries WHERE tenant = 'crash' ORDER BY id`);
  assert.deepEqual(rows.map((r) => [r.status, r.attempts]), [['sent', 2], ['sent', 1]]);
  assert.equal((await auditOf('notified', 'crash')).length, 2);
});

test('a mail for a caller whose entry was already cleared says it was handled; cleared events mail nobody', async () => {
  await realtimeTenant('handled');
  await record(db.pool, 'handled', [
    callVerdict('missed', { caller: '0726000001', at: '2025-05-06 13:00:00' }),
    callVerdict('callback', { caller: '0726000001', at: '2025-05-06 13:01:00', ext: '102' }),
  ]);
  const n = notifier();
  await n.pass();
  await n.close();
  const mails = smtp.mails.filter((m) => (m.subject ?? '').includes('0726000001'));
  assert.equal(mails.length, 1);
  assert.match(mails[0]!.text ?? '', /Already handled: called back/);
});
