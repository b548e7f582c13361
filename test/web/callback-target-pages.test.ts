/**
 * Callback targets on the pages: the list and the detail page mark an open entry past its
 * target (and not one still within it), and the dashboard's "called back within target" and
 * "oldest open entry" equal a count by hand of the entries recorded here; the wallboard's
 * share is the same rule over today. Counted both ways: before the notifier stored the entries'
 * due times and after, and across a change of the target and a reopen.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import type { Config } from '../../src/config/schema.js';
import { loadSettings, saveSettings } from '../../src/config/settings-store.js';
import { resolveEntry } from '../../src/ledger/actions.js';
import { refreshTargetDue } from '../../src/ledger/target-due.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { signIdentity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { callVerdict, plusMinutes, record } from '../helpers/ledger-calls.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'target-pages-secret-0123456789abcdef';
let db: FreshDatabases;
let server: Server;
let base: string;
let now = '';
const ids: Record<string, number> = {};

async function missed(name: string, caller: string, minutesAgo: number): Promise<void> {
  ids[name] = (await record(db.pool, 'default', [callVerdict('missed', { caller, at: plusMinutes(now, -minutesAgo) })])).events[0]!.entry.id!;
}

before(async () => {
  db = await freshDatabases('targetpages');
  await saveSettings(db.pool, 'default', { callbackTargetMinutes: 30, timezone: 'UTC' }, 'test');
  const [[row]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  now = String(row.now).slice(0, 19);
  // Target 30 min, every hour counted. By hand:
  await missed('calledInTime', '0722000401', 90); // called back after 10 min: within
  await record(db.pool, 'default', [callVerdict('callback', { caller: '0722000401', at: plusMinutes(now, -80) })]);
  await missed('calledLate', '0722000402', 100); // called back after 60 min: late
  await record(db.pool, 'default', [callVerdict('callback', { caller: '0722000402', at: plusMinutes(now, -40) })]);
  await missed('openLate', '0722000403', 60); // open, 60 min: late, marked
  await missed('openYoung', '0722000404', 10); // open, 10 min: not yet due, not counted, not marked
  await missed('cameBack', '0722000405', 50); // answered on a later call 5 min after: not counted
  await record(db.pool, 'default', [callVerdict('answered', { caller: '0722000405', at: plusMinutes(now, -45) })]);
  await missed('resolvedLate', '0722000406', 70); // resolved by hand now, 70 min after: late
  await resolveEntry(db.pool, db.auditKey, 'default', ids.resolvedLate!, 'ana', 'called from a mobile');
  const config: Config = { ...db.config, timezone: 'UTC', server: { ...db.config.server, secret: SECRET } };
  ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot() })));
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await db?.cleanup();
});

async function get(path: string): Promise<string> {
  const id = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
  const res = await fetch(`${base}${path}`, { headers: { 'x-smc-identity': id.header, 'x-smc-signature': id.signature } });
  assert.equal(res.status, 200, path);
  return res.text();
}

function rowOf(html: string, id: number): string {
  const start = html.indexOf(`data-entry-id="${id}"`);
  assert.ok(start >= 0, `row ${id} is listed`);
  return html.slice(start, html.indexOf('</tr>', start));
}

test('the list and the detail page mark the open entry past its target, not the one within it', async () => {
  const list = await get('/entries?status=all');
  assert.match(rowOf(list, ids.openLate!), /smc-past-target">Past target by 30 min</);
  for (const name of ['openYoung', 'calledInTime', 'calledLate', 'resolvedLate']) assert.doesNotMatch(rowOf(list, ids[name]!), /smc-past-target/, name);
  assert.match(await get(`/entries/${ids.openLate}`), /id="smc-entry-past-target">Past target by 30 min</);
  assert.doesNotMatch(await get(`/entries/${ids.openYoung}`), /smc-entry-past-target/);
});

test('the dashboard counts 1 of 4 entries called back within target, and the oldest open entry waits 60 min', async () => {
  const day = (minutesAgo: number) => plusMinutes(now, -minutesAgo).slice(0, 10);
  const api = JSON.parse(await get(`/api/dashboard?from=${day(200)}&to=${now.slice(0, 10)}`)) as {
    raw: { kpis: { withinTarget: { within: number; counted: number; share: number }; oldestOpenSeconds: number } };
    kpis: { withinTarget: string; withinTargetDetail: string };
  };
  assert.deepEqual(api.raw.kpis.withinTarget, { within: 1, counted: 4, share: 0.25 });
  assert.equal(api.kpis.withinTargetDetail, '1 of 4 entries whose target has passed');
  // Since the last attempt of the longest-waiting open entry (60 min ago), give or take the test's own seconds.
  assert.ok(Math.abs(api.raw.kpis.oldestOpenSeconds - 3600) < 60, String(api.raw.kpis.oldestOpenSeconds));
  const page = await get(`/dashboard?from=${day(200)}&to=${now.slice(0, 10)}`);
  assert.match(page, /data-kpi="withinTarget">25%</);

  // The wallboard: the same rule over the entries last tried today (all of them unless this runs just after midnight).
  const today = now.slice(0, 10);
  const outcome: Record<string, 'within' | 'late' | null> = { calledInTime: 'within', calledLate: 'late', openLate: 'late', openYoung: null, cameBack: null, resolvedLate: 'late' };
  const lastTried: Record<string, number> = { calledInTime: 90, calledLate: 100, openLate: 60, openYoung: 10, cameBack: 50, resolvedLate: 70 };
  const todays = Object.keys(outcome).filter((k) => plusMinutes(now, -lastTried[k]!).slice(0, 10) === today && outcome[k] !== null);
  const board = JSON.parse(await get('/api/wallboard')) as { withinTarget: { within: number; counted: number } };
  assert.deepEqual({ within: board.withinTarget.within, counted: board.withinTarget.counted }, {
    within: todays.filter((k) => outcome[k] === 'within').length, counted: todays.length,
  });
});

async function withinTargetNow(): Promise<{ within: number; counted: number }> {
  const day = (minutesAgo: number) => plusMinutes(now, -minutesAgo).slice(0, 10);
  const api = JSON.parse(await get(`/api/dashboard?from=${day(200)}&to=${now.slice(0, 10)}`)) as { raw: { kpis: { withinTarget: { within: number; counted: number } } } };
  return { within: api.raw.kpis.withinTarget.within, counted: api.raw.kpis.withinTarget.counted };
}

/** What the notifier's pass does first: store the due times not computed under the tenant's current settings. */
async function storeDueTimes(): Promise<number> {
  return refreshTargetDue(db.pool, 'UTC', 'default', await loadSettings(db.pool, 'default'));
}

