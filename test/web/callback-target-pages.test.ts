/**
 * Callback targets on the pages: the list and the detail page mark an open entry past its
 * target (and not one still within it), and the dashboard's "called back within target" and
 * "oldest open entry" equal a count by hand of the entries recorded here; the wallboard's
 * share is the same rule over today.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { resolveEntry } from '../../src/ledger/actions.js';
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
