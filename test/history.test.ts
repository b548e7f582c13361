/**
 * History at install (issue 21): `smc serve` started for the first time against a PBX whose
 * cdr table already holds 30 days of generated calls, as after any install (web UI,
 * fwconsole, VitalPBX script: each starts the service on an empty ledger). The service
 * answers at once, classifies the history in the time its live cycles leave while live
 * calls keep being listed and mailed, survives a kill -9 mid-way without counting anything
 * twice, streams its progress in order up to 100 %, and mails or webhooks nobody about the
 * history.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { writePbxTables } from '../src/cdr/generator/pbx-tables.js';
import { writeVolume } from '../src/cdr/generator/volume.js';
import { saveSettings } from '../src/config/settings-store.js';
import { signIdentity } from '../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from './harness/db.js';
import { ServeProcess, eventually, writeServeConfig } from './helpers/serve-process.js';
import { PastCalls } from './helpers/past-calls.js';
import { TestSmtp } from './helpers/smtp.js';
import { signedGet } from './helpers/signed-get.js';

const SECRET = 'reliability-secret-0123456789';
const HOOK_SECRET = 'a-webhook-secret-of-some-length';
/** Live callers: no generated history caller has this prefix. */
const LIVE_PREFIX = '0799000';
const DAYS = 30;
const model = demoPbx();

let dir: string;
let db: FreshDatabases;
let configFile: string;
let serve: ServeProcess;
let hook: { server: Server; bodies: string[] };
const smtp = new TestSmtp();
const liveLinkedids: string[] = [];
let recentHistoryLinkedid = '';
const streams: HistoryStream[] = [];

interface HistoryEventData {
  history: { running: boolean; percent: number; text: string; eta: string; summary: string } | null;
}

/** The page's event stream over the service's unix socket, keeping its "history" events in arrival order. */
class HistoryStream {
  readonly events: HistoryEventData[] = [];
  private readonly req;

  constructor(socketPath: string) {
    const signed = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
    let buffer = '';
    this.req = request({ socketPath, path: '/api/events', headers: { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === 'history' && data) this.events.push(JSON.parse(data) as HistoryEventData);
        }
      });
      res.on('error', () => {});
    });
    this.req.on('error', () => {});
    this.req.end();
  }

  close(): void {
    this.req.destroy();
  }
}

function get(path: string): Promise<{ status: number; body: string }> {
  return signedGet({ socketPath: join(dir, 'history.sock') }, path, SECRET);
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const [rows] = await db.pool.query<RowDataPacket[]>(sql, params);
  return Number(rows[0]!.n);
}

/** The install's history job as the service keeps it. */
async function job(): Promise<{ finishedAt: string | null; since: string; until: string } | null> {
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT v FROM smart_missed_calls_state WHERE k = 'history_job:*'");
  return rows[0] ? JSON.parse(String(rows[0].v)) : null;
}

async function position(): Promise<string | null> {
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT v FROM smart_missed_calls_state WHERE k LIKE 'history:*:%'");
  return rows[0] ? String(rows[0].v) : null;
}

/**
 * A missed call that began just after the install, all its rows written at once: the live
 * sync's business, not the history's, which owns every call over before the install.
 */
