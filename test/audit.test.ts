/**
 * The audit journal against what broke it (issue 15, item 8): notes MariaDB stores
 * differently from the string that was hashed, a verify that stopped at the first bad row,
 * and a database user who rewrites rows and recomputes the chain. Real MariaDB, the real
 * ledger, and `smc` as a child process where the command line is what is tested.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { resolveEntry } from '../src/ledger/actions.js';
import { cutToCodePoints, formatChainPoint, unkeyedHash, verifyAudit, wellFormed, type AuditRecord } from '../src/ledger/audit.js';
import { ensureAuditKey, readAuditKey } from '../src/ledger/audit-key.js';
import { freshDatabases, repoRoot, type FreshDatabases } from './harness/db.js';
import { callVerdict, record } from './helpers/ledger-calls.js';
import { ServeProcess, writeServeConfig } from './helpers/serve-process.js';

let db: FreshDatabases;
let dir: string;
let configFile: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-audit-'));
  db = await freshDatabases('audit');
  configFile = writeServeConfig({ dir, name: 'audit', db });
});
after(async () => {
  await db?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const smc = (...args: string[]) =>
  spawnSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', configFile, ...args], { encoding: 'utf8' });

interface Row extends AuditRecord {
  id: number;
  createdAt: string;
  prevHash: string;
  hash: string;
}

async function journal(pool = db.pool): Promise<Row[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls_audit ORDER BY id');
  return rows.map((r) => ({
    id: Number(r.id), tenant: r.tenant, entryId: r.entry_id === null ? null : Number(r.entry_id), event: r.event, reason: r.reason,
    actor: r.actor, ext: r.ext, linkedid: r.linkedid, note: r.note, createdAt: String(r.created_at), prevHash: r.prev_hash, hash: r.hash,
  }));
}

/** What the service's own database user can do: drop the triggers and rewrite any row. */
async function dropTriggers(pool = db.pool): Promise<void> {
  await pool.query('DROP TRIGGER IF EXISTS smart_missed_calls_audit_no_update');
  await pool.query('DROP TRIGGER IF EXISTS smart_missed_calls_audit_no_delete');
}

/**
 * The attack: change one row, then recompute every hash from it on by the only rule the
 * database tells (SHA-256 of the previous hash and the row, as the code before the key did),
 * and move the chain head along, so every link and every stored hash agree again.
 */
async function rewriteWithRecomputedChain(pool: typeof db.pool, id: number, change: Partial<AuditRecord>): Promise<void> {
  await dropTriggers(pool);
  let prev: string | null = null;
  for (const row of await journal(pool)) {
    if (row.id < id) continue;
    const record = row.id === id ? { ...row, ...change } : row;
    const prevHash = prev ?? row.prevHash;
    const hash = unkeyedHash(prevHash, record, row.createdAt);
    await pool.query('UPDATE smart_missed_calls_audit SET note = ?, actor = ?, prev_hash = ?, hash = ? WHERE id = ?', [record.note, record.actor, prevHash, hash, row.id]);
    prev = hash;
  }
  // The head of the chain the last row is in: the old single chain's, or its tenant's.
  const [[last]] = (await pool.query<RowDataPacket[]>('SELECT tenant, chain_seq FROM smart_missed_calls_audit ORDER BY id DESC LIMIT 1')) as unknown as [[RowDataPacket]];
  await pool.query('UPDATE smart_missed_calls_state SET v = ? WHERE k = ?', [prev, last.chain_seq === null ? 'audit_head' : `audit_head:${last.tenant}`]);
}

async function missedEntries(tenant: string, callers: string[]): Promise<number[]> {
  await record(db.pool, tenant, callers.map((caller, i) => callVerdict('missed', { caller, at: `2026-11-20 10:0${i}:00` })));
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT id FROM smart_missed_calls WHERE tenant = ? ORDER BY id', [tenant]);
  return rows.map((r) => Number(r.id));
}

test('well-formed text, cut by code point', () => {
  assert.equal(wellFormed('a\uD83Db'), 'a\uFFFDb', 'a lone high surrogate');
  assert.equal(wellFormed('a\uDE00b\uD83D'), 'a\uFFFDb\uFFFD', 'a lone low surrogate, and one at the end');
  assert.equal(wellFormed('ok 😀'), 'ok 😀', 'a pair is kept');
  assert.equal(cutToCodePoints(`${'x'.repeat(1999)}😀tail`, 2000), `${'x'.repeat(1999)}😀`);
  assert.equal(cutToCodePoints('😀😀😀', 2), '😀😀');
  assert.equal(cutToCodePoints('short', 2000), 'short');
});