async function staleEntries(): Promise<number> {
  const [[row]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls WHERE target_key = 0')) as unknown as [[{ n: number }]];
  return Number(row.n);
}

test('with the due times stored by the notifier, the dashboard counts the same; a target changed afterwards counts under the new one at once', async () => {
  assert.equal(await storeDueTimes(), 6, 'every entry computed once');
  assert.equal(await staleEntries(), 0);
  assert.equal(await storeDueTimes(), 0, 'nothing left to compute');
  assert.deepEqual(await withinTargetNow(), { within: 1, counted: 4 });

  // 120 min: the two called back and the one resolved by hand made it; the open ones are not due.
  await saveSettings(db.pool, 'default', { callbackTargetMinutes: 120 }, 'test');
  assert.deepEqual(await withinTargetNow(), { within: 3, counted: 3 }, 'before the notifier computed them again');
  assert.equal(await storeDueTimes(), 6);
  assert.deepEqual(await withinTargetNow(), { within: 3, counted: 3 }, 'after');
});

test('a reopened entry leaves its old episode\'s due time behind', async () => {
  await saveSettings(db.pool, 'default', { callbackTargetMinutes: 30 }, 'test');
  await storeDueTimes();
  // The caller called back 80 min ago misses again now: a new episode, not due for 30 min.
  // Judged by the first episode's due time (60 min ago) it would count as late.
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0722000401', at: now })]);
  const [[entry]] = (await db.pool.query<RowDataPacket[]>('SELECT status, target_key FROM smart_missed_calls WHERE id = ?', [ids.calledInTime])) as unknown as [[{ status: string; target_key: number }]];
  assert.deepEqual({ status: entry.status, key: Number(entry.target_key) }, { status: 'open', key: 0 });
  assert.deepEqual(await withinTargetNow(), { within: 0, counted: 3 }, 'before the notifier computed it again');
  assert.equal(await storeDueTimes(), 1, 'only the reopened entry');
  assert.deepEqual(await withinTargetNow(), { within: 0, counted: 3 }, 'after');
});
