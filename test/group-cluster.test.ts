/**
 * A group end to end: a real 3-node Galera cluster (tools/galera.mjs) and simulated PBXs,
 * each a private CDR database with FreePBX's schema on the test MariaDB, its own generated
 * traffic and its own `smc serve` child process in group mode (pbx_id, group.nodes in an order
 * of its own, so the services start on different nodes). Nodes and services are killed -9,
 * stopped and paused while traffic arrives; afterwards each PBX's ledger on the cluster must
 * equal what the same CDR rows give when run once through the ledger on a plain MariaDB, and
 * `smc audit verify` must pass on every node. Without galera-4 the first test fails naming it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { stringify } from 'yaml';
import { galeraTools, startGaleraCluster, type GaleraCluster } from '../tools/galera.mjs';
import { dayStart, SECONDS_PER_DAY } from '../src/cdr/generator/calendar.js';
import { insertRows } from '../src/cdr/generator/insert.js';
import type { GeneratedRow } from '../src/cdr/generator/legs.js';
import { AsteriskCounters } from '../src/cdr/generator/counters.js';
import type { ScenarioName } from '../src/cdr/generator/label.js';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { Rng } from '../src/cdr/generator/random.js';
import { SCENARIOS, type ScenarioInput } from '../src/cdr/generator/scenarios.js';
import { writePbxTables } from '../src/cdr/generator/pbx-tables.js';
import { generateDay } from '../src/cdr/generator/traffic.js';
import { naiveDatetime, naiveSeconds } from '../src/cdr/row.js';
import { DEFAULT_CONFIG, type Config } from '../src/config/schema.js';
import { closePools, openPools } from '../src/db/ledger-pool.js';
import { migrate } from '../src/db/migrations.js';
import { createPool, ident, type Pool } from '../src/db/pool.js';
import { checkCluster } from '../src/health/cluster.js';
import { runChecks } from '../src/health/checks.js';
import type { CheckResult, DoctorContext } from '../src/health/check.js';
import { Syncer } from '../src/sync/cycle.js';
import { resolveEntry } from '../src/ledger/actions.js';
import { verifyAudit } from '../src/ledger/audit.js';
import { readAuditKey } from '../src/ledger/audit-key.js';
import type { PoolConnection } from '../src/db/pool.js';
import { callVerdict, record } from './helpers/ledger-calls.js';
import { INSTALL_HISTORY_KEY, writeState } from '../src/sync/state.js';
import { freshDatabases, repoRoot, testAuditKeyFile, testSocket, type FreshDatabases } from './harness/db.js';
import { ledgerSnapshot, type LedgerSnapshot } from './helpers/ledger-snapshot.js';
import { ServeProcess, eventually, sleep, writeServeConfig } from './helpers/serve-process.js';

const run = promisify(execFile);
const GROUP_DB = 'smc_group';
const LEASE_SECONDS = 4;
const CALLS_PER_PBX = 60;
const BATCHES = 8;
/** The same sync settings for the services and the reference: the generated day is all live traffic. */
const SYNC = { interval_seconds: 1, settle_seconds: 1, hot_window_seconds: 86_400, max_call_seconds: 2 * 86_400, full_scan_every_seconds: 5 };
const TEST_LIMIT = { timeout: 300_000 };

const model = demoPbx();

interface Pbx {
  id: string;
  seed: number;
  db: FreshDatabases;
  /** Whole calls in start order, in BATCHES slices, shifted to end 15 minutes before the database's now. */
  batches: GeneratedRow[][];
}