test('a 1,999-character note followed by an emoji, and a lone surrogate, are journalled so that verify holds', async () => {
  const [first, second] = await missedEntries('notes', ['0722300001', '0722300002']);
  const emojiNote = `${'x'.repeat(1999)}😀 and more after the limit`;
  await resolveEntry(db.pool, db.auditKey, 'notes', first!, 'ana', emojiNote);
  await resolveEntry(db.pool, db.auditKey, 'notes', second!, 'ana', 'half an emoji: \uD83D');
  const [notes] = await db.pool.query<RowDataPacket[]>("SELECT note FROM smart_missed_calls_audit WHERE tenant = 'notes' AND event = 'cleared' ORDER BY id");
  assert.equal(notes[0]!.note, `${'x'.repeat(1999)}😀`, 'cut after the emoji, not through it');
  assert.equal(notes[1]!.note, 'half an emoji: \uFFFD', 'stored as MariaDB stores it, and hashed so');
  const [entries] = await db.pool.query<RowDataPacket[]>("SELECT note FROM smart_missed_calls WHERE tenant = 'notes' ORDER BY id");
  assert.deepEqual(entries.map((e) => e.note), notes.map((n) => n.note), 'the entry keeps the note the journal has');
  const result = await verifyAudit(db.pool, db.auditKey);
  assert.deepEqual(result.bad, []);
  assert.equal(result.ok, true);
});

test('the rewrite of a row with the chain recomputed (as the service\'s own DB user can) fails verify; the CLI names every row', async () => {
  await missedEntries('rewrite', ['0722400001', '0722400002', '0722400003']);
  const rows = await journal();
  const target = rows[rows.length - 3]!;
  await rewriteWithRecomputedChain(db.pool, target.id, { actor: 'user:someone-else', note: 'rewritten' });
  const result = await verifyAudit(db.pool, db.auditKey);
  assert.equal(result.ok, false);
  assert.deepEqual(result.bad.map((b) => b.id), rows.slice(-3).map((r) => r.id), 'the rewritten row and every row whose hash was recomputed');
  assert.ok(result.bad.every((b) => /altered/.test(b.problem)));

  const cli = smc('audit', 'verify');
  assert.equal(cli.status, 2, cli.stderr);
  for (const r of rows.slice(-3)) assert.match(cli.stdout, new RegExp(`^row ${r.id}: contents do not match`, 'm'));
  assert.match(cli.stdout, /audit BROKEN: 3 of \d+ rows do not hold/);
});

test('several bad rows are all reported: two altered, one removed', async () => {
  const pool = db.pool;
  await pool.query('TRUNCATE smart_missed_calls_audit');
  await pool.query("DELETE FROM smart_missed_calls_state WHERE k LIKE 'audit_head%'");
  await missedEntries('several', ['0722500001', '0722500002', '0722500003', '0722500004', '0722500005', '0722500006', '0722500007']);
  assert.equal((await verifyAudit(pool, db.auditKey)).ok, true);
  const rows = await journal();
  assert.ok(rows.length >= 7);
  const [a, b, removed] = [rows[1]!.id, rows[3]!.id, rows[5]!.id];
  await dropTriggers();
  await pool.query("UPDATE smart_missed_calls_audit SET reason = 'manual' WHERE id IN (?, ?)", [a, b]);
  await pool.query('DELETE FROM smart_missed_calls_audit WHERE id = ?', [removed]);
  const result = await verifyAudit(pool, db.auditKey);
  assert.deepEqual(result.bad.map((x) => [x.id, /altered/.test(x.problem) ? 'altered' : /removed/.test(x.problem) ? 'removed' : x.problem]), [
    [a, 'altered'], [b, 'altered'], [rows[6]!.id, 'removed'],
  ]);
});

