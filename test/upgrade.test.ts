// Upgrade in place, as Module Admin does it: the previous release's package, built from its
// commit in git history (package.json previousRelease), installed through the FreePBX
// stand-in against a real MariaDB and given data by its own smc (misses and clears from the
// lab's CDR rows, a manual resolve, settings, an account); then this release's package over
// it. Every row, the audit chain (its old unkeyed rows included), the settings, the account
// and the service secret survive, and the service answers. A database migrated by a newer
// release is refused, changing nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { LATEST_SCHEMA_VERSION, OWN_TABLES } from '../src/db/migrations.js';
import { ident } from '../src/db/pool.js';
import { freshDatabases, insertCdrRows, loadFixtureCdr, repoRoot, type FreshDatabases } from './harness/db.js';
import { buildPreviousPackage, packageJson } from './helpers/previous-release.js';
import { signedGet } from './helpers/signed-get.js';

const root = repoRoot();
const pkg = packageJson();
const previous = pkg.previousRelease;
const PASSWORD = 'upgrade-pass-123456';
const SETTINGS = '{"cadence":"weekly","language":"ro","matchDigits":8}';

let scratch: string;
let work: string;
let moduleDir: string;
let oldPackage: string;
let newPackage: string;
let db: FreshDatabases;
let etc: string;
let configPath: string;
let env: NodeJS.ProcessEnv;

/** Replaces the module folder with a package's, as Module Admin's upload does. */
function unpack(tarball: string): void {
  rmSync(moduleDir, { recursive: true, force: true });
  execFileSync('tar', ['-xzf', tarball, '-C', work]);
}

function bmo(method: string) {
  return spawnSync('php', [join(root, 'test/php/run-bmo.php'), method], { env, encoding: 'utf8' });
}

/** The smc of the module installed now (old or new). */
function smc(args: string[], input?: string) {
  return spawnSync(process.execPath, [join(moduleDir, 'build/smc.js'), ...args], { env: { ...env, SMC_CONFIG: configPath }, encoding: 'utf8', input });
}

async function query(sql: string): Promise<RowDataPacket[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>(sql);
  return rows;
}

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  // Only the tables there are: one a later migration adds is new, and may be filled from the others.
  const present = new Set((await query('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()')).map((r) => String(r.t)));
  for (const table of OWN_TABLES.filter((t) => t !== 'smart_missed_calls_migrations')) {
    if (present.has(table)) out[table] = Number((await query(`SELECT COUNT(*) AS n FROM ${ident(table)}`))[0]!.n);
  }
  return out;
}

const entriesSql = 'SELECT id, tenant, caller, did, status, missed_count, total_missed, cleared_by, cleared_user, note FROM smart_missed_calls ORDER BY id';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function getSigned(port: number, path: string, secret: string): Promise<{ status: number; body: string }> {
  return signedGet({ host: '127.0.0.1', port }, path, secret, { user: 'admin' });
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'smc-upgrade-'));
  chmodSync(scratch, 0o755);
  oldPackage = buildPreviousPackage(scratch);
  const out = join(scratch, 'new');
  execFileSync(process.execPath, ['tools/package.mjs', '--out', out], { cwd: root, stdio: 'pipe', env: { ...process.env, SMC_RELEASE_KEY: '' } });
  newPackage = join(out, `smartmissedcalls-${pkg.version}.tgz`);
  work = join(scratch, 'modules');
  mkdirSync(work);
  moduleDir = join(work, 'smartmissedcalls');

  db = await freshDatabases('upgrade');
  for (const table of OWN_TABLES) await db.pool.query(`DROP TABLE IF EXISTS ${ident(table)}`);
  await insertCdrRows(db.pool, db.names.cdr, loadFixtureCdr());
  etc = join(scratch, 'etc');
  mkdirSync(join(etc, 'log'), { recursive: true });
  configPath = join(etc, 'smartmissedcalls', 'config.yaml');
  writeFileSync(join(etc, 'freepbx.conf'), `<?php
$amp_conf['AMPDBUSER'] = 'root';
$amp_conf['AMPDBPASS'] = '';
$amp_conf['AMPDBHOST'] = 'localhost';
$amp_conf['AMPDBSOCK'] = '${db.socket}';
$amp_conf['AMPDBNAME'] = '${db.names.pbx}';
require_once('/nonexistent/admin/bootstrap.php');
?>
`);
  const asRoot = process.getuid?.() === 0;
  env = {
    PATH: process.env.PATH,
    SMC_MODULE_DIR: moduleDir,
    SMC_CONFIG: configPath,
    SMC_FREEPBX_CONF: join(etc, 'freepbx.conf'),
    SMC_NODE: process.execPath,
    SMC_STANDIN_KVSTORE: join(etc, 'kvstore.json'),
    SMC_STANDIN_PM2_LOG: join(etc, 'pm2.log'),
    SMC_STANDIN_MODULE_STATUS: join(etc, 'module-status'),
    SMC_STANDIN_SETTINGS: JSON.stringify({
      CDRDBNAME: db.names.cdr, ASTETCDIR: etc, ASTLOGDIR: join(etc, 'log'),
      ...(asRoot ? { AMPASTERISKWEBUSER: 'nobody', AMPASTERISKWEBGROUP: 'nogroup' } : {}),
    }),
    SMC_STANDIN_AMP_CONF: JSON.stringify({ AMPDBHOST: 'localhost', AMPDBSOCK: db.socket, AMPDBUSER: 'root', AMPDBPASS: '', AMPDBNAME: db.names.pbx }),
  };
});