async function liveMissedCall(n: number): Promise<string> {
  const [[{ ago }]] = (await db.pool.query<RowDataPacket[]>(
    "SELECT GREATEST(0, TIMESTAMPDIFF(SECOND, v, NOW()) - 1) AS ago FROM smart_missed_calls_state WHERE k = 'notify_calls_since'",
  )) as unknown as [[{ ago: number }]];
  const linkedid = await new PastCalls(db.pool, db.names.cdr, model, 5_000_000 + n * 1000).insert(
    'direct_missed',
    { caller: { number: `${LIVE_PREFIX}${String(n).padStart(3, '0')}`, name: `Live ${n}` }, did: '0215550102' },
    Number(ago),
    500 + n,
  );
  liveLinkedids.push(linkedid);
  return linkedid;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-history-'));
  db = await freshDatabases('history');
  await smtp.start();
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  hook = { server, bodies };
  await writePbxTables(db.pool, db.names.pbx, model);
  await saveSettings(db.pool, 'default', {
    cadence: 'realtime', recipients: ['team@example.com'], maxEmailsPerHour: 10_000,
    webhooks: [{ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, secret: HOOK_SECRET }],
  }, 'test');
  const [[{ today }]] = (await db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(CURDATE(), '%Y-%m-%d') AS today")) as unknown as [[{ today: string }]];
  const day = (n: number) => new Date(Date.parse(`${today}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
  // The PBX's last 30 days, up to yesterday: what install finds in the cdr table.
  await writeVolume({ pool: db.pool, cdrDb: db.names.cdr, model, seed: 21, from: day(-(DAYS - 1)), to: day(-1), callsPerDay: 120 });
  // Missed an hour before the install, inside the live sync's window: history all the same.
  recentHistoryLinkedid = await new PastCalls(db.pool, db.names.cdr, model, 4_000_000).insert(
    'direct_missed', { caller: { number: '0799111001', name: 'Before install' }, did: '0215550102' }, 3600, 7);
  configFile = writeServeConfig({
    dir, name: 'history', db: { names: db.names, socket: db.config.db.socket }, smtpPort: smtp.port,
    // Hour steps, each held back 100 ms: the history lasts over a minute however fast the
    // machine, so the test acts while it still runs.
    sync: { history_chunk_seconds: 3600, max_call_seconds: 7200 },
    notify: { allow_private_networks: ['127.0.0.0/8'] },
  });
  serve = new ServeProcess(configFile, { SMC_HISTORY_CHUNK_DELAY_MS: '100' });
});

after(async () => {
  for (const s of streams) s.close();
  await serve?.kill();
  await smtp.stop();
  await new Promise((r) => hook?.server.close(r));
  await db?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('a fresh install: the service answers at once and lists live calls while the history is still being classified', async () => {
  serve.start();
  await serve.waitFor(/web listening/);
  const health = await get('/api/health');
  assert.equal(health.status, 200);
  const dashboard = await get('/dashboard');
  assert.equal(dashboard.status, 200);
  assert.match(dashboard.body, /id="smc-history"(?! hidden)/, 'the page shows the history bar');
  assert.equal((await job())?.finishedAt, null, 'the page answered before the history was done');
  streams.push(new HistoryStream(join(dir, 'history.sock')));

  await eventually('history under way', async () => (await position()) !== null, 120_000);
  const linkedid = await liveMissedCall(1);
  // Generous: the live cycle runs every second; the history never holds it back by more than one step.
  await eventually('the live call on the list', async () => (await count('SELECT COUNT(*) AS n FROM smart_missed_calls_calls WHERE linkedid = ?', [linkedid])) === 1, 60_000);
  assert.equal((await job())?.finishedAt, null, 'the live call was listed while the history was still running');
  await eventually('the live miss mailed', async () => smtp.mails.some((m) => (m.subject ?? '').includes(`${LIVE_PREFIX}001`)), 60_000);
});

test('kill -9 mid-history, then a restart resumes where it stopped: progress in order up to 100 %, nothing twice, nobody told about history', async () => {
  const before = await position();
  assert.ok(before, 'the history had begun');
  assert.equal((await job())?.finishedAt, null, 'the history was still running when the service was killed');
  await serve.kill('SIGKILL');
  streams[0]!.close();
  const reached = await position();

  serve.start();
  // stderr holds both runs: the second "web listening" is this run's.
  await serve.waitFor(/web listening[\s\S]*web listening/);
  const resumed = new HistoryStream(join(dir, 'history.sock'));
  streams.push(resumed);
  await liveMissedCall(2);
  await eventually('the history done', async () => (await job())?.finishedAt != null, 540_000);
  await eventually('the last progress event', async () => resumed.events.some((e) => e.history && !e.history.running), 30_000);

  for (const [i, stream] of streams.entries()) {
    const percents = stream.events.map((e) => e.history!.percent);
    assert.ok(percents.length > 0, `stream ${i} got progress`);
    assert.deepEqual(percents, [...percents].sort((a, b) => a - b), `stream ${i}: progress in order`);
  }
  assert.ok(resumed.events.some((e) => /^about .+ left$/.test(e.history!.eta)), 'a time-left estimate once the run had some pace');
  const last = resumed.events.at(-1)!.history!;
  assert.equal(last.running, false);
  assert.equal(last.percent, 100);
  assert.match(last.summary, new RegExp(`^Call history classified: ${DAYS} days, [\\d,]+ calls, [\\d,]+ missed by the team\\.$`));
  const firstAfterRestart = resumed.events[0]!.history!.percent;
  const since = Date.parse((await job())!.since.replace(' ', 'T') + 'Z');
  const until = Date.parse((await job())!.until.replace(' ', 'T') + 'Z');
  const killedAt = (Date.parse(reached!.replace(' ', 'T') + 'Z') - since) / (until - since);
  assert.ok(firstAfterRestart >= Math.floor(killedAt * 1000) / 10, `resumed at ${firstAfterRestart} %, not from the start (killed at ${killedAt})`);

  // Every call once: history and live.
  await eventually('both live calls on the list', async () => (await count(`SELECT COUNT(*) AS n FROM smart_missed_calls_calls WHERE linkedid IN (?)`, [liveLinkedids])) === 2, 60_000);
  const cdrCalls = await count(`SELECT COUNT(DISTINCT linkedid) AS n FROM \`${db.names.cdr}\`.cdr`);
  assert.equal(await count('SELECT COUNT(*) AS n FROM smart_missed_calls_calls'), cdrCalls, 'every call of the cdr table classified exactly once');
  // Every miss counted once on its entry, and journalled once.
  assert.equal(
    await count(`SELECT COUNT(*) AS n FROM smart_missed_calls e WHERE e.total_missed <> (SELECT COUNT(*) FROM smart_missed_calls_calls c WHERE c.entry_id = e.id AND c.verdict = 'missed')`),
    0,
    'no entry counts a miss twice',
  );
  assert.equal(await count("SELECT COUNT(*) AS n FROM smart_missed_calls_audit WHERE event = 'created'"), await count('SELECT COUNT(*) AS n FROM smart_missed_calls'));
  assert.equal(
    await count("SELECT COUNT(*) AS n FROM smart_missed_calls_audit WHERE event IN ('created', 'incremented', 'reopened')"),
    await count("SELECT COUNT(*) AS n FROM smart_missed_calls_calls WHERE verdict = 'missed'"),
    'one journal row per missed call',
  );
  const verify = execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', configFile, 'audit', 'verify'], { encoding: 'utf8' });
  assert.match(verify, /chain intact/);

  // A call missed before the install, inside the live window, is on the list and told to nobody.
  assert.equal(await count('SELECT COUNT(*) AS n FROM smart_missed_calls_calls WHERE linkedid = ?', [recentHistoryLinkedid]), 1);
  // Only the live calls notify anyone.
  const [outbox] = await db.pool.query<RowDataPacket[]>('SELECT DISTINCT linkedid FROM smart_missed_calls_outbox');
  assert.ok(outbox.length > 0);
  for (const r of outbox) assert.ok(liveLinkedids.includes(String(r.linkedid)), `outbox event for ${r.linkedid}, a history call`);
  await eventually('the second live miss mailed and webhooked', async () => smtp.mails.length >= 2 && hook.bodies.length >= 2, 60_000);
  for (const m of smtp.mails) assert.match(m.subject ?? '', new RegExp(LIVE_PREFIX), 'a mail about a history call');
  for (const b of hook.bodies) assert.match(b, /799000/, 'a webhook about a history call');
});
