/**
 * Group mode's data model (docs/group.md): the pbx id on every row, the migration that adds
 * it to an existing install, one audit chain per (pbx, tenant), the group section of
 * config.yaml, the CDR read from the PBX's database while the ledger is written elsewhere,
 * and the ledger pool's failover to the next node. A second private MariaDB plays the
 * group's database; a socket nobody listens on plays a node that is down.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { startMariadb, type Mariadb } from '../tools/mariadb.mjs';
import { naiveDatetime, naiveSeconds, type CdrRow } from '../src/cdr/row.js';
import { loadConfig } from '../src/config/load.js';
import { ConfigError, type Config } from '../src/config/schema.js';
import { closePools, createFailoverPool, openPools } from '../src/db/ledger-pool.js';
import { migrate } from '../src/db/migrations.js';
import { createPool, ident, type Pool } from '../src/db/pool.js';
import { auditHash, verifyAudit, type AuditRecord } from '../src/ledger/audit.js';
import { Syncer } from '../src/sync/cycle.js';
import { TenantScope } from '../src/web/tenant-scope.js';
import { listEntries } from '../src/web/entry-queries.js';
import type { ListFilter } from '../src/web/filters.js';
import { numberRules } from '../src/ledger/entries.js';
import { DEFAULT_SETTINGS } from '../src/config/schema.js';
import { freshDatabases, insertCdrRows, loadFixtureCdr, type FreshDatabases } from './harness/db.js';
import { callVerdict, record } from './helpers/ledger-calls.js';

let db: FreshDatabases;
let dir: string;
let cluster: Mariadb;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-group-'));
  db = await freshDatabases('group');
  cluster = await startMariadb({ dir: join(dir, 'cluster') });
});
after(async () => {
  await cluster?.stop();
  await db?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const ALL_ENTRIES: ListFilter = { status: 'all', from: '', to: '', route: '', did: '', ext: '', q: '', sort: 'last', dir: 'desc', page: 1 };

/** A pool on the test's ledger database as the PBX `pbxId` writes it. */
const poolAs = (pbxId: string, database = db.config.db.database) => createPool({ ...db.config.db, database }, 4, { pbxId });

async function entriesOf(pool: Pool, tenant = 'default') {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT id, pbx, caller_key, status, cleared_by, missed_count FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx ORDER BY id', [tenant]);
  return rows;
}

test('the same caller missing at two PBXs of one ledger is two entries; each PBX sees, clears and verifies only its own', async () => {
  const bucharest = poolAs('bucharest');
  const cluj = poolAs('cluj');
  try {
    await record(bucharest, 'default', [callVerdict('missed', { caller: '0722800001', at: '2026-11-20 10:00:00' })]);
    await record(cluj, 'default', [callVerdict('missed', { caller: '0722800001', at: '2026-11-20 10:01:00' })]);
    await record(cluj, 'default', [callVerdict('missed', { caller: '0722800001', at: '2026-11-20 10:02:00' })]);
    const [b] = await entriesOf(bucharest);
    const [c] = await entriesOf(cluj);
    assert.ok(b && c && b.id !== c.id, 'two entries');
    assert.equal(b.pbx, 'bucharest');
    assert.equal(c.pbx, 'cluj');
    assert.equal(Number(b.missed_count), 1, 'not merged with the other PBX\'s misses');
    assert.equal(Number(c.missed_count), 2);

    // A callback from Cluj clears Cluj's entry only (clearing across the group is a setting to come).
    await record(cluj, 'default', [callVerdict('callback', { caller: '0722800001', at: '2026-11-20 10:05:00', ext: '201' })]);
    assert.equal((await entriesOf(cluj))[0]!.cleared_by, 'returned');
    assert.equal((await entriesOf(bucharest))[0]!.status, 'open');

    // The pages read through the tenant scope: each PBX's list is its own.
    const list = async (pool: Pool) => (await listEntries(new TenantScope(pool, 'default'), ALL_ENTRIES, numberRules(DEFAULT_SETTINGS))).entries;
    assert.deepEqual((await list(bucharest)).map((e) => e.id), [Number(b.id)]);
    assert.deepEqual((await list(cluj)).map((e) => e.id), [Number(c.id)]);

    // One chain per (pbx, tenant): each verifies; a row altered in Cluj's is named, Bucharest's still holds.
    const bOk = await verifyAudit(bucharest, db.auditKey);
    assert.deepEqual(bOk.bad, []);
    assert.deepEqual(bOk.chains.map((ch) => ch.chain), ['default']);
    assert.deepEqual((await verifyAudit(cluj, db.auditKey)).bad, []);
    const [[target]] = (await cluj.query<RowDataPacket[]>("SELECT id FROM smart_missed_calls_audit WHERE pbx = 'cluj' AND chain_seq = 2")) as unknown as [[RowDataPacket]];
    await cluj.query('DROP TRIGGER IF EXISTS smart_missed_calls_audit_no_update');
    await cluj.query("UPDATE smart_missed_calls_audit SET actor = 'user:mallory' WHERE id = ?", [target.id]);
    const broken = await verifyAudit(cluj, db.auditKey);
    assert.deepEqual(broken.bad.map((x) => [x.id, x.chain, /altered/.test(x.problem)]), [[Number(target.id), 'default', true]]);
    assert.deepEqual(broken.chains.map((ch) => [ch.chain, ch.bad]), [['default', 1]]);
    assert.deepEqual((await verifyAudit(bucharest, db.auditKey)).bad, [], 'another PBX\'s chain is not touched');
  } finally {
    await Promise.all([bucharest.end(), cluj.end()]);
  }
});

