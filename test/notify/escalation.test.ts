/**
 * Escalation of entries past their callback target, through the real notifier, MariaDB, a
 * real SMTP server and a signed-webhook receiver: once per threshold across restarts of the
 * notifier (and with two notifiers at once), never for a cleared entry nor one due days ago,
 * held off while someone has claimed the entry, journalled; a CRM task turns HIGH priority.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { verifyAudit } from '../../src/ledger/audit.js';
import { claimEntry, releaseClaim } from '../../src/ledger/claims.js';
import { signature } from '../../src/notify/webhook.js';
import { Notifier } from '../../src/notify/worker.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, plusMinutes, record } from '../helpers/ledger-calls.js';
import { TestSmtp } from '../helpers/smtp.js';
import { HubSpotStandIn } from '../helpers/hubspot.js';

const SECRET = 'an-escalation-webhook-secret';

let db: FreshDatabases;
let smtp: TestSmtp;
let hook: Server;
let hookUrl = '';
const hooks: { valid: boolean; body: { event: string; entry: { id: number }; escalation?: { threshold: number; targetMinutes: number } } }[] = [];

before(async () => {
  db = await freshDatabases('escalate');
  smtp = await new TestSmtp().start();
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      hooks.push({ valid: req.headers['x-smc-signature'] === signature(SECRET, String(req.headers['x-smc-timestamp']), raw), body: JSON.parse(raw) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
});
after(async () => {
  hook?.close();
  await smtp?.stop();
  await db?.cleanup();
});

function config(): Config {
  return {
    ...db.config,
    mail: { ...db.config.mail, transport: 'smtp', host: '127.0.0.1', port: smtp.port, secure: false },
    notify: { allowPrivateNetworks: ['127.0.0.1/32'] },
  };
}

function notifier(): Notifier {
  return new Notifier({ pool: db.pool, config: config(), log: (l) => process.env.SMC_TEST_LOG && console.error(l) });
}

/** A few passes: escalations are queued, fanned out and delivered. */
async function passes(n: Notifier, count = 3): Promise<void> {
  for (let i = 0; i < count; i += 1) await n.pass();
}