after(async () => {
  await db?.cleanup();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe(`upgrade in place from ${previous.version}`, () => {
  let before: { counts: Record<string, number>; entries: unknown[]; config: string; resolved: number; auditHead: number };

  test(`the previous release (${previous.version}) installs and collects data: misses, clears, a manual resolve, settings, an account`, async () => {
    unpack(oldPackage);
    // Uploaded through Module Admin, the folder is the web server's user's: that release
    // relied on it (it did not yet make build/logs for pm2's mkdir as that user).
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'nobody:nogroup', moduleDir]);
    assert.match(readFileSync(join(moduleDir, 'module.xml'), 'utf8'), new RegExp(`<version>${previous.version.replaceAll('.', '\\.')}</version>`));
    const install = bmo('install');
    assert.equal(install.status, 0, install.stdout + install.stderr);

    const [first] = await query(`SELECT DATE_FORMAT(MIN(calldate), '%Y-%m-%d') AS day FROM ${ident(db.names.cdr)}.cdr`);
    const backfill = smc(['backfill', '--since', String(first!.day)]);
    assert.equal(backfill.status, 0, backfill.stdout + backfill.stderr);
    const [open] = await query(`SELECT MIN(id) AS id FROM smart_missed_calls WHERE status = 'open'`);
    const resolve = smc(['entries', 'resolve', String(open!.id), '--user', 'alice', '--note', 'called back from a mobile']);
    assert.equal(resolve.status, 0, resolve.stdout + resolve.stderr);
    const state = JSON.stringify({ format: 'smartmissedcalls-state-1', settings: [{ tenant: 'default', settings: SETTINGS, updatedAt: '2026-01-02 03:04:05', updatedBy: 'user:alice' }] });
    const settings = smc(['import-state', '-'], state);
    assert.equal(settings.status, 0, settings.stdout + settings.stderr);
    const account = smc(['users', 'add', 'desk', '--tenant', 'default', '--role', 'viewer'], `${PASSWORD}\n`);
    assert.equal(account.status, 0, account.stdout + account.stderr);

    const c = await counts();
    for (const table of ['smart_missed_calls', 'smart_missed_calls_calls', 'smart_missed_calls_audit', 'smart_missed_calls_settings', 'smart_missed_calls_users']) {
      assert.ok(c[table]! > 0, `${table} has rows: ${JSON.stringify(c)}`);
    }
    const cleared = await query(`SELECT cleared_by, COUNT(*) AS n FROM smart_missed_calls WHERE status = 'cleared' GROUP BY cleared_by`);
    const clearedBy = Object.fromEntries(cleared.map((r) => [String(r.cleared_by), Number(r.n)]));
    assert.ok(Object.keys(clearedBy).some((how) => how !== 'manual'), `entries cleared by calls as well as by hand: ${JSON.stringify(clearedBy)}`);
    assert.ok(clearedBy.manual! >= 1, JSON.stringify(clearedBy));
    const verify = smc(['audit', 'verify']);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    before = {
      counts: c,
      entries: (await query(entriesSql)).map((r) => ({ ...r })),
      config: readFileSync(configPath, 'utf8'),
      resolved: Number(open!.id),
      auditHead: Number((await query('SELECT MAX(id) AS id FROM smart_missed_calls_audit'))[0]!.id),
    };
  });

  test(`this release (${pkg.version}) installs over it: migrations forward, every row, the settings, the account and the secret kept, the service restarted`, async () => {
    const pm2Before = readFileSync(join(etc, 'pm2.log'), 'utf8').trim().split('\n').length;
    unpack(newPackage);
    const install = bmo('install');
    assert.equal(install.status, 0, install.stdout + install.stderr);
    assert.match(install.stdout, /applied migration \d+/);
    assert.match(install.stdout, /created the audit key/);

    assert.equal(readFileSync(configPath, 'utf8'), before.config, 'config.yaml and its secret are kept');
    const after = await counts();
    assert.deepEqual(Object.fromEntries(Object.keys(before.counts).map((t) => [t, after[t]])), before.counts, 'every row of every table there was is kept');
    assert.deepEqual((await query(entriesSql)).map((r) => ({ ...r })), before.entries);
    const [resolved] = await query(`SELECT status, cleared_by, cleared_user, note FROM smart_missed_calls WHERE id = ${before.resolved}`);
    assert.deepEqual({ ...resolved }, { status: 'cleared', cleared_by: 'manual', cleared_user: 'alice', note: 'called back from a mobile' });
    assert.equal(Number((await query('SELECT MAX(version) AS v FROM smart_missed_calls_migrations'))[0]!.v), LATEST_SCHEMA_VERSION);

    const exported = JSON.parse(smc(['export-state']).stdout) as { settings: { tenant: string; settings: string; updatedBy: string }[] };
    assert.deepEqual(exported.settings.map((s) => ({ tenant: s.tenant, settings: JSON.parse(s.settings) as unknown, by: s.updatedBy })), [
      { tenant: 'default', settings: JSON.parse(SETTINGS) as unknown, by: 'user:alice' },
    ]);
    const login = smc(['users', 'verify', 'desk'], `${PASSWORD}\n`);
    assert.equal(login.status, 0, login.stdout + login.stderr);
    assert.deepEqual(JSON.parse(login.stdout), { user: 'desk', tenant: 'default', role: 'viewer' });

    const pm2 = readFileSync(join(etc, 'pm2.log'), 'utf8').trim().split('\n').slice(pm2Before).map((l) => JSON.parse(l) as { call: string; process?: string });
    assert.equal(pm2.at(-1)?.call, 'start', JSON.stringify(pm2));
    assert.equal(pm2.at(-1)?.process, `${moduleDir}/build/smc-node.sh smc.js serve`);
  });

  test('the audit journal verifies: the rows of the unkeyed chain up to the key file\'s mark, then keyed rows written after the upgrade', async () => {
    const keyFile = readFileSync(join(etc, 'smartmissedcalls', 'smartmissedcalls-audit.key'), 'utf8');
    assert.match(keyFile, new RegExp(`^unkeyed_until=${before.auditHead}:[0-9a-f]{64}$`, 'm'));
    const [open] = await query(`SELECT MIN(id) AS id FROM smart_missed_calls WHERE status = 'open'`);
    const resolve = smc(['entries', 'resolve', String(open!.id), '--user', 'bob', '--note', 'after the upgrade']);
    assert.equal(resolve.status, 0, resolve.stdout + resolve.stderr);
    assert.ok(Number((await query('SELECT MAX(id) AS id FROM smart_missed_calls_audit'))[0]!.id) > before.auditHead);
    const verify = smc(['audit', 'verify']);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /audit ok/);
  });

  test('the upgraded service answers with the entries, to an identity signed with the kept secret only', async () => {
    const secret = /^ {2}secret: '([0-9a-f]{64})'$/m.exec(before.config)![1]!;
    const port = await freePort();
    const child = spawn(process.execPath, [join(moduleDir, 'build/smc.js'), 'serve'], {
      env: { ...env, SMC_CONFIG: configPath, SMC_SERVER_LISTEN: `127.0.0.1:${port}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let answer: { status: number; body: string } | null = null;
      const deadline = Date.now() + 60_000;
      while (!answer) {
        if (child.exitCode !== null) assert.fail(`smc serve exited ${child.exitCode}: ${stderr}`);
        if (Date.now() > deadline) assert.fail(`smc serve never answered on port ${port}: ${stderr}`);
        answer = await getSigned(port, '/api/entries', secret).catch(() => null);
        if (!answer) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(answer.status, 200, answer.body.slice(0, 300));
      assert.ok((JSON.parse(answer.body) as { total: number }).total > 0, answer.body.slice(0, 300));
      const forged = await getSigned(port, '/api/entries', 'f'.repeat(64));
      assert.notEqual(forged.status, 200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('a database a newer release migrated is refused: install and smc serve stop, saying so, and change nothing', async () => {
    const future = LATEST_SCHEMA_VERSION + 1;
    await db.pool.query(`INSERT INTO smart_missed_calls_migrations (version, name, applied_at) VALUES (?, 'a step of a newer release', NOW())`, [future]);
    try {
      const rows = await counts();
      const config = readFileSync(configPath, 'utf8');
      const install = bmo('install');
      assert.equal(install.status, 1, install.stdout + install.stderr);
      assert.match(install.stdout, new RegExp(`Smart Missed Calls was not installed: .*schema version ${future}, newer than this version knows \\(${LATEST_SCHEMA_VERSION}; unknown steps ${future}\\).*downgrading is not supported`, 's'));
      assert.deepEqual(await counts(), rows);
      assert.equal(readFileSync(configPath, 'utf8'), config);

      const serve = smc(['serve']);
      assert.equal(serve.status, 1, serve.stdout + serve.stderr);
      assert.match(serve.stderr, /newer than this version knows/);
    } finally {
      await db.pool.query('DELETE FROM smart_missed_calls_migrations WHERE version = ?', [future]);
    }
  });
});