test('migration 10 gives existing rows the implicit pbx, keeps the old journal verifiable and continues it per tenant; the list still reads an index', async () => {
  const database = `${db.names.own.slice(0, 40)}_v9`;
  const root = await mysql.createConnection({ socketPath: db.socket, user: 'root' });
  await root.query(`CREATE DATABASE ${ident(database)}`);
  const pool = poolAs('local', database);
  try {
    await migrate(pool, () => {}, 9);
    // The journal as version 9 wrote it: one keyed chain in id order, its head in audit_head.
    let prev = '0'.repeat(64);
    for (let i = 1; i <= 3; i++) {
      const r: AuditRecord = { tenant: i === 2 ? 'other' : 'default', entryId: i, event: 'created', reason: null, actor: 'agent', ext: null, linkedid: `l${i}`, note: null };
      const createdAt = `2026-01-0${i} 10:00:00.000`;
      const hash = auditHash(db.auditKey, prev, r, createdAt);
      await pool.query(
        'INSERT INTO smart_missed_calls_audit (tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
        [r.tenant, r.entryId, r.event, r.reason, r.actor, r.ext, r.linkedid, r.note, createdAt, prev, hash],
      );
      prev = hash;
    }
    await pool.query("INSERT INTO smart_missed_calls_state (k, v, updated_at) VALUES ('audit_head', ?, NOW())", [prev]);
    await pool.query(
      `INSERT INTO smart_missed_calls (tenant, caller, caller_key, did, rang_extensions, first_attempt, last_attempt, created_at, updated_at, missed_count, total_missed)
       VALUES ('default', '0722900001', '722900001', '0215550100', '{}', '2026-01-01 10:00:00', '2026-01-01 10:00:00', NOW(), NOW(), 1, 1)`,
    );
    assert.deepEqual(await migrate(pool, () => {}, 10), [10]);
    await migrate(pool); // the later steps, which the recording below relies on

    const [[entry]] = (await pool.query<RowDataPacket[]>('SELECT pbx FROM smart_missed_calls')) as unknown as [[RowDataPacket]];
    assert.equal(entry.pbx, 'local', 'existing rows are the single PBX\'s');
    const [audit] = await pool.query<RowDataPacket[]>('SELECT DISTINCT pbx FROM smart_missed_calls_audit');
    assert.deepEqual(audit.map((r) => r.pbx), ['local']);
    assert.deepEqual((await verifyAudit(pool, db.auditKey)).bad, [], 'the old chain verifies after the migration');

    // The same caller misses again: the entry is found under the implicit pbx, and the journal goes on per tenant.
    await record(pool, 'default', [callVerdict('missed', { caller: '0722900001', at: '2026-11-20 10:00:00' })]);
    const [rows] = await pool.query<RowDataPacket[]>('SELECT missed_count FROM smart_missed_calls');
    assert.deepEqual(rows.map((r) => Number(r.missed_count)), [2], 'one entry, counted on');
    const [[first]] = (await pool.query<RowDataPacket[]>("SELECT prev_hash FROM smart_missed_calls_audit WHERE chain_seq = 1 AND tenant = 'default'")) as unknown as [[RowDataPacket]];
    assert.equal(first.prev_hash, prev, 'the tenant\'s chain starts from the old chain\'s last hash');
    const result = await verifyAudit(pool, db.auditKey);
    assert.deepEqual(result.bad, []);
    assert.deepEqual(result.chains.map((c) => [c.chain, c.rows]), [['legacy', 3], ['default', 1]]);

    // Removing the old chain's last row breaks both the old chain and the new one that hangs from it.
    await pool.query('DROP TRIGGER IF EXISTS smart_missed_calls_audit_no_delete');
    await pool.query('DELETE FROM smart_missed_calls_audit WHERE chain_seq IS NULL AND entry_id = 3');
    assert.deepEqual(new Set((await verifyAudit(pool, db.auditKey)).bad.map((b) => b.chain)), new Set(['legacy', 'default']));

    // The list's query still reads the index led by tenant and pbx.
    const [plan] = await pool.query<RowDataPacket[]>(
      "EXPLAIN SELECT * FROM smart_missed_calls WHERE tenant = 'default' AND pbx = @smc_pbx ORDER BY last_attempt DESC, id DESC LIMIT 50",
    );
    assert.ok(plan[0]!.key, `an index, not a scan: ${JSON.stringify(plan)}`);
    const [byCaller] = await pool.query<RowDataPacket[]>(
      "EXPLAIN SELECT id FROM smart_missed_calls WHERE tenant = 'default' AND pbx = @smc_pbx AND caller_key IN ('722900001')",
    );
    assert.equal(byCaller[0]!.key, 'uniq_tenant_caller_did');
  } finally {
    await pool.end();
    await root.query(`DROP DATABASE IF EXISTS ${ident(database)}`);
    await root.end();
  }
});

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const refusal = (text: string): string => {
  try {
    loadConfig({ path: configFile('refused.yaml', text), env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.field;
  }
  throw new Error(`accepted:\n${text}`);
};

test('config: a group lists its nodes in order and each PBX names itself; bad group settings are refused by field', () => {
  const ok = loadConfig({
    path: configFile('group.yaml', 'pbx_id: bucharest\ngroup:\n  nodes: ["10.0.0.1", "10.0.0.2:3307", {host: 10.0.0.3, port: 3308}]\n  user: smc\n  password: s3cret\n  database: smc_group\n'),
    env: {},
  });
  assert.equal(ok.pbxId, 'bucharest');
  assert.deepEqual(ok.group.nodes, [
    { host: '10.0.0.1', port: 3306, socket: '' }, { host: '10.0.0.2', port: 3307, socket: '' }, { host: '10.0.0.3', port: 3308, socket: '' },
  ]);
  assert.equal(loadConfig({ path: configFile('single.yaml', 'pbx: freepbx\n'), env: {} }).pbxId, 'local', 'a single PBX keeps the implicit id');
  assert.equal(loadConfig({ path: configFile('single.yaml', ''), env: { SMC_PBX_ID: 'cluj' } }).pbxId, 'cluj');

  const group = 'group:\n  nodes: [10.0.0.1]\n  user: smc\n';
  assert.equal(refusal(group), 'pbx_id', 'two PBXs left at the default would write one list');
  assert.equal(refusal(`pbx_id: b\ngroup:\n  nodes: [10.0.0.1]\n`), 'group.user');
  assert.equal(refusal(`pbx_id: b\n${group}  database: ''\n`), 'group.database');
  assert.equal(refusal(`pbx_id: b\n${group}  tls: {cert: /etc/smc/client.pem}\n`), 'group.tls.key');
  assert.equal(refusal(`pbx_id: b\ngroup:\n  nodes: [{host: 10.0.0.1, weight: 2}]\n`), 'group.nodes[0].weight');
  assert.equal(refusal(`pbx_id: b\ngroup:\n  nodes: [{port: 3306}]\n`), 'group.nodes[0].host');
  assert.equal(refusal(`pbx_id: b\ngroup:\n  nodes: [{host: 10.0.0.1, port: 70000}]\n`), 'group.nodes[0].port');
  assert.equal(refusal('pbx_id: "bucharest one"\n'), 'pbx_id');
  assert.equal(refusal(`pbx_id: b\n${group}  lease_seconds: 1\n`), 'group.lease_seconds');
  assert.equal(refusal(`pbx_id: b\nsync: {interval_seconds: 5}\n${group}  lease_seconds: 8\n`), 'group.lease_seconds', 'a lease the holder cannot renew in time');
});

/** The lab's rows moved in time so the first starts `startAt` (naive seconds). */
function shifted(rows: CdrRow[], startAt: number): CdrRow[] {
  const first = Math.min(...rows.map((r) => naiveSeconds(r.calldate)));
  return rows.map((r) => ({ ...r, calldate: naiveDatetime(naiveSeconds(r.calldate) - first + startAt) }));
}

test('group mode: the sync reads the CDR from the PBX\'s MariaDB and writes the ledger into the group\'s, and nothing of ours into the PBX\'s', async () => {
  const config: Config = {
    ...db.config,
    pbxId: 'bucharest',
    sync: { ...db.config.sync, settleSeconds: 0 },
    group: { ...db.config.group, nodes: [{ host: '', port: 3306, socket: cluster.socket }], user: 'root', password: '', database: 'smc_group' },
  };
  const root = await mysql.createConnection({ socketPath: cluster.socket, user: 'root' });
  await root.query('CREATE DATABASE IF NOT EXISTS smc_group');
  const pools = openPools(config, 4);
  try {
    assert.notEqual(pools.cdr, pools.ledger);
    await migrate(pools.ledger);
    const [[{ now }]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    await insertCdrRows(db.pool, db.names.cdr, shifted(loadFixtureCdr(), naiveSeconds(now) - 600));
    const [[before]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_calls')) as unknown as [[{ n: number }]];
    const report = await new Syncer(pools, config).cycle();
    assert.equal(report.classified, 34, 'every lab call read from the PBX\'s cdr');
    const [[ledger]] = (await pools.ledger.query<RowDataPacket[]>("SELECT COUNT(*) AS n, MIN(pbx) AS lo, MAX(pbx) AS hi FROM smart_missed_calls_calls")) as unknown as [[RowDataPacket]];
    assert.equal(Number(ledger.n), 34, 'recorded in the group\'s database');
    assert.deepEqual([ledger.lo, ledger.hi], ['bucharest', 'bucharest']);
    const [[entries]] = (await pools.ledger.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls')) as unknown as [[{ n: number }]];
    assert.ok(Number(entries.n) > 0);
    const [[after]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_calls')) as unknown as [[{ n: number }]];
    assert.equal(Number(after.n), Number(before.n), 'the PBX\'s own database got none of it');
    assert.deepEqual((await verifyAudit(pools.ledger, db.auditKey)).bad, []);
  } finally {
    await closePools(pools);
    await root.query('DROP DATABASE IF EXISTS smc_group');
    await root.end();
  }
});

test('the ledger pool skips a node that is down and moves on when the one it uses goes away', async () => {
  const node = (socket: string) => ({ ...db.config.db, host: '', socket, database: '' });
  const lines: string[] = [];
  const down = join(dir, 'nobody-listens.sock');
  const skipping = createFailoverPool([node(down), node(cluster.socket)], 2, { pbxId: 'cluj' }, (line) => lines.push(line));
  try {
    const [[first]] = (await skipping.query<RowDataPacket[]>('SELECT @@socket AS s, @smc_pbx AS pbx')) as unknown as [[RowDataPacket]];
    assert.equal(first.s, cluster.socket, 'the first node that answers');
    assert.equal(first.pbx, 'cluj', 'with the pbx id set on the new node\'s connections');
    assert.match(lines.join('\n'), /nobody-listens\.sock failed \(ENOENT|ECONNREFUSED\)/);
    const conn = await skipping.getConnection();
    conn.release();
  } finally {
    await skipping.end();
  }

  // A second server that stops while in use: the pool goes on with the next node.
  const second = await startMariadb({ dir: join(dir, 'second') });
  const moving = createFailoverPool([node(second.socket), node(cluster.socket)], 2, { pbxId: 'cluj' }, (line) => lines.push(line));
  try {
    const socketNow = async () => ((await moving.query<RowDataPacket[]>('SELECT @@socket AS s')) as unknown as [[RowDataPacket]])[0][0].s;
    assert.equal(await socketNow(), second.socket);
    await second.stop();
    // A statement on a connection that dropped under it may have run: it fails, as on one
    // server, and the next one goes to the next node.
    let answered: unknown;
    for (let attempt = 0; attempt < 3 && answered === undefined; attempt++) answered = await socketNow().catch(() => undefined);
    assert.equal(answered, cluster.socket);
  } finally {
    await moving.end();
    await second.stop();
  }
});
