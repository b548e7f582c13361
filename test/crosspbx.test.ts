/**
 * Clearing across the PBXs of a group (docs/group.md, "Clearing across the PBXs"): two
 * simulated PBXs, each with its own CDR database, its own time zone and its own sync,
 * write one ledger database (as two pbx ids; the Galera cluster itself is the group's
 * end-to-end tests' business). Cluj's clock runs 40 s behind the ledger's, as a PBX whose
 * NTP stopped: its CDR server's connections are pinned to that clock.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { AsteriskCounters } from '../src/cdr/generator/counters.js';
import { insertRows } from '../src/cdr/generator/insert.js';
import type { ScenarioName } from '../src/cdr/generator/label.js';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { writePbxTables } from '../src/cdr/generator/pbx-tables.js';
import { Rng } from '../src/cdr/generator/random.js';
import { SCENARIOS, type ScenarioInput } from '../src/cdr/generator/scenarios.js';
import { loadSettings, saveSettings } from '../src/config/settings-store.js';
import type { Config, DbConfig } from '../src/config/schema.js';
import { migrate } from '../src/db/migrations.js';
import { createPool, ident, inTransaction, type Pool } from '../src/db/pool.js';
import { verifyAudit } from '../src/ledger/audit.js';
import { clearFromOtherPbxs } from '../src/ledger/store.js';
import { checkGroupClock } from '../src/health/checks.js';
import { machineContext } from '../src/health/probes.js';
import { wallClockSeconds } from '../src/notify/digest-period.js';
import { instantOf, localOf, measureSkewMs } from '../src/sync/pbx-clock.js';
import { CLOCK_SKEW_KEY, Syncer } from '../src/sync/cycle.js';
import { freshDatabases, type FreshDatabases } from './harness/db.js';
import { callVerdict, record } from './helpers/ledger-calls.js';

const model = demoPbx();
const BUCHAREST = 'Europe/Bucharest';
const NEW_YORK = 'America/New_York';
const CLUJ_SKEW_S = -40;

let a: FreshDatabases;
let b: FreshDatabases;
let ledgerDb: string;
const pools: Pool[] = [];

before(async () => {
  a = await freshDatabases('xpbx_a');
  b = await freshDatabases('xpbx_b');
  await writePbxTables(a.pool, a.names.pbx, model);
  await writePbxTables(b.pool, b.names.pbx, model);
  ledgerDb = `${a.names.own.slice(0, 40)}_grp`;
  await a.pool.query(`CREATE DATABASE ${ident(ledgerDb)}`);
  const ledger = ledgerPool('setup');
  await migrate(ledger);
});
after(async () => {
  for (const p of pools) await p.end().catch(() => {});
  if (ledgerDb) await a?.pool.query(`DROP DATABASE IF EXISTS ${ident(ledgerDb)}`);
  await a?.cleanup();
  await b?.cleanup();
});

function ledgerPool(pbxId: string): Pool {
  const pool = createPool({ ...a.config.db, database: ledgerDb }, 4, { pbxId });
  pools.push(pool);
  return pool;
}

/** "+02:00": the zone's offset now, as MariaDB's time_zone takes it without its zone tables. */
function offsetNow(zone: string): string {
  const minutes = Math.round((wallClockSeconds(new Date(), zone) - Math.floor(Date.now() / 1000)) / 60);
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The PBX's own MariaDB as its sync sees it: its zone's wall clock, `skewSeconds` off the true time (pinned when skewed). */
function cdrPool(db: DbConfig, zone: string, skewSeconds = 0): Pool {
  const pool = createPool(db, 4);
  pool.pool.on('connection', (conn) => {
    conn.query('SET time_zone = ?', [offsetNow(zone)]);
    if (skewSeconds !== 0) conn.query('SET @@timestamp = UNIX_TIMESTAMP(NOW(6)) + ?', [skewSeconds]);
  });
  pools.push(pool);
  return pool;
}

function groupConfig(fresh: FreshDatabases, pbxId: string, timezone: string): Config {
  return {
    ...fresh.config, pbxId, timezone,
    sync: { ...fresh.config.sync, settleSeconds: 0 },
    group: { ...fresh.config.group, nodes: [{ host: '', port: 3306, socket: fresh.socket }], user: 'root', password: '', database: ledgerDb },
  };
}

interface Pbx {
  id: string;
  zone: string;
  skewSeconds: number;
  fresh: FreshDatabases;
  ledger: Pool;
  syncer: Syncer;
  counters: AsteriskCounters;
}

function pbx(id: string, fresh: FreshDatabases, zone: string, skewSeconds: number, firstId: number): Pbx {
  const ledger = ledgerPool(id);
  const syncer = new Syncer({ cdr: cdrPool(fresh.config.db, zone, skewSeconds), ledger }, groupConfig(fresh, id, zone));
  return { id, zone, skewSeconds, fresh, ledger, syncer, counters: new AsteriskCounters({ uniqueid: firstId, pjsip: firstId, local: firstId, sequence: firstId }) };
}

/** A call that truly began `agoSeconds` ago, written to the PBX's cdr as its clock (zone and skew) stamps it. */
async function call(at: Pbx, scenario: ScenarioName, agoSeconds: number, input: Partial<Omit<ScenarioInput, 'model' | 'rng' | 'start' | 'ids'>>): Promise<void> {
  const start = wallClockSeconds(new Date(Date.now() + (at.skewSeconds - agoSeconds) * 1000), at.zone);
  const generated = SCENARIOS[scenario]({ model, rng: new Rng(agoSeconds), ids: at.counters, start, ...input });
  await insertRows({ pool: at.fresh.pool, cdrDb: at.fresh.names.cdr }, generated.rows);
}

async function entryOf(at: Pbx, callerKey: string, tenant = 'default') {
  const [rows] = await at.ledger.query<RowDataPacket[]>(
    'SELECT id, status, cleared_by, cleared_ext, cleared_at, first_attempt FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ?',
    [tenant, callerKey],
  );
  return rows[0];
}

test('a callback from Cluj (another zone, its clock 40 s behind) clears Bucharest\'s entry as returned, naming the PBX and extension; an answered call there clears a miss Bucharest records later; a callback truly before the miss does not', async () => {
  const bucharest = pbx('bucharest', a, BUCHAREST, 0, 1_000_000);
  const cluj = pbx('cluj', b, NEW_YORK, CLUJ_SKEW_S, 2_000_000);
  await bucharest.syncer.prepare();
  await cluj.syncer.prepare();

  // Bucharest misses X and Y; Cluj answers Z, whose miss at Bucharest its CDR has not shown yet.
  await call(bucharest, 'direct_missed', 600, { caller: { number: '0722810001', name: 'X' } });
  await call(bucharest, 'direct_missed', 540, { caller: { number: '0722810002', name: 'Y' } });
  await call(cluj, 'direct_answered', 480, { caller: { number: '0722810003', name: 'Z' } });
  await bucharest.syncer.cycle();
  await cluj.syncer.cycle();
  assert.equal((await entryOf(bucharest, '722810001'))?.status, 'open');

  // Cluj calls X back 20 s after the miss: its clock stamps it 20 s BEFORE the miss (40 s
  // behind), and in New York's wall clock. Y was called back 30 s before its miss.
  await call(cluj, 'callback', 580, { extension: '102', target: '0722810001', answered: true });
  await call(cluj, 'callback', 570, { extension: '103', target: '0722810002', answered: true });
  await call(bucharest, 'direct_missed', 500, { caller: { number: '0722810003', name: 'Z' } });
  // Bucharest's sync records Z's miss after Cluj's answer was recorded: it comes in cleared.
  const late = await bucharest.syncer.cycle();
  const z = await entryOf(bucharest, '722810003');
  assert.equal(z?.cleared_by, 'answered_later', 'the late miss comes in cleared by the answer at Cluj');
  assert.match(String(z?.cleared_ext), /@cluj$/);
  assert.ok(late.events.some((e) => e.event === 'cleared' && e.entry.callerKey === '722810003'));
  assert.equal((await entryOf(bucharest, '722810001'))?.status, 'open', 'Cluj has not synced the callback yet');

  await cluj.syncer.cycle();
  const next = await bucharest.syncer.cycle();
  const x = await entryOf(bucharest, '722810001');
  assert.equal(x?.status, 'cleared');
  assert.equal(x?.cleared_by, 'returned');
  assert.equal(x?.cleared_ext, '102@cluj', 'the extension, and the PBX it is at');
  // cleared_at is the callback's time on Bucharest's own wall clock: 20 s after the miss.
  const seconds = (local: string) => Date.parse(local.replace(' ', 'T') + 'Z') / 1000;
  assert.ok(Math.abs(seconds(String(x?.cleared_at)) - seconds(String(x?.first_attempt)) - 20) <= 3, `${x?.first_attempt} → ${x?.cleared_at}`);
  assert.ok(next.events.some((e) => e.event === 'cleared' && e.reason === 'returned' && e.ext === '102@cluj'), 'the page hears of it');
  assert.equal((await entryOf(bucharest, '722810002'))?.status, 'open', 'a callback before the miss does not clear it');
  assert.equal(await entryOf(cluj, '722810001'), undefined, 'Cluj has no entry of its own for X');

  // The clearing row is in Bucharest's own chain, written by Bucharest's service.
  const [journal] = await bucharest.ledger.query<RowDataPacket[]>(
    "SELECT pbx, reason, actor, ext, note FROM smart_missed_calls_audit WHERE event = 'cleared' AND entry_id = ?", [x?.id],
  );
  assert.deepEqual(journal.map((r) => ({ ...r })), [{ pbx: 'bucharest', reason: 'returned', actor: 'agent', ext: '102@cluj', note: 'pbx cluj' }]);

  // The measured skew is kept per PBX; the calls carry their instant on the ledger's clock.
  const [[skew]] = (await cluj.ledger.query<RowDataPacket[]>('SELECT v FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k = ?', [CLOCK_SKEW_KEY])) as unknown as [[RowDataPacket]];
  assert.ok(Math.abs(Number(skew.v) / 1000 - CLUJ_SKEW_S) < 5, `measured ${skew.v} ms`);
  const [[instants]] = (await cluj.ledger.query<RowDataPacket[]>(
    `SELECT TIMESTAMPDIFF(SECOND, m.started_utc, c.started_utc) AS after_s FROM smart_missed_calls_calls m JOIN smart_missed_calls_calls c
      ON c.caller_key = m.caller_key AND c.pbx = 'cluj' AND c.direction = 'outbound' WHERE m.pbx = 'bucharest' AND m.caller_key = '722810001'`,
  )) as unknown as [[RowDataPacket]];
  assert.ok(Math.abs(Number(instants.after_s) - 20) <= 3, `the callback is ${instants.after_s} s after the miss on the common clock`);

  // Looking again changes nothing; each PBX's chains verify with its key.
  const again = await bucharest.syncer.cycle();
  assert.deepEqual(again.events.filter((e) => e.event === 'cleared'), []);
  assert.deepEqual((await verifyAudit(bucharest.ledger, a.auditKey)).bad, []);
  assert.deepEqual((await verifyAudit(cluj.ledger, b.auditKey)).bad, []);

  // smc doctor on Cluj tells the skew.
  const [clock] = await checkGroupClock({ ...machineContext(groupConfig(b, 'cluj', NEW_YORK), { cdr: cdrPool(b.config.db, NEW_YORK, CLUJ_SKEW_S), ledger: cluj.ledger }, { tenant: null }) });
  assert.equal(clock?.level, 'warn');
  assert.match(String(clock?.message), /this PBX's clock \(cluj\) and the group cluster's differ by -4\d\.\d s/);
  const [fine] = await checkGroupClock({ ...machineContext(groupConfig(a, 'bucharest', BUCHAREST), { cdr: cdrPool(a.config.db, BUCHAREST), ledger: bucharest.ledger }, { tenant: null }) });
  assert.equal(fine?.level, 'ok');
});

/** One transaction of Bucharest's periodic look at the other PBXs' calls, as its sync runs it. */
async function lookAtOtherPbxs(ledger: Pool): Promise<void> {
  await inTransaction(ledger, (conn: PoolConnection) =>
    clearFromOtherPbxs(conn, a.auditKey, { zone: 'UTC', skewMs: 0 }, '1970-01-01 00:00:00', (tenant) => loadSettings(ledger, tenant)));
}

test('tenants stay apart across PBXs, the setting turns crossing off, and a single PBX\'s recording never crosses', async () => {
  const iasi = ledgerPool('iasi');
  const brasov = ledgerPool('brasov');
  const inGroup = { notify: true, clock: { zone: 'UTC', skewMs: 0 }, group: true };
  const key = (n: string) => n.slice(-9);

  // Tenant x's miss at Iasi; tenant y of Brasov calls the same number back: Iasi's x entry stays open, both ways round.
  await record(iasi, 'x', [callVerdict('missed', { caller: '0722820001', at: '2026-11-20 10:00:00' })], undefined, undefined, inGroup);
  await record(brasov, 'y', [callVerdict('callback', { caller: '0722820001', at: '2026-11-20 10:05:00', ext: '201' })], undefined, undefined, inGroup);
  await record(brasov, 'y', [callVerdict('callback', { caller: '0722820002', at: '2026-11-20 10:05:00', ext: '201' })], undefined, undefined, inGroup);
  await record(iasi, 'x', [callVerdict('missed', { caller: '0722820002', at: '2026-11-20 10:00:00' })], undefined, undefined, inGroup);
  await lookAtOtherPbxs(iasi);
  const statusOf = async (pool: Pool, tenant: string, n: string) =>
    ((await pool.query<RowDataPacket[]>('SELECT status FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ?', [tenant, key(n)])) as unknown as [RowDataPacket[]])[0][0]?.status;
  assert.equal(await statusOf(iasi, 'x', '0722820001'), 'open', 'tenant y of another PBX never clears tenant x');
  assert.equal(await statusOf(iasi, 'x', '0722820002'), 'open', 'nor a miss recorded after its call');
  // The same tenant name at Brasov does.
  await record(brasov, 'x', [callVerdict('callback', { caller: '0722820001', at: '2026-11-20 10:06:00', ext: '202' })], undefined, undefined, inGroup);
  await lookAtOtherPbxs(iasi);
  assert.equal(await statusOf(iasi, 'x', '0722820001'), 'cleared');
  // And a callback Brasov recorded before Iasi recorded the miss it follows: the miss comes in cleared.
  await record(brasov, 'x', [callVerdict('callback', { caller: '0722820006', at: '2026-11-20 10:05:00', ext: '203' })], undefined, undefined, inGroup);
  await record(iasi, 'x', [callVerdict('missed', { caller: '0722820006', at: '2026-11-20 10:00:00' })], undefined, undefined, inGroup);
  const [[late]] = (await iasi.query<RowDataPacket[]>("SELECT status, cleared_by, cleared_ext FROM smart_missed_calls WHERE tenant = 'x' AND pbx = @smc_pbx AND caller_key = '722820006'")) as unknown as [[RowDataPacket]];
  assert.deepEqual({ ...late }, { status: 'cleared', cleared_by: 'returned', cleared_ext: '203@brasov' });

  // Iasi turns crossing off for tenant z: nothing of Brasov's clears its entries, either way round.
  await saveSettings(iasi, 'z', { clearAcrossPbxs: false }, 'test');
  const off = await loadSettings(iasi, 'z');
  await record(iasi, 'z', [callVerdict('missed', { caller: '0722820003', at: '2026-11-20 10:00:00' })], off, undefined, inGroup);
  await record(brasov, 'z', [callVerdict('callback', { caller: '0722820003', at: '2026-11-20 10:05:00' })], undefined, undefined, inGroup);
  await record(brasov, 'z', [callVerdict('answered', { caller: '0722820004', at: '2026-11-20 10:05:00' })], undefined, undefined, inGroup);
  await record(iasi, 'z', [callVerdict('missed', { caller: '0722820004', at: '2026-11-20 10:00:00' })], off, undefined, inGroup);
  await lookAtOtherPbxs(iasi);
  assert.equal(await statusOf(iasi, 'z', '0722820003'), 'open', 'setting off: a callback elsewhere does not clear');
  assert.equal(await statusOf(iasi, 'z', '0722820004'), 'open', 'setting off: nor does a late miss come in cleared');

  // Without the group option (a single PBX's recording) a late miss is not matched against other PBXs' calls.
  await record(brasov, 'w', [callVerdict('callback', { caller: '0722820005', at: '2026-11-20 10:05:00' })], undefined, undefined, inGroup);
  await record(iasi, 'w', [callVerdict('missed', { caller: '0722820005', at: '2026-11-20 10:00:00' })]);
  assert.equal(await statusOf(iasi, 'w', '0722820005'), 'open');

  assert.deepEqual((await verifyAudit(iasi, a.auditKey)).bad, []);
  assert.deepEqual((await verifyAudit(brasov, a.auditKey)).bad, []);
});

test('local times map to instants by the zone\'s offset on that day, DST included, and back; the skew is measured against the ledger', async () => {
  const clock = { zone: BUCHAREST, skewMs: 0 };
  // Bucharest is UTC+2 in winter and UTC+3 in summer; clocks go from 03:00 to 04:00 on 29 March 2026.
  assert.equal(new Date(instantOf('2026-01-15 12:00:00', clock)).toISOString(), '2026-01-15T10:00:00.000Z');
  assert.equal(new Date(instantOf('2026-07-15 12:00:00', clock)).toISOString(), '2026-07-15T09:00:00.000Z');
  assert.equal(new Date(instantOf('2026-03-29 04:30:00', clock)).toISOString(), '2026-03-29T01:30:00.000Z');
  assert.equal(new Date(instantOf('2026-03-29 02:30:00', clock)).toISOString(), '2026-03-29T00:30:00.000Z');
  // A clock 40 s behind stamps 11:59:20 what happened at 12:00:00 of the ledger's clock.
  const behind = { zone: NEW_YORK, skewMs: -40_000 };
  assert.equal(new Date(instantOf('2026-07-15 11:59:20', behind)).toISOString(), '2026-07-15T16:00:00.000Z');
  assert.equal(localOf(Date.parse('2026-07-15T16:00:00Z'), behind), '2026-07-15 11:59:20');

  const skewed = cdrPool(b.config.db, NEW_YORK, 25);
  const measured = await measureSkewMs(skewed, ledgerPool('measure'));
  assert.ok(Math.abs(measured - 25_000) < 2_000, `${measured} ms`);
});

test('migration 12 gives calls already recorded their instant, read in the database server\'s zone', async () => {
  const database = `${a.names.own.slice(0, 40)}_v11`;
  const root = await mysql.createConnection({ socketPath: a.socket, user: 'root' });
  await root.query(`CREATE DATABASE ${ident(database)}`);
  const pool = createPool({ ...a.config.db, database }, 2);
  try {
    await migrate(pool, () => {}, 11);
    await pool.query(
      `INSERT INTO smart_missed_calls_calls (pbx, tenant, linkedid, verdict, direction, caller, caller_key, did, dialled, started_at, ended_at, wait_s, rang, reasons, explanation, row_count, rows_digest, classified_at)
       VALUES ('local', 'default', '1.1', 'missed', 'inbound', '0722', '722', '', '', '2026-11-20 10:00:00', '2026-11-20 10:00:30', 0, '[]', '[]', '[]', 1, '', NOW())`,
    );
    assert.deepEqual(await migrate(pool, () => {}, 12), [12]);
    const [[row]] = (await pool.query<RowDataPacket[]>(
      "SELECT started_utc, CONVERT_TZ('2026-11-20 10:00:00', @@session.time_zone, '+00:00') AS expected FROM smart_missed_calls_calls",
    )) as unknown as [[RowDataPacket]];
    assert.ok(row.started_utc !== null && row.expected !== null, 'the server\'s zone converts');
    assert.equal(String(row.started_utc).slice(0, 19), String(row.expected).slice(0, 19));
  } finally {
    await pool.end();
    await root.query(`DROP DATABASE IF EXISTS ${ident(database)}`);
    await root.end();
  }
});
