/**
 * Our schema and the sync's single-writer rules on a real 3-node MariaDB Galera cluster
 * (tools/galera.mjs): the migrations hold on every node, the cluster-wide lease lets exactly
 * one holder write and fences a holder that lost it, a certification conflict is retried with
 * the batch intact, and a node killed -9 comes back with the same data. Without galera-4 on
 * the machine the first test fails, naming it: nothing here is skipped.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { galeraTools, startGaleraCluster, type GaleraCluster } from '../tools/galera.mjs';
import { DEFAULT_CONFIG, type Config } from '../src/config/schema.js';
import { loadSettings } from '../src/config/settings-store.js';
import { Lease, LeaseLostError } from '../src/db/lease.js';
import { migrate, OWN_TABLES } from '../src/db/migrations.js';
import { createPool, inRetriedTransaction, isConflict, type Pool } from '../src/db/pool.js';
import type { Verdict } from '../src/detect/verdict.js';
import { verifyAudit } from '../src/ledger/audit.js';
import { ensureAuditKey, readAuditKey } from '../src/ledger/audit-key.js';
import { recordCalls } from '../src/ledger/store.js';
import type { ClassifiedBatch } from '../src/sync/cycle.js';
import { Syncer } from '../src/sync/cycle.js';
import { testAuditKeyFile } from './harness/db.js';
import { callVerdict, record } from './helpers/ledger-calls.js';

const DATABASE = 'smc_galera';
/** Set in the child process this file starts as the paused holder. */
const HOLDER_ENV = 'SMC_GALERA_TEST_HOLDER';

interface HolderPlan {
  socket: string;
  auditKeyFile: string;
  lease: string;
  ttlMs: number;
}

function clusterConfig(socket: string, auditKeyFile: string): Config {
  return {
    ...DEFAULT_CONFIG,
    db: { ...DEFAULT_CONFIG.db, socket, user: 'root', password: '', database: DATABASE, cdrDatabase: DATABASE, pbxDatabase: DATABASE },
    auditKeyFile,
  };
}

/** One missed call of `caller` as the sync hands it to the ledger, under a linkedid we choose. */
function missBatch(linkedid: string, caller: string, at: string): ClassifiedBatch {
  const verdict: Verdict = { ...callVerdict('missed', { caller, at }), linkedid };
  return new Map([['default', [{ verdict, rowsDigest: linkedid.padEnd(40, '0').slice(0, 40) }]]]);
}

/**
 * The paused holder, run as a child process: takes the lease, says so, and writes one ledger
 * batch through the syncer when told to on stdin. The test freezes it (SIGSTOP) in between.
 */
