// VitalPBX's install.sh, run for real as root from unpacked packages: the previous release's
// (package.json previousRelease, built from its commit) installs on a box with VitalPBX's
// databases (asterisk.cdr/cel and ombutel, in the harness's private MariaDB) and collects
// data with its own smc (two tenants' misses and clears, a manual resolve, settings, a
// tenant's account); then this release's install.sh runs over it. The migrations run
// forward; every row, the audit chain, the settings, the account and the service secret
// survive; the service is restarted and, started as its unit starts it, answers. A database
// a newer release migrated is refused with smc migrate's message, changing nothing.
//
// The box: every command runs in a mount and network namespace of its own (unshare) in which
// /etc and /usr/share are copy-on-write overlays with their upper layers in this test's
// scratch folder, so useradd, the config, the unit file, the Apache snippet and
// /usr/share/smartmissedcalls land there and nowhere on this machine; the mounts die with the
// namespace's process. (Bind mounts of copies of /etc/passwd and the like are not enough:
// useradd replaces those files by rename, which a mount point refuses with EBUSY; nor is
// there a /usr/share/smartmissedcalls on this machine to mount over.) This machine's own
// MariaDB is out of reach in the box: no network, and its socket folder hidden; the private
// one's socket is bound into the scratch folder, where the service's user can reach it too.
// systemd, nginx and Apache cannot run here and are not ours to fake beyond recording what
// install.sh asks of them: stand-ins on PATH for systemctl, nginx, apachectl and a2enconf.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise';
import { loadSchemas } from '../tools/mariadb.mjs';
import { AsteriskCounters } from '../src/cdr/generator/counters.js';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { Rng } from '../src/cdr/generator/random.js';
import { SCENARIOS, type ScenarioInput } from '../src/cdr/generator/scenarios.js';
import type { ScenarioName } from '../src/cdr/generator/label.js';
import { asVitalpbxCall, insertVitalpbxRows, tenantModel, writeOmbutel, type VitalpbxTenantModel } from '../src/cdr/generator/vitalpbx.js';
import { naiveSeconds } from '../src/cdr/row.js';
import { LATEST_SCHEMA_VERSION, OWN_TABLES } from '../src/db/migrations.js';
import { ident } from '../src/db/pool.js';
import { repoRoot, testSocket } from './harness/db.js';
import { buildPreviousPackage, packageJson } from './helpers/previous-release.js';
import { signedGet } from './helpers/signed-get.js';

const root = repoRoot();
const pkg = packageJson();
const previous = pkg.previousRelease;

// What install.sh hard-codes, as on a VitalPBX box.
const DEST = '/usr/share/smartmissedcalls';
const ETC = '/etc/smartmissedcalls';
const CONFIG = `${ETC}/config.yaml`;
const AUDIT_KEY = `${ETC}/smartmissedcalls-audit.key`;
const OWN_DB = 'smartmissedcalls';

const ACME: VitalpbxTenantModel = { id: 1, name: 'acme', main: true, model: tenantModel(demoPbx(), 1) };
const GLOBEX: VitalpbxTenantModel = { id: 2, name: 'globex', main: false, model: tenantModel(demoPbx(), 2) };
const PASSWORD = 'the desk has a long password';
const SETTINGS = '{"cadence":"weekly","language":"ro","matchDigits":8}';

/** What the stand-ins record for one install on a VitalPBX 4 (Apache) box. */
const INSTALL_SERVICE_CALLS = [
  'systemctl daemon-reload',
  'systemctl enable smartmissedcalls.service',
  'systemctl restart smartmissedcalls.service',
  'a2enconf -q smartmissedcalls',
  'apachectl configtest',
  'systemctl reload apache2',
];

