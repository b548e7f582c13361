/**
 * Crash anywhere: one generated day of traffic arrives batch by batch at two identical
 * databases. `smc serve` A is killed with SIGKILL at random moments and also kills itself
 * at the named fault points (SMC_FAULT); `smc serve` B runs undisturbed. When both have
 * caught up, calls, entries, journal, outbox, deliveries and the mails the SMTP server got
 * must be the same: no lost call, no double count, no lost or extra mail.
 *
 * `npm test` runs a scaled-down version; `npm run soak` the long one (SMC_SOAK=1).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ParsedMail } from 'mailparser';
import type { RowDataPacket } from 'mysql2/promise';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { Rng } from '../../src/cdr/generator/random.js';
import { dayStart, SECONDS_PER_DAY } from '../../src/cdr/generator/calendar.js';
import { insertRows } from '../../src/cdr/generator/insert.js';
import type { GeneratedRow } from '../../src/cdr/generator/legs.js';
import { generateDay } from '../../src/cdr/generator/traffic.js';
import { naiveDatetime, naiveSeconds } from '../../src/cdr/row.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { verifyAudit } from '../../src/ledger/audit.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { INSTALL_HISTORY_KEY, writeState } from '../../src/sync/state.js';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import { ServeProcess, eventually, sleep, writeServeConfig } from '../helpers/serve-process.js';
import { TestSmtp } from '../helpers/smtp.js';

const SOAK = process.env.SMC_SOAK === '1';
const KILLS = SOAK ? 60 : 12;
const CALLS = SOAK ? 700 : 250;
const SEED = Number(process.env.SMC_CRASH_SEED ?? 20260310);
const POINTS = ['after-read', 'after-classify', 'in-ledger', 'after-commit', 'outbox-sending', 'outbox-accepted'];
const FAULTS = 'after-read:0.08,after-classify:0.01,in-ledger:0.25,after-commit:0.25,outbox-sending:0.1,outbox-accepted:0.1';

const model = demoPbx();
let dir: string;
let crashing: FreshDatabases;
let calm: FreshDatabases;
const smtpCrashing = new TestSmtp();
const smtpCalm = new TestSmtp();
const processes: ServeProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-crash-'));
  [crashing, calm] = await Promise.all([freshDatabases('crash'), freshDatabases('calm')]);
  // Installed long before: the generated day's calls are live traffic, not the history an
  // install classifies without telling anyone.
  for (const db of [crashing, calm]) await writeState(db.pool, { [INSTALL_HISTORY_KEY]: 'installed before the test' });
  await Promise.all([smtpCrashing.start(), smtpCalm.start()]);
  for (const db of [crashing, calm]) {
    await writePbxTables(db.pool, db.names.pbx, model);
    await saveSettings(db.pool, 'default', { cadence: 'realtime', recipients: ['team@example.com'], maxEmailsPerHour: 10_000 }, 'test');
  }
});

after(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await Promise.all([smtpCrashing.stop(), smtpCalm.stop()]);
  await Promise.all([crashing?.cleanup(), calm?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

/** The generated day moved so that it ends 15 minutes before the database's now, whole calls in start order. */
async function dayOfCalls(db: FreshDatabases): Promise<GeneratedRow[][]> {
  const [[{ now }]] = (await db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
  const date = '2026-03-10';
  const shift = naiveSeconds(now) - 900 - (dayStart(date) + SECONDS_PER_DAY);
  return generateDay(model, { seed: SEED, date, calls: CALLS }).map((call) =>
    call.rows.map((r) => ({ ...r, calldate: naiveDatetime(naiveSeconds(r.calldate) + shift) })),
  );
}

async function progress(db: FreshDatabases): Promise<{ linkedids: number; calls: number; outbox: number; deliveries: number }> {
  const [[row]] = (await db.pool.query<RowDataPacket[]>(
    `SELECT (SELECT COUNT(DISTINCT linkedid) FROM ${db.names.cdr}.cdr) AS linkedids,
            (SELECT COUNT(*) FROM smart_missed_calls_calls) AS calls,
            (SELECT COUNT(*) FROM smart_missed_calls_outbox WHERE status <> 'done') AS outbox,
            (SELECT COUNT(*) FROM smart_missed_calls_deliveries WHERE status IN ('pending', 'sending', 'retry')) AS deliveries`,
  )) as unknown as [[Record<string, unknown>]];
  return { linkedids: Number(row.linkedids), calls: Number(row.calls), outbox: Number(row.outbox), deliveries: Number(row.deliveries) };
}

async function caughtUp(db: FreshDatabases): Promise<boolean> {
  const p = await progress(db);
  return p.linkedids === p.calls && p.outbox === 0 && p.deliveries === 0;
}

/** Mails as (recipients, subject), with the copies of one Message-ID counted once. */
function distinctMails(mails: ParsedMail[]): { unique: string[]; extraCopies: { messageId: string; sameMail: boolean }[] } {
  const byId = new Map<string, ParsedMail>();
  const extraCopies: { messageId: string; sameMail: boolean }[] = [];
  for (const m of mails) {
    const id = m.messageId ?? '';
    const first = byId.get(id);
    if (first) extraCopies.push({ messageId: id, sameMail: first.subject === m.subject && JSON.stringify(first.to) === JSON.stringify(m.to) });
    else byId.set(id, m);
  }
  const unique = [...byId.values()].map((m) => `${JSON.stringify(m.to)} ${m.subject}`).sort();
  return { unique, extraCopies };
}

test(`smc serve killed ${KILLS}+ times over one generated day ends exactly where an uninterrupted run does`, { timeout: SOAK ? 900_000 : 300_000 }, async () => {
  const rng = new Rng(SEED);
  const calls = await dayOfCalls(crashing);
  const sync = { interval_seconds: 1, settle_seconds: 1, hot_window_seconds: 86_400, max_call_seconds: 2 * 86_400, full_scan_every_seconds: 5 };
  const a = new ServeProcess(writeServeConfig({ dir, name: 'crashing', db: crashing, smtpPort: smtpCrashing.port, sync }), { SMC_FAULT: FAULTS });
  const b = new ServeProcess(writeServeConfig({ dir, name: 'calm', db: calm, smtpPort: smtpCalm.port, sync }));
  processes.push(a, b);
  b.start();

  // Insertion: whole calls, in start order, a batch every ~400 ms, into both databases.
  const batches = KILLS * 3;
  const perBatch = Math.ceil(calls.length / batches);
  let inserted = 0;
  const inserting = (async () => {
    for (let i = 0; i < calls.length; i += perBatch) {
      const rows = calls.slice(i, i + perBatch).flat();
      await insertRows({ pool: crashing.pool, cdrDb: crashing.names.cdr }, rows);
      await insertRows({ pool: calm.pool, cdrDb: calm.names.cdr }, rows);
      inserted += 1;
      await sleep(rng.int(200, 600));
    }
  })();

  // Killing: start A, let it live a random while (or die at a fault point by itself), SIGKILL it, again.
  let kills = 0;
  let selfKills = 0;
  let done = false;
  void inserting.then(() => {
    done = true;
  });
  while (!done || kills + selfKills < KILLS) {
    const listened = (a.stderr.match(/web listening/g) ?? []).length;
    const life = a.starts;
    const logBefore = a.stderr.length;
    // The first lives each die at one fault point for sure (when the work reaches it);
    // then a quarter of the kills land while it starts up, the rest while it works.
    const targeted = life < POINTS.length ? POINTS[life]! : null;
    a.start(targeted ? { SMC_FAULT: `${targeted}:1` } : {});
    const duringStartup = !targeted && rng.chance(0.25);
    const up = duringStartup ? Promise.resolve() : eventually('serve to start', async () => !a.running || (a.stderr.match(/web listening/g) ?? []).length > listened, 30_000);
    const lifetime = targeted ? 15_000 : duringStartup ? rng.int(100, 1500) : rng.int(200, 3000);
    const lifeEnds = up.then(() => sleep(lifetime)).then(() => 'timer' as const);
    const ended = await Promise.race([lifeEnds, a.exit().then(() => 'died' as const)]);
    if (ended === 'died') {
      const exit = await a.exit();
      assert.equal(exit?.signal, 'SIGKILL', `serve A ended by itself, not at a fault point:\n${a.stderr.slice(-3000)}`);
      selfKills += 1;
    } else {
      await a.kill('SIGKILL');
      // The timer and a fault point can fall together: then it died by its own hand just before ours.
      if (a.stderr.slice(logBefore).includes('fault injected at ')) selfKills += 1;
      else kills += 1;
    }
  }
  await inserting;
  assert.equal(inserted, Math.ceil(calls.length / perBatch));

  // A last run without faults: both must catch up and agree.
  a.start({ SMC_FAULT: '' });
  await eventually('both instances to catch up', async () => (await caughtUp(crashing)) && (await caughtUp(calm)), 120_000).catch(async (err: Error) => {
    const state = JSON.stringify({ crashing: await progress(crashing), calm: await progress(calm) });
    throw new Error(`${err.message}: ${state}\nA:\n${a.stderr.slice(-2000)}\nB:\n${b.stderr.slice(-2000)}`);
  });
  await sleep(1500);
  await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);

  const injected = (a.stderr.match(/fault injected at /g) ?? []).length;
  assert.equal(injected, selfKills, 'every time A died by itself, it was at a fault point');
  const [x, y] = await Promise.all([ledgerSnapshot(crashing.pool), ledgerSnapshot(calm.pool)]);
  assert.ok(y.calls.length >= CALLS, `${y.calls.length} calls classified`);
  assert.ok(y.entries.length > 10, `${y.entries.length} entries`);
  assert.deepEqual(x.calls, y.calls, 'calls: none lost, none different');
  assert.deepEqual(x.entries, y.entries, 'entries: no double count');
  assert.deepEqual(x.journal, y.journal, 'journal per entry');
  assert.deepEqual(x.journalOther, y.journalOther);
  assert.deepEqual(x.outbox, y.outbox, 'one outbox event per ledger event');
  assert.deepEqual(x.deliveries, y.deliveries, 'one delivery per event and recipient');
  assert.deepEqual(x.notified, y.notified, 'notified once per mail');
  const crashed = await verifyAudit(crashing.pool, crashing.auditKey);
  assert.deepEqual({ ok: crashed.ok, rows: crashed.rows }, { ok: true, rows: (await verifyAudit(calm.pool, calm.auditKey)).rows });

  const got = distinctMails(smtpCrashing.mails);
  const want = distinctMails(smtpCalm.mails);
  assert.ok(want.unique.length > 5, `${want.unique.length} mails sent`);
  assert.deepEqual(want.extraCopies, [], 'the undisturbed run sends every mail once');
  assert.deepEqual(got.unique, want.unique, 'the same mails, none lost');
  // The one duplicate SMTP cannot rule out: killed after the server accepted a mail and
  // before it was marked sent. The copy carries the same Message-ID (receivers drop it);
  // there can be no more such copies than kills.
  assert.ok(got.extraCopies.every((c) => c.sameMail), 'a resent copy is the same mail (subject, recipients) under the same Message-ID');
  assert.ok(got.extraCopies.length <= kills + selfKills);
  const points = new Map<string, number>();
  for (const m of a.stderr.matchAll(/fault injected at ([\w-]+)/g)) points.set(m[1]!, (points.get(m[1]!) ?? 0) + 1);
  console.log(
    `crash: ${kills} SIGKILLs from outside + ${selfKills} at fault points (${[...points].map(([p, n]) => `${p} ${n}`).join(', ')}) survived; ` +
      `${a.starts} starts; ${y.calls.length} calls, ${y.entries.length} entries, ${want.unique.length} mails; ` +
      `${got.extraCopies.length} resent copies with the same Message-ID`,
  );
});