async function pausedHolder(plan: HolderPlan): Promise<void> {
  const say = (line: string) => process.stdout.write(line + '\n');
  const config = clusterConfig(plan.socket, plan.auditKeyFile);
  const pool = createPool(config.db);
  try {
    const lease = new Lease(pool, plan.lease, { holder: 'paused-holder', ttlMs: plan.ttlMs });
    say(`${await lease.acquire()} ${lease.fencingToken}`);
    for await (const line of createInterface({ input: process.stdin })) if (line === 'write') break;
    try {
      await new Syncer(pool, config, undefined, lease).write(missBatch('paused-holder-call', '0722000999', '2026-03-02 10:00:00'));
      say('wrote');
    } catch (err) {
      say(err instanceof LeaseLostError ? `refused: ${err.message}` : `failed: ${(err as Error).message}`);
    }
  } finally {
    await pool.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `promise`, or a failure saying `what` after `ms`: a child that hangs fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Each test's own limit, well under the runner's per-file one, so a hang names its test. */
const TEST_LIMIT = { timeout: 180_000 };

if (process.env[HOLDER_ENV]) {
  await pausedHolder(JSON.parse(process.env[HOLDER_ENV]) as HolderPlan);
} else {
  describe('a 3-node Galera cluster', () => {
    let cluster: GaleraCluster;
    /** One pool per node, on our database. */
    let pools: Pool[] = [];
    let configs: Config[] = [];
    const children: ChildProcessByStdio<Writable, Readable, null>[] = [];

    /** Rows as `node` has them, read causally (wsrep_sync_wait): every commit the cluster made before is applied there. */
    async function onNode<T extends RowDataPacket>(node: number, sql: string, params: unknown[] = []): Promise<T[]> {
      const conn = await mysql.createConnection({ socketPath: cluster.nodes[node]!.socket, user: 'root', database: DATABASE, dateStrings: true });
      try {
        await conn.query('SET SESSION wsrep_sync_wait = 1');
        const [rows] = await conn.query<T[]>(sql, params);
        return rows;
      } finally {
        await conn.end();
      }
    }

    const openPool = (node: number) => createPool(configs[node]!.db);
    const startLog: string[] = [];
    const portThief = createServer();
    let stolenSstPort = 0;

    before(async () => {
      // Throws naming galera-4 (or rsync, …) when this machine cannot run a cluster.
      galeraTools();
      // The race CI lost once: another program takes the last joiner's SST port before its rsync
      // daemon binds it. Taken here on purpose, right after the configs are written.
      const dir = mkdtempSync(join(tmpdir(), 'smc-galera-'));
      cluster = await startGaleraCluster({
        dir,
        log: (line) => {
          startLog.push(line);
          if (!line.startsWith('initialising')) return;
          const sst = /wsrep_sst_receive_address=127\.0\.0\.1:(\d+)/.exec(readFileSync(join(dir, 'node3', 'my.cnf'), 'utf8'));
          stolenSstPort = Number(sst![1]);
          portThief.listen(stolenSstPort, '127.0.0.1');
        },
      });
      if (portThief.listening) portThief.close();
      const root = await mysql.createConnection({ socketPath: cluster.nodes[0]!.socket, user: 'root' });
      await root.query(`CREATE DATABASE ${DATABASE} DEFAULT CHARACTER SET utf8mb4`);
      await root.end();
      configs = cluster.nodes.map((n) => clusterConfig(n.socket, testAuditKeyFile()));
      pools = cluster.nodes.map((_n, i) => openPool(i));
      await migrate(pools[0]!);
      await ensureAuditKey(pools[0]!, testAuditKeyFile());
    }, { timeout: 300_000 });

    after(async () => {
      if (portThief.listening) portThief.close();
      for (const child of children) child.kill('SIGKILL');
      await Promise.all(pools.map((p) => p.end().catch(() => {})));
      await cluster?.teardown();
    }, { timeout: 120_000 });

    test('the harness: a joiner whose SST port another program took before it bound it joins on new ports', TEST_LIMIT, async () => {
      assert.ok(stolenSstPort > 0, 'the port was taken');
      assert.ok(startLog.some((l) => l.startsWith(`node3 lost a port`) && l.includes(`SST ${stolenSstPort}`)), startLog.join('\n'));
      assert.notEqual(cluster.nodes[2]!.sstPort, stolenSstPort);
      for (const node of [0, 1, 2]) assert.equal((await cluster.status(node)).clusterSize, 3, `node ${node + 1} sees three nodes`);
    });

    test('our migrations hold on every node: primary keys, InnoDB, auto-increment offsets, an append-only journal', TEST_LIMIT, async () => {
      for (const node of [0, 1, 2]) {
        const tables = await onNode(node, 'SELECT TABLE_NAME AS name, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [DATABASE]);
        assert.deepEqual(tables.map((t) => t.name).sort(), [...OWN_TABLES].sort(), `node ${node + 1} has every table of ours`);
        for (const t of tables) assert.equal(t.engine, 'InnoDB', `${t.name} on node ${node + 1}`);
        const withoutKey = await onNode(node,
          `SELECT t.TABLE_NAME AS name FROM information_schema.TABLES t
            LEFT JOIN information_schema.TABLE_CONSTRAINTS c
              ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY'
            WHERE t.TABLE_SCHEMA = ? AND c.CONSTRAINT_NAME IS NULL`, [DATABASE]);
        assert.deepEqual(withoutKey, [], `tables without a primary key on node ${node + 1}`);
      }

      // Each node writes a miss of its own: ids never collide, each node keeps to its offset.
      const offsets = await Promise.all(pools.map(async (p) => (await p.query<RowDataPacket[]>('SELECT @@auto_increment_increment AS inc, @@auto_increment_offset AS `offset`'))[0][0]!));
      assert.ok(offsets.every((o) => Number(o.inc) === 3), `auto_increment_increment is the cluster size on every node: ${JSON.stringify(offsets)}`);
      assert.deepEqual(new Set(offsets.map((o) => Number(o.offset))).size, 3, 'three different offsets');
      for (const [i, pool] of pools.entries()) {
        await record(pool, 'default', [callVerdict('missed', { caller: `072210000${i}`, at: `2026-03-01 09:0${i}:00` })]);
      }
      for (const [i, offset] of offsets.entries()) {
        const [entry] = await onNode(0, 'SELECT id FROM smart_missed_calls WHERE caller_key LIKE ?', [`%72210000${i}`]);
        assert.equal(Number(entry!.id) % 3, Number(offset.offset) % 3, `the entry written on node ${i + 1} has that node's offset`);
      }

      for (const node of [0, 1, 2]) {
        const [{ rows }] = await onNode(node, 'SELECT COUNT(*) AS `rows` FROM smart_missed_calls_audit');
        assert.equal(Number(rows), 3, `node ${node + 1} has the three journal rows`);
        await assert.rejects(onNode(node, "UPDATE smart_missed_calls_audit SET note = 'forged'"), /append-only: UPDATE refused/, `UPDATE on node ${node + 1}`);
        await assert.rejects(onNode(node, 'DELETE FROM smart_missed_calls_audit'), /append-only: DELETE refused/, `DELETE on node ${node + 1}`);
      }
      for (const node of [0, 1, 2]) {
        const [{ forged }] = await onNode(node, "SELECT COUNT(*) AS forged FROM smart_missed_calls_audit WHERE note = 'forged'");
        assert.equal(Number(forged), 0);
        assert.equal((await verifyAudit(pools[node]!, readAuditKey(testAuditKeyFile()))).ok, true, `the journal verifies on node ${node + 1}`);
      }
    });

    test('the lease: three holders on three nodes at once, exactly one acquires, the others stand by', TEST_LIMIT, async () => {
      for (let round = 0; round < 5; round++) {
        const leases = pools.map((p, i) => new Lease(p, `race.${round}`, { holder: `node${i + 1}-holder` }));
        const results = await Promise.all(leases.map((l) => l.acquire()));
        assert.equal(results.filter((r) => r === 'acquired').length, 1, `round ${round}: ${results.join(', ')}`);
        assert.equal(results.filter((r) => r === 'busy').length, 2, `round ${round}: ${results.join(', ')}`);
        const again = await Promise.all(leases.map((l) => l.acquire()));
        assert.deepEqual(again, results.map((r) => (r === 'acquired' ? 'kept' : 'busy')), `round ${round}: the holder keeps it`);
        const [row] = await onNode(2, 'SELECT holder, token FROM smart_missed_calls_leases WHERE name = ?', [`race.${round}`]);
        assert.equal(row!.holder, leases[results.indexOf('acquired')]!.holder);
        await Promise.all(leases.map((l) => l.release()));
      }
    });

    test('the lease: taken over after its expiry with the next token; the old holder writes nothing', TEST_LIMIT, async () => {
      const first = new Lease(pools[0]!, 'expiry', { holder: 'first', ttlMs: 1500 });
      const second = new Lease(pools[1]!, 'expiry', { holder: 'second', ttlMs: 60_000 });
      assert.equal(await first.acquire(), 'acquired');
      const firstToken = first.fencingToken!;
      assert.equal(await second.acquire(), 'busy', 'not before the expiry');
      // No renewal from `first`: its lease ends on the database's clock.
      const deadline = Date.now() + 30_000;
      while ((await second.acquire()) !== 'acquired') {
        assert.ok(Date.now() < deadline, 'the second holder took the lease over within 30 s');
        await sleep(200);
      }
      assert.equal(second.fencingToken, firstToken + 1);

      await assert.rejects(
        inRetriedTransaction(pools[0]!, async (conn) => {
          await first.fence(conn);
          await conn.query("INSERT INTO smart_missed_calls_state (k, v, updated_at) VALUES ('stale-write', 'x', NOW())");
        }),
        (err: unknown) => err instanceof LeaseLostError && /lease lost: 'expiry' was taken over/.test(err.message),
      );
      assert.equal(first.held, false);
      for (const node of [0, 1, 2]) assert.deepEqual(await onNode(node, "SELECT k FROM smart_missed_calls_state WHERE k = 'stale-write'"), []);
      assert.equal(await first.acquire(), 'busy', 'the second holder keeps it');
      assert.equal(await second.acquire(), 'kept');
    });

    test('a syncer paused (SIGSTOP) while holding the lease wakes after its expiry and writes nothing', TEST_LIMIT, async () => {
      const plan: HolderPlan = { socket: cluster.nodes[1]!.socket, auditKeyFile: testAuditKeyFile(), lease: 'sync.paused', ttlMs: 2000 };
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, [HOLDER_ENV]: JSON.stringify(plan) }, stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const nextLine = async () => {
        const line = await within(lines.next(), 30_000, 'the holder said nothing');
        assert.equal(line.done, false, 'the holder ended without a word');
        return String(line.value);
      };

      const acquired = /^acquired (\d+)$/.exec(await nextLine());
      assert.ok(acquired, 'the child took the lease');
      // Frozen between taking the lease and writing: told to write, it can only do so when woken.
      child.kill('SIGSTOP');
      child.stdin.end('write\n');

      const taker = new Lease(pools[0]!, plan.lease, { holder: 'taker', ttlMs: 60_000 });
      const deadline = Date.now() + 30_000;
      while ((await taker.acquire()) !== 'acquired') {
        assert.ok(Date.now() < deadline, 'the lease was taken over within 30 s');
        await sleep(200);
      }
      assert.equal(taker.fencingToken, Number(acquired[1]) + 1);
      await new Syncer(pools[0]!, configs[0]!, undefined, taker).write(missBatch('taker-call', '0722000888', '2026-03-02 10:00:05'));

      child.kill('SIGCONT');
      assert.match(await nextLine(), /^refused: lease lost: 'sync\.paused' was taken over by another instance after token \d+; nothing was written$/);
      assert.equal(await within(exited, 30_000, 'the holder did not exit'), 0);
      for (const node of [0, 1, 2]) {
        const calls = await onNode(node, "SELECT linkedid FROM smart_missed_calls_calls WHERE linkedid IN ('paused-holder-call', 'taker-call')");
        assert.deepEqual(calls.map((c) => c.linkedid), ['taker-call'], `node ${node + 1} has the taker's call only`);
      }
    });

    test('two nodes writing one row: one gets 1213 at COMMIT; the retried ledger batch commits intact', TEST_LIMIT, async () => {
      await pools[0]!.query("INSERT INTO smart_missed_calls_state (k, v, updated_at) VALUES ('race', '0', NOW())");
      await onNode(1, "SELECT 1 FROM smart_missed_calls_state WHERE k = 'race'");
      const [a, b] = await Promise.all([pools[0]!.getConnection(), pools[1]!.getConnection()]);
      try {
        await a.beginTransaction();
        await b.beginTransaction();
        await a.query("UPDATE smart_missed_calls_state SET v = 'a' WHERE k = 'race'");
        await b.query("UPDATE smart_missed_calls_state SET v = 'b' WHERE k = 'race'");
        const outcomes = await Promise.allSettled([a.commit(), b.commit()]);
        const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        assert.equal(failed.length, 1, `exactly one commit fails: ${JSON.stringify(outcomes.map((o) => o.status))}`);
        assert.ok(isConflict(failed[0]!.reason), `with ER_LOCK_DEADLOCK: ${String(failed[0]!.reason)}`);
      } finally {
        await a.rollback().catch(() => {});
        await b.rollback().catch(() => {});
        a.release();
        b.release();
      }

      // The ledger: the same caller misses once at node 2 and once at node 1, the second
      // committing in the middle of the first's transaction. Both touch the caller's entry and
      // the journal's head, so node 2's COMMIT fails certification and its batch runs again.
      const caller = '0722000777';
      const key = readAuditKey(testAuditKeyFile());
      const settings = await loadSettings(pools[1]!, 'default');
      const batch = [{ verdict: { ...callVerdict('missed', { caller, at: '2026-03-03 11:00:00' }), linkedid: 'retried-call' }, rowsDigest: 'r'.repeat(40) }];
      let attempts = 0;
      const conflicts: unknown[] = [];
      const result = await inRetriedTransaction(
        pools[1]!,
        async (conn) => {
          attempts += 1;
          const recorded = await recordCalls(conn, key, 'default', batch, settings);
          if (attempts === 1) await record(pools[0]!, 'default', [{ ...callVerdict('missed', { caller, at: '2026-03-03 10:00:00' }), linkedid: 'other-node-call' }]);
          return recorded;
        },
        { attempts: 5, baseDelayMs: 20, onRetry: (_attempt, err) => conflicts.push(err) },
      );
      // A second conflict is possible (the other node's write-set not applied here yet when the
      // batch ran again); each run that failed was retried whole.
      assert.ok(attempts >= 2, 'the first run met the conflict');
      assert.equal(conflicts.length, attempts - 1);
      assert.ok(conflicts.every(isConflict));
      assert.deepEqual(result.events.map((e) => e.event), ['incremented'], 'the second run found the other node\'s miss and counted on top of it');
      for (const node of [0, 1, 2]) {
        const [entry] = await onNode(node, 'SELECT missed_count, total_missed, last_linkedid FROM smart_missed_calls WHERE caller_key LIKE ?', ['%722000777']);
        assert.deepEqual({ ...entry }, { missed_count: 2, total_missed: 2, last_linkedid: 'retried-call' }, `node ${node + 1}`);
        const calls = await onNode(node, "SELECT linkedid FROM smart_missed_calls_calls WHERE linkedid IN ('retried-call', 'other-node-call') ORDER BY linkedid");
        assert.deepEqual(calls.map((c) => c.linkedid), ['other-node-call', 'retried-call']);
        assert.equal((await verifyAudit(pools[node]!, key)).ok, true, `the journal verifies on node ${node + 1}`);
      }
    });

    test('a node killed -9, and one stopped, come back with the same data as the others', TEST_LIMIT, async () => {
      const key = readAuditKey(testAuditKeyFile());
      const writeWhileAway = async (linkedid: string, caller: string) => {
        await new Syncer(pools[0]!, configs[0]!).write(missBatch(linkedid, caller, '2026-03-04 12:00:00'));
      };

      await cluster.kill(2);
      await cluster.waitForSize(2);
      await writeWhileAway('while-node3-dead', '0722000666');
      await pools[2]!.end();
      const caughtUpBy = await cluster.start(2);
      assert.ok(caughtUpBy === 'IST' || caughtUpBy === 'SST', caughtUpBy);
      pools[2] = openPool(2);

      await cluster.stop(1);
      await cluster.waitForSize(2);
      await writeWhileAway('while-node2-stopped', '0722000555');
      await pools[1]!.end();
      assert.equal(await cluster.start(1), 'IST', 'a cleanly stopped node catches up from the donor\'s write-set cache');
      pools[1] = openPool(1);
      await cluster.waitForSize(3);

      const checksums = await Promise.all([0, 1, 2].map((node) => onNode(node, `CHECKSUM TABLE ${OWN_TABLES.join(', ')}`)));
      for (const node of [1, 2]) assert.deepEqual(checksums[node], checksums[0], `node ${node + 1} holds the same rows as node 1`);
      for (const node of [0, 1, 2]) {
        const calls = await onNode(node, "SELECT linkedid FROM smart_missed_calls_calls WHERE linkedid LIKE 'while-%' ORDER BY linkedid");
        assert.deepEqual(calls.map((c) => c.linkedid), ['while-node2-stopped', 'while-node3-dead']);
        assert.equal((await verifyAudit(pools[node]!, key)).ok, true, `the journal verifies on node ${node + 1}`);
      }
    });
  });
}