/** Why this file cannot run here, or null. */
function cannotRun(): string | null {
  if (process.getuid?.() !== 0) return 'install.sh runs as root (useradd, chown, mount namespaces): run the tests as root, as CI does';
  const probe = spawnSync('unshare', ['--mount', '--net', 'true'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return `"unshare --mount --net" does not work here (${(probe.error?.message ?? probe.stderr).trim()}): util-linux's unshare and the right to make namespaces are needed`;
  }
  return null;
}

/** Runs in the new namespace before the command: the box's file system (see the top of this file). */
const BOX_SCRIPT = `set -euo pipefail
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$BOX/layers/etc/upper,workdir=$BOX/layers/etc/work" /etc
mount -t overlay overlay -o "lowerdir=/usr/share,upperdir=$BOX/layers/usr-share/upper,workdir=$BOX/layers/usr-share/work" /usr/share
if [ -d /run/mysqld ]; then mount -t tmpfs -o size=1m tmpfs /run/mysqld; fi
mount --bind "$SMC_TEST_MYSQL_SOCKET" "$BOX/mysqld.sock"
exec "$@"
`;

const STAND_IN = `#!/bin/sh
echo "$(basename "$0") $*" >> "$BOX/service-calls.log"
`;

const skip = cannotRun();

describe(`VitalPBX install.sh: ${pkg.version} over ${previous.version} in place, as root in a box`, { skip: skip ?? false }, () => {
  let scratch: string;
  let oldDir: string;
  let newDir: string;
  let boxEnv: NodeJS.ProcessEnv;
  let pool: Pool;
  let service: ChildProcess | undefined;

  /** A path inside the box as this machine sees it: where the overlay wrote it. */
  const written = (path: string) => {
    for (const [prefix, layer] of [['/etc/', 'etc'], ['/usr/share/', 'usr-share']] as const) {
      if (path.startsWith(prefix)) return join(scratch, 'layers', layer, 'upper', path.slice(prefix.length));
    }
    throw new Error(`${path} is not in the box's layers`);
  };

  function box(command: string[], input?: string, cwd?: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
    return spawnSync('unshare', ['--mount', '--net', '--', 'bash', join(scratch, 'box.sh'), ...command], {
      env: { ...boxEnv, ...env }, encoding: 'utf8', input, cwd, timeout: 300_000, killSignal: 'SIGKILL',
    });
  }

  /** The installed smc, as root runs it on the box. */
  const smc = (args: string[], input?: string, env: NodeJS.ProcessEnv = {}) => box(['node', `${DEST}/build/smc.js`, '--config', CONFIG, ...args], input, undefined, env);

  /** Runs the install.sh of an unpacked package from its folder, as its README says. */
  const install = (packageDir: string) => box([join(packageDir, 'vitalpbx', 'install.sh')], undefined, packageDir);

  const said = (r: SpawnSyncReturns<string>) => `exit ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`;

  const serviceCalls = () => {
    const log = join(scratch, 'service-calls.log');
    return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  };

  async function query(sql: string, values: unknown[] = []): Promise<RowDataPacket[]> {
    const [rows] = await pool.query<RowDataPacket[]>(sql, values);
    return rows;
  }

  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    // Only the tables there are: one a later migration adds is new, and may be filled from the others.
    const present = new Set((await query('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ?', [OWN_DB])).map((r) => String(r.t)));
    for (const table of OWN_TABLES.filter((t) => t !== 'smart_missed_calls_migrations')) {
      if (present.has(table)) out[table] = Number((await query(`SELECT COUNT(*) AS n FROM ${ident(OWN_DB)}.${ident(table)}`))[0]!.n);
    }
    return out;
  }

  const entries = async () =>
    (await query(`SELECT id, tenant, caller, did, status, missed_count, total_missed, cleared_by, cleared_user, note FROM ${ident(OWN_DB)}.smart_missed_calls ORDER BY id`))
      .map((r) => ({ ...r }));

  const grants = async () => (await query(`SHOW GRANTS FOR 'smartmissedcalls'@'localhost'`)).map((r) => String(Object.values(r)[0]));

  /** What register.sql put in ombutel: the module row, its menu entries and privileges. */
  const registered = async () => ({
    modules: (await query(`SELECT module_id FROM ombutel.ombu_modules WHERE name = 'smartmissedcalls'`)).map((r) => Number(r.module_id)),
    menu: Number((await query(`SELECT COUNT(*) AS n FROM ombutel.ombu_menu m JOIN ombutel.ombu_menu p ON p.menu_id = m.parent_id
      JOIN ombutel.ombu_modules o ON o.module_id = m.module_id WHERE m.label = 'menu.smartmissedcalls' AND p.label = 'menu.pbx_reports' AND o.name = 'smartmissedcalls'`))[0]!.n),
    allMenu: Number((await query(`SELECT COUNT(*) AS n FROM ombutel.ombu_menu WHERE label = 'menu.smartmissedcalls'`))[0]!.n),
    privileges: Number((await query(`SELECT COUNT(*) AS n FROM ombutel.ombu_role_privileges r JOIN ombutel.ombu_modules o ON o.module_id = r.module_id
      JOIN ombutel.ombu_roles s ON s.role_id = r.role_id WHERE o.name = 'smartmissedcalls' AND s.superadmin = 'yes' AND r.allow_view = 'yes'`))[0]!.n),
    allPrivileges: Number((await query('SELECT COUNT(*) AS n FROM ombutel.ombu_role_privileges'))[0]!.n),
  });

  const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

  const ids = new AsteriskCounters({ uniqueid: 1000, pjsip: 100, local: 100, sequence: 1000 });
  let seed = 1;
  /** One call of `tenant`, as VitalPBX writes it into asterisk.cdr, `ago` seconds before now. */
  async function place(tenant: VitalpbxTenantModel, scenario: ScenarioName, ago: number, input: Partial<ScenarioInput>) {
    const now = naiveSeconds(String((await query('SELECT NOW() AS now'))[0]!.now));
    const call = SCENARIOS[scenario]({ model: tenant.model, rng: new Rng(seed++), start: now - ago, ids, ...input });
    await insertVitalpbxRows(pool, 'asterisk', asVitalpbxCall(call, tenant, { trunkId: '7', stampTenant: true }).rows);
  }
  const didOf = (tenant: VitalpbxTenantModel, description: string) => tenant.model.dids.find((d) => d.description === description)!.number;

  function unpack(tarball: string, folder: string): string {
    const into = join(scratch, folder);
    mkdirSync(into);
    execFileSync('tar', ['-xzf', tarball, '-C', into]);
    return join(into, 'smartmissedcalls');
  }

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'smc-vitalpbx-install-'));
    // The service's user reaches the MariaDB socket and its own listening socket through it.
    chmodSync(scratch, 0o755);
    oldDir = unpack(buildPreviousPackage(scratch), 'old');
    const built = join(scratch, 'new-package');
    execFileSync(process.execPath, ['tools/package.mjs', '--out', built], { cwd: root, stdio: 'pipe', env: { ...process.env, SMC_RELEASE_KEY: '' } });
    newDir = unpack(join(built, `smartmissedcalls-vitalpbx-${pkg.version}.tgz`), 'new');

    for (const layer of ['etc', 'usr-share']) for (const part of ['upper', 'work']) mkdirSync(join(scratch, 'layers', layer, part), { recursive: true });
    // A VitalPBX 4 box (Debian 11, Apache) has these whatever this machine has.
    for (const dir of ['systemd/system', 'apache2/conf-available']) mkdirSync(join(scratch, 'layers', 'etc', 'upper', dir), { recursive: true });
    writeFileSync(join(scratch, 'mysqld.sock'), '');
    writeFileSync(join(scratch, 'box.sh'), BOX_SCRIPT);
    const bin = join(scratch, 'bin');
    mkdirSync(bin);
    for (const name of ['systemctl', 'nginx', 'apachectl', 'a2enconf']) writeFileSync(join(bin, name), STAND_IN, { mode: 0o755 });
    // root's client settings on the box: MariaDB's socket (install.sh runs `mysql --protocol=socket -uroot`).
    const home = join(scratch, 'root-home');
    mkdirSync(home);
    writeFileSync(join(home, '.my.cnf'), `[client]\nsocket=${join(scratch, 'mysqld.sock')}\n`);
    boxEnv = {
      PATH: [bin, dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':'),
      HOME: home,
      LANG: 'C.UTF-8',
      BOX: scratch,
      SMC_TEST_MYSQL_SOCKET: testSocket(),
      // config.yaml names no socket (a VitalPBX box's MariaDB also listens on localhost:3306);
      // the private MariaDB has only its socket, so smc and the service are pointed at it.
      SMC_DB_SOCKET: join(scratch, 'mysqld.sock'),
    };

    pool = mysql.createPool({ socketPath: testSocket(), user: 'root', dateStrings: true, connectionLimit: 4 });
    for (const name of ['asterisk', 'ombutel', OWN_DB]) await pool.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
    await pool.query(`DROP USER IF EXISTS 'smartmissedcalls'@'localhost'`);
    await loadSchemas(testSocket(), { cdrDb: 'asterisk', pbxDb: 'ombutel', pbx: 'vitalpbx' });
    await writeOmbutel(pool, 'ombutel', [ACME, GLOBEX]);
  });

  after(async () => {
    if (service && service.exitCode === null) {
      const exited = new Promise((r) => service!.once('exit', r));
      service.kill('SIGTERM');
      await exited;
    }
    if (pool) {
      for (const name of ['asterisk', 'ombutel', OWN_DB]) await pool.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
      await pool.query(`DROP USER IF EXISTS 'smartmissedcalls'@'localhost'`);
      await pool.end();
    }
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  let previousState: { counts: Record<string, number>; entries: unknown[]; config: string; auditHead: number; registered: Awaited<ReturnType<typeof registered>> };

  test(`the previous release (${previous.version}) installs and collects data: two tenants' misses and clears, a manual resolve, settings, an account`, async () => {
    const run = install(oldDir);
    assert.equal(run.status, 0, said(run));
    assert.deepEqual(serviceCalls(), INSTALL_SERVICE_CALLS);
    assert.ok(!existsSync('/etc/smartmissedcalls') && !existsSync(DEST), 'nothing was installed on this machine');
    assert.ok(
      (await grants()).some((g) => g.includes('GRANT ALL PRIVILEGES ON `smartmissedcalls`.*')),
      `${previous.version} gave its database user ALL on its database`,
    );

    const caller = { number: '0722000120', name: 'Ion Client' };
    await place(ACME, 'queue_missed', 700, { caller, did: didOf(ACME, 'Sales line'), attempt: 1 });
    await place(GLOBEX, 'queue_missed', 690, { caller, did: didOf(GLOBEX, 'Sales line'), attempt: 1 });
    await place(ACME, 'callback', 500, { extension: '101', target: caller.number, answered: true, talkSeconds: 40 });
    await place(ACME, 'direct_missed', 400, { caller: { number: '0733111222', name: '' }, did: didOf(ACME, 'Andrei direct') });
    await place(GLOBEX, 'ringgroup_missed', 300, { caller: { number: '0744555666', name: '' }, did: didOf(GLOBEX, 'Office'), callerHangsUp: true });
    // One cycle, as the service runs them, that need not wait for the calls' rows to settle first.
    const sync = smc(['sync', '--once'], undefined, { SMC_SYNC_SETTLE_SECONDS: '0' });
    assert.equal(sync.status, 0, said(sync));
    const synced = await entries();
    assert.deepEqual([...new Set(synced.map((r) => `${String(r.tenant)} ${String(r.status)}`))].sort(), ['acme cleared', 'acme open', 'globex open'], `${said(sync)}\n${JSON.stringify(synced)}`);

    const [open] = await query(`SELECT MIN(id) AS id FROM ${ident(OWN_DB)}.smart_missed_calls WHERE status = 'open' AND tenant = 'acme'`);
    const resolve = smc(['entries', 'resolve', String(open!.id), '--tenant', 'acme', '--user', 'ana', '--note', 'called back from a mobile']);
    assert.equal(resolve.status, 0, said(resolve));
    const state = JSON.stringify({ format: 'smartmissedcalls-state-1', settings: [{ tenant: 'acme', settings: SETTINGS, updatedAt: '2026-01-02 03:04:05', updatedBy: 'user:ana' }] });
    const settings = smc(['import-state', '-'], state);
    assert.equal(settings.status, 0, said(settings));
    const account = smc(['users', 'add', 'desk', '--tenant', 'globex', '--role', 'viewer'], `${PASSWORD}\n`);
    assert.equal(account.status, 0, said(account));

    const c = await counts();
    for (const table of ['smart_missed_calls', 'smart_missed_calls_calls', 'smart_missed_calls_audit', 'smart_missed_calls_settings', 'smart_missed_calls_users']) {
      assert.ok(c[table]! > 0, `${table} has rows: ${JSON.stringify(c)}`);
    }
    const rows = await entries();
    assert.deepEqual(rows.filter((r) => r.status === 'cleared').map((r) => r.cleared_by).sort(), ['manual', 'returned']);
    const verify = smc(['audit', 'verify']);
    assert.equal(verify.status, 0, said(verify));
    previousState = {
      counts: c,
      entries: rows,
      config: readFileSync(written(CONFIG), 'utf8'),
      auditHead: Number((await query(`SELECT MAX(id) AS id FROM ${ident(OWN_DB)}.smart_missed_calls_audit`))[0]!.id),
      registered: await registered(),
    };
    assert.deepEqual({ ...previousState.registered, modules: previousState.registered.modules.length }, { modules: 1, menu: 1, allMenu: 1, privileges: 1, allPrivileges: 1 });
  });

  test(`this release's install.sh (${pkg.version}) runs over it: migrations forward, every row, the settings, the account and the secret kept, the service restarted`, async () => {
    const callsBefore = serviceCalls().length;
    const run = install(newDir);
    assert.equal(run.status, 0, said(run));
    assert.match(run.stdout, /applied migration \d+/);
    assert.match(run.stdout, /created the audit key/);
    assert.deepEqual(serviceCalls().slice(callsBefore), INSTALL_SERVICE_CALLS);

    assert.equal(readFileSync(written(CONFIG), 'utf8'), previousState.config, 'config.yaml, its server.secret and the database password are kept');
    const countsAfter = await counts();
    assert.deepEqual(Object.fromEntries(Object.keys(previousState.counts).map((t) => [t, countsAfter[t]])), previousState.counts, 'every row of every table there was is kept');
    assert.deepEqual(await entries(), previousState.entries);
    assert.equal(Number((await query(`SELECT MAX(version) AS v FROM ${ident(OWN_DB)}.smart_missed_calls_migrations`))[0]!.v), LATEST_SCHEMA_VERSION);
    assert.equal(sha256(written(`${DEST}/build/smc.js`)), sha256(join(newDir, 'build', 'smc.js')), "the installed bundle is this release's");

    const exported = smc(['export-state']);
    assert.equal(exported.status, 0, said(exported));
    const settingsNow = (JSON.parse(exported.stdout) as { settings: { tenant: string; settings: string; updatedBy: string }[] }).settings;
    assert.deepEqual(settingsNow.map((s) => ({ tenant: s.tenant, settings: JSON.parse(s.settings) as unknown, by: s.updatedBy })), [
      { tenant: 'acme', settings: JSON.parse(SETTINGS) as unknown, by: 'user:ana' },
    ]);
    const login = smc(['users', 'verify', 'desk'], `${PASSWORD}\n`);
    assert.equal(login.status, 0, said(login));
    assert.deepEqual(JSON.parse(login.stdout), { user: 'desk', tenant: 'globex', role: 'viewer' });

    const after = await registered();
    assert.deepEqual({ ...after, modules: after.modules.length }, { modules: 1, menu: 1, allMenu: 1, privileges: 1, allPrivileges: 1 }, 'register.sql rows once each');
    const now = await grants();
    assert.ok(!now.some((g) => g.includes('ALL PRIVILEGES')), `the upgrade takes back ${previous.version}'s ALL: ${now.join('; ')}`);
    assert.ok(now.some((g) => g.includes('GRANT SELECT, INSERT, UPDATE, DELETE ON `smartmissedcalls`.*')), now.join('; '));
    const modes = box(['stat', '-c', '%n %U:%G %a', ETC, CONFIG, AUDIT_KEY]);
    assert.equal(modes.status, 0, said(modes));
    assert.deepEqual(modes.stdout.trim().split('\n'), [
      `${ETC} root:smartmissedcalls 750`,
      `${CONFIG} root:smartmissedcalls 640`,
      `${AUDIT_KEY} smartmissedcalls:smartmissedcalls 600`,
    ]);
  });

  test("the audit journal verifies: the previous release's unkeyed rows up to the key file's mark, then keyed rows written after the upgrade", async () => {
    assert.match(readFileSync(written(AUDIT_KEY), 'utf8'), new RegExp(`^unkeyed_until=${previousState.auditHead}:[0-9a-f]{64}$`, 'm'));
    const [open] = await query(`SELECT MIN(id) AS id FROM ${ident(OWN_DB)}.smart_missed_calls WHERE status = 'open'`);
    const [{ tenant }] = await query(`SELECT tenant FROM ${ident(OWN_DB)}.smart_missed_calls WHERE id = ?`, [open!.id]) as [RowDataPacket];
    const resolve = smc(['entries', 'resolve', String(open!.id), '--tenant', String(tenant), '--user', 'bob', '--note', 'after the upgrade']);
    assert.equal(resolve.status, 0, said(resolve));
    assert.ok(Number((await query(`SELECT MAX(id) AS id FROM ${ident(OWN_DB)}.smart_missed_calls_audit`))[0]!.id) > previousState.auditHead);
    const verify = smc(['audit', 'verify']);
    assert.equal(verify.status, 0, said(verify));
    assert.match(verify.stdout, /audit ok/);
  });

  test('the service, started as its unit starts it (its own user, the narrowed grants, its key), answers with the entries to the kept secret only', async () => {
    const secret = /^ {2}secret: '([0-9a-f]{64})'$/m.exec(previousState.config)![1]!;
    const listen = join(scratch, 'run', 'smc.sock');
    // Not detached: unshare, bash and setpriv each exec the next, so this pid is the service's
    // own, and it stays in the test file's process group, which the runner stops on a timeout.
    service = spawn('unshare', ['--mount', '--net', '--', 'bash', join(scratch, 'box.sh'), 'bash', '-c',
      `install -d -o smartmissedcalls -g smartmissedcalls "$BOX/run" && exec setpriv --reuid=smartmissedcalls --regid=smartmissedcalls --init-groups node ${DEST}/build/smc.js serve`,
    ], { env: { ...boxEnv, SMC_CONFIG: CONFIG, SMC_SERVER_LISTEN: `unix:${listen}` }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    service.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const get = (key: string) => signedGet({ socketPath: listen }, '/api/entries?status=all', key, { tenant: 'acme' });
    let answer: { status: number; body: string } | null = null;
    const deadline = Date.now() + 60_000;
    while (!answer) {
      if (service.exitCode !== null) assert.fail(`smc serve exited ${service.exitCode}: ${stderr}`);
      if (Date.now() > deadline) assert.fail(`smc serve never answered on ${listen}: ${stderr}`);
      answer = await get(secret).catch(() => null);
      if (!answer) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(answer.status, 200, answer.body.slice(0, 300));
    const acme = Number((await query(`SELECT COUNT(*) AS n FROM ${ident(OWN_DB)}.smart_missed_calls WHERE tenant = 'acme'`))[0]!.n);
    assert.ok(acme > 0);
    assert.equal((JSON.parse(answer.body) as { total: number }).total, acme, answer.body.slice(0, 300));
    assert.notEqual((await get('f'.repeat(64))).status, 200);
    assert.doesNotMatch(stderr, /migrations not checked|audit key not checked|database unavailable/, stderr);
    const exited = new Promise((r) => service!.once('exit', r));
    service.kill('SIGTERM');
    await exited;
  });

  test("a database a newer release migrated is refused with smc migrate's message, and nothing is changed: files, accounts, grants, rows, service", async () => {
    const future = LATEST_SCHEMA_VERSION + 1;
    await pool.query(`INSERT INTO ${ident(OWN_DB)}.smart_missed_calls_migrations (version, name, applied_at) VALUES (?, 'a step of a newer release', NOW())`, [future]);
    // What that newer release installed, told apart from this package's: its bundle and a grant of its own.
    const bundle = written(`${DEST}/build/smc.js`);
    appendFileSync(bundle, '\n// the newer release\n');
    await pool.query(`GRANT SHOW VIEW ON ${ident(OWN_DB)}.* TO 'smartmissedcalls'@'localhost'`);
    try {
      const snapshot = async () => ({
        counts: await counts(),
        config: readFileSync(written(CONFIG), 'utf8'),
        bundle: sha256(bundle),
        grants: (await grants()).sort(),
        registered: await registered(),
        accounts: ['passwd', 'group', 'shadow', 'gshadow'].map((f) => readFileSync(written(`/etc/${f}`), 'utf8')),
        serviceCalls: serviceCalls(),
      });
      const was = await snapshot();
      const refused = install(newDir);
      assert.equal(refused.status, 1, said(refused));
      assert.match(refused.stderr, new RegExp(`schema version ${future}, newer than this version knows \\(${LATEST_SCHEMA_VERSION}; unknown steps ${future}\\).*downgrading is not supported`, 's'));
      assert.deepEqual(await snapshot(), was);
      assert.match(refused.stderr, /install: Smart Missed Calls was not installed/);
    } finally {
      await pool.query(`DELETE FROM ${ident(OWN_DB)}.smart_missed_calls_migrations WHERE version = ?`, [future]);
    }
  });
});