async function dbNow(): Promise<string> {
  const [[row]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  return String(row.now).slice(0, 19);
}

async function tenantWithTarget(tenant: string, minutes: number): Promise<void> {
  await saveSettings(db.pool, tenant, {
    cadence: 'off', recipients: ['team@example.test'], escalationRecipients: ['lead@example.test'], callbackTargetMinutes: minutes,
    escalationThresholds: [1, 2], webhooks: [{ url: hookUrl, secret: SECRET, events: ['entry.escalated'] }],
  }, 'test');
}

const escalationMails = (caller: string) => smtp.mails.filter((m) => (m.subject ?? '').startsWith('Not called back within') && (m.subject ?? '').includes(caller));
const hooksFor = (entryId: number) => hooks.filter((h) => h.body.entry.id === entryId);

async function journal(tenant: string, entryId: number): Promise<string[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT note FROM smart_missed_calls_audit WHERE tenant = ? AND entry_id = ? AND event = 'escalated' ORDER BY id", [tenant, entryId]);
  return rows.map((r) => String(r.note));
}

test('an entry past its target escalates once per threshold, across restarts of the notifier and with two at once', async () => {
  await tenantWithTarget('esc', 20);
  const now = await dbNow();
  const id = (await record(db.pool, 'esc', [callVerdict('missed', { caller: '0722000201', at: plusMinutes(now, -25) })])).events[0]!.entry.id!;

  const first = notifier();
  await passes(first);
  await first.close();
  assert.equal(escalationMails('0722000201').length, 1, 'past 1x the target: one escalation');
  const mail = escalationMails('0722000201')[0]!;
  assert.equal(mail.subject, 'Not called back within 20 min: 0722000201');
  assert.deepEqual(mail.to && 'value' in mail.to ? mail.to.value.map((a) => a.address) : [], ['lead@example.test'], 'to the escalation recipients');
  assert.match(mail.text ?? '', /Callback target: 20 min/);

  // A restart: a new notifier (a new process would be no different: all it knows is in the database).
  const second = notifier();
  await passes(second);
  await second.close();
  assert.equal(escalationMails('0722000201').length, 1, 'not again after a restart');

  // The target is halved: the entry, 25 min old, is now past 2x (20 min) as well.
  await saveSettings(db.pool, 'esc', { callbackTargetMinutes: 10 }, 'test');
  const [a, b] = [notifier(), notifier()];
  await Promise.all([passes(a), passes(b)]);
  await Promise.all([a.close(), b.close()]);
  const third = notifier();
  await passes(third);
  await third.close();
  const mails = escalationMails('0722000201');
  assert.equal(mails.length, 2, mails.map((m) => m.subject).join(' | '));
  assert.equal(mails[1]!.subject, 'Not called back within 20 min: 0722000201');
  assert.match(mails[1]!.text ?? '', /at 2 times the target/);

  const got = hooksFor(id);
  assert.deepEqual(got.map((h) => [h.body.event, h.body.escalation?.threshold, h.body.escalation?.targetMinutes]), [['entry.escalated', 1, 20], ['entry.escalated', 2, 10]]);
  assert.ok(got.every((h) => h.valid), 'signed like every webhook');
  assert.deepEqual(await journal('esc', id), ['1x target of 20 min', '2x target of 10 min']);
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT threshold FROM smart_missed_calls_escalations WHERE tenant = ? AND entry_id = ? ORDER BY threshold', ['esc', id]);
  assert.deepEqual(rows.map((r) => Number(r.threshold)), [1, 2]);
  assert.equal((await verifyAudit(db.pool, db.auditKey)).ok, true, 'the journal chain holds');
});

test('a cleared entry is not escalated, nor one before its target, nor one due days ago; a claim holds escalation off until released', async () => {
  await tenantWithTarget('calm', 15);
  const now = await dbNow();
  const cleared = (await record(db.pool, 'calm', [callVerdict('missed', { caller: '0722000301', at: plusMinutes(now, -40) })])).events[0]!.entry.id!;
  await record(db.pool, 'calm', [callVerdict('callback', { caller: '0722000301', at: plusMinutes(now, -2) })]);
  const young = (await record(db.pool, 'calm', [callVerdict('missed', { caller: '0722000302', at: plusMinutes(now, -5) })])).events[0]!.entry.id!;
  const claimed = (await record(db.pool, 'calm', [callVerdict('missed', { caller: '0722000303', at: plusMinutes(now, -20) })])).events[0]!.entry.id!;
  // Due three days ago (the target was just turned on, or the service was off): old news, not mailed.
  const stale = (await record(db.pool, 'calm', [callVerdict('missed', { caller: '0722000304', at: plusMinutes(now, -3 * 1440) })])).events[0]!.entry.id!;
  await claimEntry(db.pool, db.auditKey, { tenant: 'calm', entryId: claimed, user: 'ana', ext: '101', minutes: 15 });

  const n = notifier();
  await passes(n);
  assert.equal(escalationMails('0722000301').length, 0, 'called back: no escalation');
  assert.equal(escalationMails('0722000302').length, 0, 'not yet due');
  assert.equal(escalationMails('0722000303').length, 0, 'claimed: someone is calling back');
  assert.equal(escalationMails('0722000304').length, 0, 'due days ago: stale');
  assert.deepEqual(await journal('calm', stale), []);
  assert.deepEqual([...hooksFor(cleared), ...hooksFor(young), ...hooksFor(claimed)], []);

  await releaseClaim(db.pool, db.auditKey, 'calm', claimed, 'ana');
  await passes(n);
  await n.close();
  assert.equal(escalationMails('0722000303').length, 1, 'the claim is gone: escalated');
  assert.deepEqual(await journal('calm', cleared), []);
  assert.deepEqual(await journal('calm', claimed), ['1x target of 15 min']);
});

test('with a CRM, the escalated entry\'s task turns HIGH priority, says why, and stays HIGH at the next miss', async () => {
  const token = 'pat-eu1-cccccccc-1111-2222-3333-444444444444';
  const hub = await new HubSpotStandIn({ token }).start();
  try {
    await saveSettings(db.pool, 'crmesc', {
      cadence: 'off', callbackTargetMinutes: 20, defaultCountry: 'RO', crm: { kind: 'hubspot', baseUrl: hub.url, token, createContact: false },
    }, 'test');
    const now = await dbNow();
    await record(db.pool, 'crmesc', [callVerdict('missed', { caller: '0731000501', at: plusMinutes(now, -30) })]);
    const n = notifier();
    await passes(n, 5);
    let tasks = [...hub.tasks.values()];
    assert.equal(tasks.length, 1, 'one task');
    assert.equal(tasks[0]!.properties.hs_task_priority, 'HIGH');
    assert.match(tasks[0]!.properties.hs_task_body!, /Not called back within 20 min: escalated\./);
    // Another miss in the same episode: the task's update keeps it HIGH (one miss alone would be MEDIUM).
    await record(db.pool, 'crmesc', [callVerdict('missed', { caller: '0731000501', at: plusMinutes(now, -1) })]);
    await passes(n, 5);
    await n.close();
    tasks = [...hub.tasks.values()];
    assert.equal(tasks.length, 1, 'still one task');
    assert.match(tasks[0]!.properties.hs_task_subject!, /missed 2 times/);
    assert.equal(tasks[0]!.properties.hs_task_priority, 'HIGH');
  } finally {
    await hub.stop();
  }
});