async function callsOf(db: FreshDatabases, seed: number): Promise<GeneratedRow[][]> {
  const [[{ now }]] = (await db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
  const date = '2026-03-10';
  const shift = naiveSeconds(now) - 900 - (dayStart(date) + SECONDS_PER_DAY);
  const calls = generateDay(model, { seed, date, calls: CALLS_PER_PBX }).map((call) =>
    call.rows.map((r) => ({ ...r, calldate: naiveDatetime(naiveSeconds(r.calldate) + shift) })),
  );
  const per = Math.ceil(calls.length / BATCHES);
  return Array.from({ length: BATCHES }, (_, i) => calls.slice(i * per, (i + 1) * per).flat());
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('a group of PBXs on a 3-node Galera cluster, each with its own smc serve', () => {
  let dir: string;
  let cluster: GaleraCluster;
  const pbxs = new Map<string, Pbx>();
  const services: ServeProcess[] = [];

  /** The group's settings for a PBX whose service tries the nodes in `order`. */
  const groupSettings = (order: number[]) => ({
    nodes: order.map((i) => ({ socket: cluster.nodes[i]!.socket })), user: 'root', password: '', database: GROUP_DB, lease_seconds: LEASE_SECONDS,
  });

  function service(name: string, pbx: Pbx, order: number[], env: Record<string, string> = {}): ServeProcess {
    const file = writeServeConfig({ dir, name, db: pbx.db, sync: SYNC, extra: { pbx_id: pbx.id, group: groupSettings(order) } });
    const s = new ServeProcess(file, env);
    services.push(s);
    return s;
  }

  /** A pool on the first running node as PBX `pbxId`, reading causally (every commit of the cluster applied). */
  function clusterPool(pbxId: string, node = cluster.nodes.find((n) => n.running)!): Pool {
    const pool = createPool({ ...DEFAULT_CONFIG.db, socket: node.socket, user: 'root', password: '', database: GROUP_DB }, 2, { pbxId });
    pool.pool.on('connection', (conn) => conn.query('SET SESSION wsrep_sync_wait = 1', () => {}));
    return pool;
  }

  async function progress(pbx: Pbx): Promise<{ linkedids: number; calls: number }> {
    const [[cdr]] = (await pbx.db.pool.query<RowDataPacket[]>(`SELECT COUNT(DISTINCT linkedid) AS n FROM ${ident(pbx.db.names.cdr)}.cdr`)) as unknown as [[{ n: number }]];
    const pool = clusterPool(pbx.id);
    try {
      const [[ledger]] = (await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_calls WHERE pbx = @smc_pbx')) as unknown as [[{ n: number }]];
      return { linkedids: Number(cdr.n), calls: Number(ledger.n) };
    } finally {
      await pool.end();
    }
  }

  async function caughtUp(pbx: Pbx, ms = 120_000): Promise<void> {
    await eventually(`pbx ${pbx.id} to be caught up`, async () => {
      const p = await progress(pbx).catch(() => null);
      return p !== null && p.linkedids > 0 && p.linkedids === p.calls;
    }, ms).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await progress(pbx).catch((e: Error) => e.message))}\n${services.map((s) => s.stderr.slice(-1500)).join('\n---\n')}`);
    });
  }

  const insert = (pbx: Pbx, batch: number) => insertRows({ pool: pbx.db.pool, cdrDb: pbx.db.names.cdr }, pbx.batches[batch]!);

  /** The same CDR rows run once through the ledger, with the same settings, on a plain MariaDB. */
  async function reference(pbx: Pbx): Promise<LedgerSnapshot> {
    const database = `${pbx.db.names.own.slice(0, 40)}_ref`;
    const root = await mysql.createConnection({ socketPath: testSocket(), user: 'root' });
    await root.query(`CREATE DATABASE ${ident(database)}`);
    const config: Config = {
      ...pbx.db.config,
      pbxId: pbx.id,
      sync: { ...pbx.db.config.sync, settleSeconds: SYNC.settle_seconds, hotWindowSeconds: SYNC.hot_window_seconds, maxCallSeconds: SYNC.max_call_seconds },
      group: { ...DEFAULT_CONFIG.group, nodes: [{ host: '', port: 3306, socket: testSocket() }], user: 'root', database },
    };
    const pools = openPools(config, 2);
    try {
      await migrate(pools.ledger);
      await writeState(pools.ledger, { [INSTALL_HISTORY_KEY]: 'installed before the test' });
      const syncer = new Syncer(pools, config);
      await eventually(`the reference of pbx ${pbx.id}`, async () => {
        await syncer.cycle();
        const [[n]] = (await pools.ledger.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_calls')) as unknown as [[{ n: number }]];
        return Number(n.n) === (await progress(pbx)).linkedids;
      }, 60_000);
      return await ledgerSnapshot(pools.ledger);
    } finally {
      await closePools(pools);
      await root.query(`DROP DATABASE IF EXISTS ${ident(database)}`);
      await root.end();
    }
  }

  /** `smc audit verify` as PBX `pbx` against each node on its own. */
  async function verifyOnEveryNode(pbx: Pbx): Promise<void> {
    for (const node of cluster.nodes) {
      const file = join(dir, `verify-${pbx.id}-${node.name}.yaml`);
      writeFileSync(file, stringify({
        db: { socket: pbx.db.socket, user: 'root', password: '', database: pbx.db.names.own, cdr_database: pbx.db.names.cdr, pbx_database: pbx.db.names.pbx },
        pbx_id: pbx.id, group: groupSettings([node.index]), audit_key_file: testAuditKeyFile(),
      }));
      const { stdout } = await run(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', file, 'audit', 'verify'], { timeout: 60_000 });
      assert.match(stdout, /^audit ok: \d+ rows, chain intact/m, `smc audit verify of pbx ${pbx.id} on ${node.name}:\n${stdout}`);
      assert.match(stdout, new RegExp(`^chain of pbx ${pbx.id}, tenant default: \\d+ rows, intact$`, 'm'));
    }
  }

  async function assertSameAsReference(pbx: Pbx): Promise<void> {
    const want = await reference(pbx);
    const pool = clusterPool(pbx.id);
    let got: LedgerSnapshot;
    try {
      got = await ledgerSnapshot(pool);
    } finally {
      await pool.end();
    }
    assert.ok(want.calls.length >= CALLS_PER_PBX, `${want.calls.length} calls in the reference of ${pbx.id}`);
    assert.ok(want.entries.length >= 3, `${want.entries.length} entries in the reference of ${pbx.id}`);
    assert.deepEqual(got.calls, want.calls, `pbx ${pbx.id}: calls, none lost, none different`);
    assert.deepEqual(got.entries, want.entries, `pbx ${pbx.id}: entries, no double count`);
    assert.deepEqual(got.journal, want.journal, `pbx ${pbx.id}: the journal of each entry`);
    assert.deepEqual(got.journalOther, want.journalOther);
  }

  const logCount = (s: ServeProcess, pattern: RegExp) => (s.stderr.match(new RegExp(pattern.source, 'g')) ?? []).length;

  before(async () => {
    galeraTools();
    dir = mkdtempSync(join(tmpdir(), 'smc-group-cluster-'));
    // The PBXs' databases first: they make the audit key the services and the cluster share.
    for (const [id, seed] of [['bucharest', 20261201], ['cluj', 20261202], ['iasi', 20261203]] as const) {
      const db = await freshDatabases(`gc_${id}`);
      await writePbxTables(db.pool, db.names.pbx, model);
      pbxs.set(id, { id, seed, db, batches: await callsOf(db, seed) });
    }
    // Its own temp dir: as root the nodes run as mysql, which cannot enter `dir` (mode 0700).
    cluster = await startGaleraCluster({ dir: mkdtempSync(join(tmpdir(), 'smc-galera-')) });
    const root = await mysql.createConnection({ socketPath: cluster.nodes[0]!.socket, user: 'root' });
    await root.query(`CREATE DATABASE ${GROUP_DB} DEFAULT CHARACTER SET utf8mb4`);
    await root.end();
    // As install's `smc migrate` does once; each PBX installed before its traffic (the calls are live, not history).
    for (const pbx of pbxs.values()) {
      const pool = clusterPool(pbx.id, cluster.nodes[0]);
      try {
        await migrate(pool);
        await writeState(pool, { [INSTALL_HISTORY_KEY]: 'installed before the test' });
      } finally {
        await pool.end();
      }
    }
  }, { timeout: 300_000 });

  after(async () => {
    for (const s of services) {
      // A paused one cannot die until it is continued.
      if (s.pid) process.kill(s.pid, 'SIGCONT');
      await s.kill('SIGKILL');
    }
    await cluster?.teardown();
    for (const pbx of pbxs.values()) await pbx.db.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  test('nodes killed -9 and stopped, a service killed -9 and mid-batch: each PBX\'s ledger ends as one uninterrupted run\'s, and verifies on every node', TEST_LIMIT, async () => {
    const bucharest = pbxs.get('bucharest')!;
    const cluj = pbxs.get('cluj')!;
    // Bucharest's service starts on node 1, Cluj's on node 2.
    const a = service('bucharest', bucharest, [0, 1, 2]);
    const b = service('cluj', cluj, [1, 2, 0]);
    a.start();
    b.start();
    await Promise.all([a.waitFor(/took the sync lock/, 60_000), b.waitFor(/took the sync lock/, 60_000)]);
    const both = async (batch: number) => {
      await Promise.all([insert(bucharest, batch), insert(cluj, batch)]);
    };

    await both(0);
    await sleep(1500);
    // Node 1 (Bucharest's) is killed while the second batch is being synced.
    await both(1);
    await sleep(300);
    await cluster.kill(0);
    await cluster.waitForSize(2);
    await a.waitFor(/ledger node socket \S+node1\S+ failed \(.*\); now using socket \S+node2/, 60_000);

    // Cluj's service: killed -9 from outside, then started with a fault that kills it inside its next ledger transaction.
    await both(2);
    await sleep(500);
    await b.kill('SIGKILL');
    b.start({ SMC_FAULT: 'in-ledger:1' });
    await both(3);
    const died = await within(b.exit(), 60_000, 'Cluj\'s service died in its ledger transaction');
    assert.equal(died?.signal, 'SIGKILL');
    assert.match(b.stderr, /fault injected at in-ledger/);
    b.start();

    // Node 1 comes back (IST or SST) while the services write through the others.
    assert.ok(['IST', 'SST'].includes(await cluster.start(0)));
    await both(4);
    // Node 2, where both services are now, is stopped cleanly in the middle of the run.
    await sleep(500);
    const stopping = cluster.stop(1);
    await both(5);
    await stopping;
    await cluster.waitForSize(2);
    await both(6);
    await Promise.all([
      a.waitFor(/ledger node socket \S+node2\S+ failed \(.*\); now using socket \S+node3/, 60_000),
      b.waitFor(/ledger node socket \S+node2\S+ failed \(.*\); now using socket \S+node3/, 60_000),
    ]);
    assert.equal(await cluster.start(1), 'IST');
    await both(7);
    await cluster.waitForSize(3);

    await Promise.all([caughtUp(bucharest), caughtUp(cluj)]);
    await sleep(1500);
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
    for (const pbx of [bucharest, cluj]) {
      await assertSameAsReference(pbx);
      await verifyOnEveryNode(pbx);
    }
  });

  test('two services of one PBX on different nodes: exactly one syncs; a paused holder that wakes after its lease ended writes nothing; the other takes over from a kill -9', TEST_LIMIT, async () => {
    const iasi = pbxs.get('iasi')!;
    // The first freezes itself (SIGSTOP) once, after classifying its first call and before writing it.
    const first = service('iasi-1', iasi, [2, 0, 1], { SMC_FAULT: 'after-classify:stop' });
    const second = service('iasi-2', iasi, [0, 1, 2]);
    first.start();
    await first.waitFor(/took the sync lock: this instance syncs/, 60_000);
    second.start();
    await second.waitFor(/another instance holds the sync lock: standing by/, 60_000);
    const holder = async () => {
      const pool = clusterPool(iasi.id);
      try {
        const [[row]] = (await pool.query<RowDataPacket[]>("SELECT holder, token FROM smart_missed_calls_leases WHERE pbx = @smc_pbx AND name = 'sync.iasi'")) as unknown as [[RowDataPacket]];
        return { holder: String(row.holder), token: Number(row.token) };
      } finally {
        await pool.end();
      }
    };
    const firstHolding = await holder();
    assert.match(firstHolding.holder, new RegExp(`:${first.pid}:`), 'the first service holds the lease');

    await insert(iasi, 0);
    await first.waitFor(/fault injected at after-classify: stopped/, 30_000);
    // Frozen with the batch classified: its lease ends, the second takes over and syncs the batch.
    await second.waitFor(/took the sync lock: this instance syncs/, 60_000);
    const secondHolding = await holder();
    assert.match(secondHolding.holder, new RegExp(`:${second.pid}:`));
    assert.equal(secondHolding.token, firstHolding.token + 1);
    await insert(iasi, 1);
    await insert(iasi, 2);
    await caughtUp(iasi, 60_000);

    // Woken, the first goes on to write the batch it classified: the fence refuses it.
    process.kill(first.pid!, 'SIGCONT');
    await first.waitFor(/lease lost: 'sync\.iasi' was taken over by another instance after token \d+; nothing was written: standing by/, 30_000);
    assert.equal(logCount(second, /lease lost/), 0, 'the second kept its lease');
    await insert(iasi, 3);
    await sleep(2000);
    assert.equal(logCount(first, /took the sync lock/), 1, 'the first stands by while the second holds the lease');

    // The holder killed -9: the first takes over within the lease and syncs the rest.
    await second.kill('SIGKILL');
    await first.waitFor(/took the sync lock[^]*lease lost[^]*took the sync lock/, 60_000);
    for (let batch = 4; batch < BATCHES; batch++) await insert(iasi, batch);
    await caughtUp(iasi, 60_000);
    assert.equal((await holder()).token, firstHolding.token + 2);
    await sleep(1500);
    await first.kill('SIGTERM');
    await assertSameAsReference(iasi);
    await verifyOnEveryNode(iasi);
  });

  test('smc doctor checks the cluster: every node Synced, its size, the ledger user\'s grants; a node down is named', TEST_LIMIT, async () => {
    const bucharest = pbxs.get('bucharest')!;
    // The ledger's user as docs/group.md has it: the rows of the group's database, nothing more.
    const root = await mysql.createConnection({ socketPath: cluster.nodes[0]!.socket, user: 'root' });
    await root.query("CREATE USER IF NOT EXISTS 'smc_ledger'@'localhost' IDENTIFIED BY 'ledger-pw'");
    await root.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${GROUP_DB}.* TO 'smc_ledger'@'localhost'`);
    await root.end();
    const config: Config = {
      ...bucharest.db.config,
      pbxId: bucharest.id,
      group: { ...DEFAULT_CONFIG.group, nodes: cluster.nodes.map((n) => ({ host: '', port: 3306, socket: n.socket })), user: 'smc_ledger', password: 'ledger-pw', database: GROUP_DB },
    };
    const pools = openPools(config, 2);
    const ctx: DoctorContext = {
      config, pool: pools.ledger, cdrPool: pools.cdr, nodeVersion: process.versions.node, probeAmi: async () => '', tcpProbe: async () => null,
      isExecutable: () => true, run: async () => ({ code: null, stdout: '' }), readText: () => null, asteriskEtc: '/etc/asterisk', tenant: null,
    };
    const summary = (results: CheckResult[]) => results.map((r) => `${r.check} ${r.level}: ${r.message}`);
    try {
      const healthy = await checkCluster(ctx);
      assert.deepEqual(healthy.map((r) => [r.check, r.level]), [
        ['cluster node', 'ok'], ['cluster node', 'ok'], ['cluster node', 'ok'], ['cluster size', 'ok'], ['cluster grants', 'ok'],
      ], summary(healthy).join('\n'));
      assert.match(healthy[0]!.message, /node socket \S+node1\S+: Synced, ready, in the primary component/);
      assert.equal(healthy[3]!.message, 'the cluster has 3 nodes');
      // The same results in doctor's and the health panel's list.
      const all = await runChecks(ctx);
      assert.deepEqual(all.filter((r) => r.check.startsWith('cluster')).map((r) => r.message), healthy.map((r) => r.message));
      // The PBX's own checks look at the PBX's server, not at the cluster's (its user may not read the CDR there).
      const own = all.filter((r) => ['database', 'grants', 'clock', 'group clock'].includes(r.check));
      assert.deepEqual(own.map((r) => [r.check, r.level]), [['database', 'ok'], ['grants', 'ok'], ['clock', 'ok'], ['group clock', 'ok']], summary(own).join('\n'));
      assert.match(own[1]!.message, /our tables are on the group's cluster$/);

      await cluster.stop(2);
      await cluster.waitForSize(2);
      const degraded = await checkCluster(ctx);
      assert.deepEqual(degraded.map((r) => [r.check, r.level]), [
        ['cluster node', 'ok'], ['cluster node', 'ok'], ['cluster node', 'fail'], ['cluster size', 'warn'], ['cluster grants', 'ok'],
      ], summary(degraded).join('\n'));
      assert.match(degraded[2]!.message, new RegExp(`^node socket ${cluster.nodes[2]!.socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be reached as smc_ledger: `));
      assert.match(degraded[3]!.message, /^the cluster has 2 nodes, fewer than 3: losing one more stops the group's writes$/);
      assert.match(degraded[3]!.fix, /garbd/);

      // Root holds more than the rows: warned, as on a single PBX.
      const overGranted = await checkCluster({ ...ctx, config: { ...config, group: { ...config.group, user: 'root', password: '' } } });
      assert.deepEqual(overGranted.find((r) => r.check === 'cluster grants')?.level, 'warn', 'root holds ALL: it could drop the journal\'s triggers');
    } finally {
      await closePools(pools);
      if (!cluster.nodes[2]!.running) await cluster.start(2);
    }
  });

  test('a user resolving an entry while another node writes the same PBX\'s journal meets a certification conflict, and the resolve is run again instead of failing', TEST_LIMIT, async () => {
    const [here, there] = [clusterPool('brasov', cluster.nodes[1]), clusterPool('brasov', cluster.nodes[0])];
    try {
      const caller = '0722000444';
      await record(there, 'default', [callVerdict('missed', { caller, at: '2026-03-05 09:00:00' })]);
      const [[entry]] = (await here.query<RowDataPacket[]>('SELECT id FROM smart_missed_calls WHERE pbx = @smc_pbx AND caller_key LIKE ?', [`%${caller.slice(1)}`])) as unknown as [[{ id: number }]];
      // The resolve's first attempt, between locking the journal's head and writing its row, sees
      // the sync of the same PBX (on node 1) commit another miss of that caller: Galera refuses
      // one of the two at certification, and it is the resolve's (ER_LOCK_DEADLOCK).
      let attempts = 0;
      const meddled = new Proxy(here, {
        get(target, prop) {
          if (prop !== 'getConnection') return Reflect.get(target, prop, target);
          return async () => {
            const conn = await target.getConnection();
            attempts += 1;
            const first = attempts === 1;
            return new Proxy(conn, {
              get(c, p) {
                if (p !== 'query') return Reflect.get(c, p, c);
                return async (sql: string, params?: unknown[]) => {
                  if (first && /^\s*INSERT INTO smart_missed_calls_audit/.test(sql)) {
                    await record(there, 'default', [callVerdict('missed', { caller, at: '2026-03-05 09:30:00' })]);
                  }
                  return (c as PoolConnection).query(sql, params);
                };
              },
            });
          };
        },
      });
      const resolved = await resolveEntry(meddled, readAuditKey(testAuditKeyFile()), 'default', Number(entry.id), 'manager', 'called them from my mobile');
      assert.ok(attempts >= 2, 'the first attempt met the conflict and was run again');
      assert.equal(resolved.clearedBy, 'manual');
      assert.equal(resolved.missedCount, 2, 'the resolve saw the other node\'s miss');
      for (const node of cluster.nodes) {
        const pool = clusterPool('brasov', node);
        try {
          const [[row]] = (await pool.query<RowDataPacket[]>('SELECT status, missed_count FROM smart_missed_calls WHERE id = ?', [entry.id])) as unknown as [[RowDataPacket]];
          assert.deepEqual({ ...row }, { status: 'cleared', missed_count: 2 }, node.name);
          assert.deepEqual((await verifyAudit(pool, readAuditKey(testAuditKeyFile()))).bad, [], `the journal verifies on ${node.name}`);
        } finally {
          await pool.end();
        }
      }
    } finally {
      await Promise.all([here.end(), there.end()]);
    }
  });

  test('a caller who missed at Bucharest and was called back from Cluj: Bucharest\'s own service clears its entry as returned, by 102 at Cluj, on every node', {
    ...TEST_LIMIT,
  }, async () => {
    const [bucharest, cluj] = [pbxs.get('bucharest')!, pbxs.get('cluj')!];
    const [atBucharest, atCluj] = [service('bucharest-x', bucharest, [0, 1, 2]), service('cluj-x', cluj, [1, 2, 0])];
    atBucharest.start();
    atCluj.start();
    await Promise.all([atBucharest.waitFor(/took the sync lock/, 60_000), atCluj.waitFor(/took the sync lock/, 60_000)]);
    /** A call of `scenario` that began `agoSeconds` ago on the PBX's clock, written as its Asterisk would. */
    const call = async (pbx: Pbx, scenario: ScenarioName, agoSeconds: number, input: Partial<Omit<ScenarioInput, 'model' | 'rng' | 'start' | 'ids'>>, firstId: number) => {
      const [[{ now }]] = (await pbx.db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
      const ids = new AsteriskCounters({ uniqueid: firstId, pjsip: firstId, local: firstId, sequence: firstId });
      const generated = SCENARIOS[scenario]({ model, rng: new Rng(firstId), ids, start: naiveSeconds(now) - agoSeconds, ...input });
      await insertRows({ pool: pbx.db.pool, cdrDb: pbx.db.names.cdr }, generated.rows);
    };
    const caller = '0799100200';
    await call(bucharest, 'direct_missed', 120, { caller: { number: caller, name: 'Cross Caller' } }, 9_100_000);
    const entry = async (): Promise<Record<string, unknown> | undefined> => {
      const pool = clusterPool(bucharest.id, cluster.nodes[2]);
      try {
        const [rows] = await pool.query<RowDataPacket[]>('SELECT id, status, cleared_by, cleared_ext FROM smart_missed_calls WHERE pbx = @smc_pbx AND caller_key = ?', [caller.slice(1)]);
        return rows[0] ? { ...rows[0] } : undefined;
      } finally {
        await pool.end();
      }
    };
    await eventually('the miss on Bucharest\'s list', async () => (await entry())?.status === 'open', 60_000);

    // Talk kept short: a CDR row is written at hang-up, so the call must be over by now (a
    // generated talk of minutes would end in the future, and the sync waits for its end).
    await call(cluj, 'callback', 60, { extension: '102', target: caller, answered: true, talkSeconds: 20 }, 9_200_000);
    await eventually('Bucharest\'s entry cleared by the callback from Cluj', async () => (await entry())?.status === 'cleared', 60_000).catch(async (err: Error) => {
      const pool = clusterPool(bucharest.id, cluster.nodes[2]);
      const [calls] = await pool.query<RowDataPacket[]>(
        "SELECT pbx, linkedid, verdict, direction, caller_key, started_at, started_utc, classified_at FROM smart_missed_calls_calls WHERE caller_key LIKE ? OR linkedid LIKE '92%' OR linkedid LIKE '91%'", ['%' + caller.slice(-7)]);
      const [state] = await pool.query<RowDataPacket[]>("SELECT * FROM smart_missed_calls_state WHERE pbx IN ('bucharest','cluj')");
      await pool.end();
      throw new Error(`${err.message}\n--- calls: ${JSON.stringify(calls)}\n--- state: ${JSON.stringify(state)}\n--- bucharest:\n${atBucharest.stderr.slice(-2000)}\n--- cluj:\n${atCluj.stderr.slice(-2000)}`);
    });
    const cleared = await entry();
    assert.equal(cleared?.cleared_by, 'returned');
    assert.equal(cleared?.cleared_ext, '102@cluj', 'the extension, and the PBX it is at');
    for (const node of cluster.nodes) {
      const pool = clusterPool(bucharest.id, node);
      try {
        const journal: RowDataPacket[] = (await pool.query<RowDataPacket[]>("SELECT pbx, reason, ext FROM smart_missed_calls_audit WHERE event = 'cleared' AND entry_id = ?", [Number(cleared?.id)]))[0];
        assert.deepEqual(journal.map((r: RowDataPacket) => ({ ...r })), [{ pbx: 'bucharest', reason: 'returned', ext: '102@cluj' }], `the clearing row, in Bucharest's chain, on ${node.name}`);
      } finally {
        await pool.end();
      }
    }
    await Promise.all([atBucharest.kill('SIGTERM'), atCluj.kill('SIGTERM')]);
    // Cluj's chain got nothing from this test: the clearing row is Bucharest's.
    await verifyOnEveryNode(bucharest);
  });
});