test('a remembered head (service log, digest mail) catches the newest rows removed with the head moved back', async () => {
  const pool = db.pool;
  await pool.query('TRUNCATE smart_missed_calls_audit');
  await pool.query("DELETE FROM smart_missed_calls_state WHERE k LIKE 'audit_head%'");
  await missedEntries('anchor', ['0722600001', '0722600002', '0722600003']);
  const serve = new ServeProcess(configFile);
  serve.start();
  try {
    await serve.waitFor(/audit head \d+:[0-9a-f]{64}/, 30_000);
  } finally {
    await serve.kill('SIGTERM');
  }
  const logged = /audit head (\d+:[0-9a-f]{64})/.exec(serve.stderr)![1]!;
  const rows = await journal();
  assert.equal(logged, formatChainPoint(rows[rows.length - 1]!), 'the service log holds the newest row');
  assert.match(smc('audit', 'verify', '--head', logged).stdout, /chain intact, the remembered head holds/);

  // Without the key nothing can be rewritten, but the newest rows can be cut off.
  await dropTriggers();
  await pool.query('DELETE FROM smart_missed_calls_audit WHERE id = ?', [rows[rows.length - 1]!.id]);
  await pool.query("UPDATE smart_missed_calls_state SET v = ? WHERE k = 'audit_head:anchor'", [rows[rows.length - 2]!.hash]);
  assert.equal((await verifyAudit(pool, db.auditKey)).ok, true, 'consistent inside the database');
  const cli = smc('audit', 'verify', '--head', logged);
  assert.equal(cli.status, 2);
  assert.match(cli.stdout, new RegExp(`row ${rows[rows.length - 1]!.id}: the remembered head is missing`));
  assert.match(smc('audit', 'verify', '--head', 'nonsense').stderr, /--head: 'nonsense' must be <row id>:<64 hex digits>/);
});

test('rows written before the key verify by the old rule; `smc migrate` makes the key and records where they end; a downgrade fails', async () => {
  const old = await freshDatabases('audit_old');
  const keyFile = join(dir, 'own-path.key');
  const oldConfig = join(dir, 'old.yaml');
  try {
    // A journal as the previous version wrote it: plain SHA-256 chain, no key file.
    let prev = '0'.repeat(64);
    for (let i = 1; i <= 4; i++) {
      const r: AuditRecord = { tenant: 'default', entryId: i, event: 'created', reason: null, actor: 'agent', ext: null, linkedid: `l${i}`, note: null };
      const createdAt = `2026-01-0${i} 10:00:00.000`;
      const hash = unkeyedHash(prev, r, createdAt);
      await old.pool.query(
        'INSERT INTO smart_missed_calls_audit (tenant, entry_id, event, reason, actor, ext, linkedid, note, created_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
        [r.tenant, r.entryId, r.event, r.reason, r.actor, r.ext, r.linkedid, r.note, createdAt, prev, hash],
      );
      prev = hash;
    }
    await old.pool.query("INSERT INTO smart_missed_calls_state (k, v, updated_at) VALUES ('audit_head', ?, NOW())", [prev]);
    // The test's own key path, as config.yaml names it (audit_key_file).
    const source = readFileSync(writeServeConfig({ dir, name: 'old-source', db: old }), 'utf8');
    writeFileSync(oldConfig, source.replace(/^audit_key_file: .*$/m, `audit_key_file: ${keyFile}`));
    const env = { ...process.env, SMC_AUDIT_KEY_FILE: undefined }; // the harness's key would override config.yaml's
    const migrated = execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', oldConfig, 'migrate'], { encoding: 'utf8', env });
    assert.match(migrated, new RegExp(`created the audit key ${keyFile}`));
    assert.equal(statSync(keyFile).mode & 0o777, 0o640);
    assert.match(readFileSync(keyFile, 'utf8'), new RegExp(`^unkeyed_until=4:${prev}$`, 'm'));
    assert.equal(await ensureAuditKey(old.pool, keyFile), false, 'made once');
    const key = readAuditKey(keyFile);

    await record(old.pool, 'default', [callVerdict('missed', { caller: '0722700001', at: '2026-11-20 10:00:00' })], undefined, key);
    const rows = await journal(old.pool);
    assert.ok(rows.length > 4);
    assert.equal(rows[4]!.prevHash, prev, 'the keyed chain goes on from the last unkeyed row');
    assert.deepEqual((await verifyAudit(old.pool, key)).bad, []);

    // Downgrade: the whole journal recomputed by the old rule. The rows after the switch must be keyed.
    await rewriteWithRecomputedChain(old.pool, 5, {});
    assert.deepEqual((await verifyAudit(old.pool, key)).bad.map((b) => b.id), rows.slice(4).map((r) => r.id));
    // And an unkeyed row rewritten with its chain recomputed no longer ends where the key file says.
    await rewriteWithRecomputedChain(old.pool, 2, { actor: 'someone' });
    const problems = (await verifyAudit(old.pool, key)).bad;
    assert.ok(problems.some((b) => b.id === 4 && /key file recorded/.test(b.problem)), JSON.stringify(problems));
  } finally {
    await old.cleanup();
  }
});

test('without its key file the journal is neither written nor verified, and the error names the setting', () => {
  assert.throws(() => readAuditKey(join(dir, 'absent.key')), /^Error: audit_key_file: cannot read .*absent\.key.*smc migrate creates it/);
});
