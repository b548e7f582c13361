import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { naiveSeconds, type CdrRow } from '../src/cdr/row.js';
import { AsteriskCounters } from '../src/cdr/generator/counters.js';
import type { CallerId } from '../src/cdr/generator/legs.js';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { Rng } from '../src/cdr/generator/random.js';
import { SCENARIOS, type ScenarioInput } from '../src/cdr/generator/scenarios.js';
import type { ScenarioName } from '../src/cdr/generator/label.js';
import {
  asVitalpbxCall, insertVitalpbxRows, tenantModel, writeOmbutel, type VitalpbxRow, type VitalpbxTenantModel,
} from '../src/cdr/generator/vitalpbx.js';
import {
  readVitalpbxDirectory, resolveTenant, vitalCallDirectory, vitalExtensionTest, type VitalDirectoryData,
} from '../src/cdr/vitalpbx-directory.js';
import { saveSettings } from '../src/config/settings-store.js';
import { loadConfig } from '../src/config/load.js';
import { entryFromRow } from '../src/ledger/store.js';
import { Syncer } from '../src/sync/cycle.js';
import { addAccount, listAccounts, verifyLogin } from '../src/config/accounts.js';
import { ident } from '../src/db/pool.js';
import { SyncService } from '../src/sync/service.js';
import { createApp } from '../src/web/app.js';
import { signIdentity } from '../src/web/identity.js';
import { waitForPort } from './helpers/ports.js';
import { freshDatabases, repoRoot, type FreshDatabases } from './harness/db.js';
import { SOCKET_MODE, webService } from '../src/cli/serve.js';
import { listenOnLoopback } from './helpers/listen.js';

const ACME: VitalpbxTenantModel = { id: 1, name: 'acme', main: true, model: tenantModel(demoPbx(), 1) };
const GLOBEX: VitalpbxTenantModel = { id: 2, name: 'globex', main: false, model: tenantModel(demoPbx(), 2) };
const CALLER: CallerId = { number: '0722000120', name: 'Ion Client' };

let db: FreshDatabases;
const ids = new AsteriskCounters({ uniqueid: 1000, pjsip: 100, local: 100, sequence: 1000 });
let seed = 1;

before(async () => {
  db = await freshDatabases('vitalpbx', { pbx: 'vitalpbx' });
  await writeOmbutel(db.pool, db.names.pbx, [ACME, GLOBEX]);
});
after(async () => {
  await db?.cleanup();
});

async function dbNow(): Promise<number> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now');
  return naiveSeconds(String(rows[0]!.now));
}

/** One call of `tenant`, as VitalPBX would have written it `ago` seconds before now. */
async function place(tenant: VitalpbxTenantModel, scenario: ScenarioName, ago: number, input: Partial<ScenarioInput> = {}, stampTenant = true) {
  const call = SCENARIOS[scenario]({ model: tenant.model, rng: new Rng(seed++), start: (await dbNow()) - ago, ids, ...input });
  const vital = asVitalpbxCall(call, tenant, { trunkId: '7', stampTenant });
  await insertVitalpbxRows(db.pool, db.names.cdr, vital.rows);
  return vital;
}

function syncer(): Syncer {
  return new Syncer(db.pool, { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 } });
}

async function entries(tenant: string) {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls WHERE tenant = ? ORDER BY id', [tenant]);
  return rows.map(entryFromRow);
}

async function storedCall(linkedid: string) {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT tenant, verdict, answered_by, rang FROM smart_missed_calls_calls WHERE linkedid = ?', [linkedid]);
  return rows[0];
}

const didOf = (tenant: VitalpbxTenantModel, description: string) => tenant.model.dids.find((d) => d.description === description)!.number;

describe('VitalPBX multi-tenant sync through MariaDB', () => {
  test('the same caller missing calls in two tenants gives two independent entries', async () => {
    const a = await place(ACME, 'queue_missed', 900, { caller: CALLER, did: didOf(ACME, 'Sales line'), attempt: 1 });
    const b = await place(GLOBEX, 'queue_missed', 880, { caller: CALLER, did: didOf(GLOBEX, 'Sales line'), attempt: 1 });
    assert.ok(b.rows.some((r) => r.channel.startsWith('Local/101@T2_queue-call-to-agents')), 'tenant 2 rows carry its prefix');
    await syncer().cycle();

    const [acme] = await entries('acme');
    const [globex] = await entries('globex');
    assert.ok(acme && globex, 'one entry in each tenant');
    assert.equal(acme.status, 'open');
    assert.equal(globex.status, 'open');
    assert.notEqual(acme.id, globex.id);
    assert.equal(acme.did, didOf(ACME, 'Sales line'));
    assert.equal(globex.did, didOf(GLOBEX, 'Sales line'));
    assert.deepEqual(Object.keys(acme.rang), ['101', '102', '103', '104', '105']);
    assert.deepEqual(Object.keys(globex.rang), ['101', '102', '103', '104', '105']);
    assert.equal(acme.routeLabel, 'Queue 400 (Sales)');
    assert.equal(globex.routeLabel, 'Queue 400 (Sales)');
    assert.equal((await storedCall(a.label.linkedid))!.tenant, 'acme');
    assert.equal((await storedCall(b.label.linkedid))!.tenant, 'globex');
  });

  test("a callback from tenant A's 101 clears A's entry and never B's", async () => {
    const back = await place(ACME, 'callback', 600, { extension: '101', target: CALLER.number, answered: true, talkSeconds: 40 });
    assert.equal((back.rows as VitalpbxRow[])[0]!.calltype, 3);
    await syncer().cycle();
    const [acme] = await entries('acme');
    const [globex] = await entries('globex');
    assert.equal(acme!.status, 'cleared');
    assert.equal(acme!.clearedBy, 'returned');
    assert.equal(acme!.clearedExt, '101');
    assert.equal(globex!.status, 'open', "tenant B's entry for the same caller stays open");
  });

  test("101 of one tenant is never 101 of the other: answered_by and rang stay in their tenant", async () => {
    const answered = await place(GLOBEX, 'direct_answered', 500, { caller: { number: '0733111222', name: '' }, did: didOf(GLOBEX, 'Andrei direct') });
    const missed = await place(ACME, 'direct_missed', 480, { caller: { number: '0733111222', name: '' }, did: didOf(ACME, 'Andrei direct') });
    await syncer().cycle();
    const g = await storedCall(answered.label.linkedid);
    assert.equal(g!.tenant, 'globex');
    assert.equal(g!.verdict, 'answered');
    assert.equal(g!.answered_by, '102');
    const a = await storedCall(missed.label.linkedid);
    assert.equal(a!.tenant, 'acme');
    assert.equal(a!.verdict, 'missed', "globex's 102 answering its own call does not answer acme's");
    const open = (await entries('acme')).find((e) => e.callerRaw === '0733111222');
    assert.equal(open?.status, 'open');
    assert.deepEqual(Object.keys(open?.rang ?? {}), ['102']);
    assert.equal((await entries('globex')).some((e) => e.callerRaw === '0733111222'), false);
  });

  test('rows without the tenant column are placed by prefix, then by DID', async () => {
    const byPrefix = await place(GLOBEX, 'ringgroup_missed', 400, { caller: { number: '0744555666', name: '' }, did: didOf(GLOBEX, 'Office'), callerHangsUp: true }, false);
    assert.ok(byPrefix.rows.every((r) => r.tenant === ''));
    await syncer().cycle();
    assert.equal((await storedCall(byPrefix.label.linkedid))!.tenant, 'globex');
    const entry = (await entries('globex')).find((e) => e.callerRaw === '0744555666');
    assert.equal(entry?.routeLabel, 'Ring group 600 (Office)');
  });

  test('settings are per tenant: an IVR hang-up counts as missed only where that tenant asked for it', async () => {
    await saveSettings(db.pool, 'globex', { countIvrAbandon: true }, 'test');
    const a = await place(ACME, 'ivr_abandon', 300, { caller: { number: '0755000111', name: '' }, did: didOf(ACME, 'Main number') });
    const b = await place(GLOBEX, 'ivr_abandon', 290, { caller: { number: '0755000111', name: '' }, did: didOf(GLOBEX, 'Main number') });
    await syncer().cycle();
    assert.equal((await storedCall(a.label.linkedid))!.verdict, 'abandoned');
    assert.equal((await storedCall(b.label.linkedid))!.verdict, 'missed');
    assert.equal((await entries('acme')).some((e) => e.callerRaw === '0755000111'), false);
    assert.equal((await entries('globex')).filter((e) => e.callerRaw === '0755000111').length, 1);
  });

  test('the directory is read from ombutel: tenants, prefixes, DIDs', async () => {
    const data = await readVitalpbxDirectory(db.pool, db.config.db);
    assert.deepEqual(data.tenants.map((t) => [t.key, t.prefix, t.main]), [['acme', 'T1_', true], ['globex', 'T2_', false]]);
    assert.equal(data.tenants[1]!.labels.queue?.['400'], 'Sales');
    assert.ok(data.dids.some((d) => d.did === didOf(GLOBEX, 'Sales line') && d.tenantId === 2));
  });

  test("the detail page's raw CDR shows only the tenant's own legs when two tenants share a linkedid", async () => {
    const call = await place(ACME, 'queue_missed', 200, { caller: { number: '0766000111', name: '' }, did: didOf(ACME, 'Sales line'), attempt: 1 });
    await syncer().cycle();
    const entry = (await entries('acme')).find((e) => e.callerRaw === '0766000111')!;
    const root = (call.rows as VitalpbxRow[]).find((r) => r.uniqueid === r.linkedid)!;
    // A call that crossed into globex: its legs there carry the same linkedid.
    const foreign = (over: Partial<VitalpbxRow>): VitalpbxRow => ({
      ...root, clid: '"Globex Secret" <0799000999>', src: '0799000999', dst: '101', dcontext: 'T2_ext-local', lastapp: 'Dial', lastdata: 'PJSIP/T2_101',
      disposition: 'NO ANSWER', sequence: root.sequence + 500, ...over,
    });
    await insertVitalpbxRows(db.pool, db.names.cdr, [
      foreign({ uniqueid: `${root.linkedid}9`, channel: 'PJSIP/T2_101-000009aa', tenant: 'globex' }),
      foreign({ uniqueid: `${root.linkedid}8`, channel: 'Local/101@T2_queue-call-to-agents-000009ab;1', tenant: '' }),
    ]);

    const secret = 'vitalpbx-detail-secret-0123456789';
    const config = { ...db.config, server: { ...db.config.server, secret } };
    const { server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot() }));
    try {
      const signed = signIdentity(secret, { user: 'ana', tenant: 'acme', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
      const res = await fetch(`${base}/entries/${entry.id}`, {
        headers: { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature },
      });
      assert.equal(res.status, 200);
      const page = await res.text();
      assert.ok(page.includes(root.uniqueid), "acme's own rows are shown");
      assert.doesNotMatch(page, /Globex Secret|T2_/, "globex's legs are not");
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('tenant resolution order', () => {
  const tenant = (id: number, name: string, main = false) => ({
    id, key: name, name, prefix: `T${id}_`, main, extensions: new Set(['101', '102']), devices: new Map([['101', '101'], ['102', '102']]), labels: {},
  });
  const data: VitalDirectoryData = {
    tenants: [tenant(1, 'acme', true), tenant(2, 'globex'), tenant(3, 'initech')],
    dids: [{ did: '0215552100', tenantId: 2 }, { did: '0215553XXX', tenantId: 3 }],
  };
  const row = (over: Partial<CdrRow>): CdrRow => ({
    calldate: '2026-03-02 10:00:00', clid: '', src: '0722000120', dst: 's', dcontext: 'trk-7-in', channel: 'PJSIP/carrier-00000001',
    dstchannel: '', lastapp: 'Hangup', lastdata: '', duration: 10, billsec: 10, disposition: 'ANSWERED', uniqueid: '1.1', linkedid: '1.1',
    sequence: 1, did: '', cnum: '', cnam: '', outbound_cnum: '', ...over,
  });

  test('1. the tenant column wins over prefixes and DIDs', () => {
    assert.equal(resolveTenant(data, [row({ tenant: 'initech', dcontext: 'T2_ext-queues', did: '0215552100' })]).key, 'initech');
  });
  test('2. without a tenant column, the T<n>_ prefix of a channel or context decides', () => {
    assert.equal(resolveTenant(data, [row({ dcontext: 'T2_ext-queues', did: '0215553001' })]).key, 'globex');
    assert.equal(resolveTenant(data, [row({}), row({ uniqueid: '1.2', channel: 'Local/101@T3_queue-call-to-agents-0000000a;2', did: '0215552100' })]).key, 'initech');
    assert.equal(resolveTenant(data, [row({ channel: 'PJSIP/T2_101-0000002a', dcontext: 'T2_cos-all' })]).key, 'globex');
  });
  test('3. without column or prefix, the DID through ombu_inbound_routes (exact or pattern)', () => {
    assert.equal(resolveTenant(data, [row({ did: '0215552100' })]).key, 'globex');
    assert.equal(resolveTenant(data, [row({ did: '0215553042' })]).key, 'initech');
  });
  test('4. nothing known: the main tenant', () => {
    assert.equal(resolveTenant(data, [row({ did: '0999999999' })]).key, 'acme');
  });
  test("an endpoint is an extension only of its own tenant", () => {
    const globex = vitalExtensionTest(data.tenants, data.tenants[1]!, '');
    const acme = vitalExtensionTest(data.tenants, data.tenants[0]!, '');
    assert.equal(globex('T2_101'), true);
    assert.equal(globex('101'), true, 'the bare exten of a Local channel in its own context');
    assert.equal(globex('T3_101'), false);
    assert.equal(acme('T2_101'), false);
    assert.equal(acme('101'), true);
    assert.equal(globex('T2_555'), false);
    assert.equal(globex('carrier'), false);
  });
  test('a verdict reads in the tenant\'s own numbers', () => {
    const directory = vitalCallDirectory(data);
    const presented = directory.present('globex', {
      linkedid: '1.1', verdict: 'answered', direction: 'inbound', caller: '0722000120', callerName: '', anonymous: false, did: '', dialled: '',
      startedAt: '2026-03-02 10:00:00', endedAt: '2026-03-02 10:00:30', waitSeconds: 5,
      rang: [{ ext: 'T2_102', tries: 1, ringSeconds: 5, outcome: 'no_answer' }, { ext: 'T2_101', tries: 1, ringSeconds: 5, outcome: 'answered' }],
      answeredBy: 'T2_101', route: { kind: 'extension', id: 'T2_101', label: '' }, voicemail: null, reasons: ['answered_by_extension'], explanation: [], rowCount: 2,
    });
    assert.deepEqual(presented.rang.map((r) => r.ext), ['101', '102']);
    assert.equal(presented.answeredBy, '101');
    assert.ok(presented.explanation.join(' ').includes('101'));
    assert.ok(!presented.explanation.join(' ').includes('T2_'));
  });
});

test('pbx: vitalpbx picks VitalPBX database defaults', () => {
  const config = loadConfig({ env: { SMC_PBX: 'vitalpbx' }, path: '/dev/null' });
  assert.equal(config.pbx, 'vitalpbx');
  assert.equal(config.db.cdrDatabase, 'asterisk');
  assert.equal(config.db.cdrTable, 'cdr');
  assert.equal(config.db.pbxDatabase, 'ombutel');
  assert.equal(config.db.database, 'smartmissedcalls');
});

describe('VitalPBX install pieces against the ombutel schema', () => {
  /** Runs one of vitalpbx/*.sql on one connection (its SET @module_id must survive to the next statement). */
  async function runSql(file: string): Promise<void> {
    const conn = await db.pool.getConnection();
    try {
      await conn.query(`USE ${ident(db.names.pbx)}`);
      const text = readFileSync(join(repoRoot(), 'vitalpbx', file), 'utf8').split('\n').filter((l) => !l.trimStart().startsWith('--')).join('\n');
      for (const sql of text.split(';').map((x) => x.trim()).filter(Boolean)) await conn.query(sql);
    } finally {
      await conn.query(`USE ${ident(db.names.own)}`);
      conn.release();
    }
  }
  const count = async (sql: string) => Number((await db.pool.query<RowDataPacket[]>(sql.replaceAll('{db}', ident(db.names.pbx))))[0][0]!.n);

  test('register.sql adds the module, a Reports menu entry and super-admin privileges; twice is the same as once; unregister.sql removes them all', async () => {
    await runSql('register.sql');
    await runSql('register.sql');
    assert.equal(await count("SELECT COUNT(*) AS n FROM {db}.ombu_modules WHERE name = 'smartmissedcalls' AND multi_tenant = 'yes'"), 1);
    assert.equal(await count(`SELECT COUNT(*) AS n FROM {db}.ombu_menu m JOIN {db}.ombu_menu p ON p.menu_id = m.parent_id
      JOIN {db}.ombu_modules o ON o.module_id = m.module_id WHERE m.label = 'menu.smartmissedcalls' AND p.label = 'menu.pbx_reports' AND o.name = 'smartmissedcalls'`), 1);
    assert.equal(await count(`SELECT COUNT(*) AS n FROM {db}.ombu_role_privileges r JOIN {db}.ombu_modules o ON o.module_id = r.module_id
      JOIN {db}.ombu_roles s ON s.role_id = r.role_id WHERE o.name = 'smartmissedcalls' AND s.superadmin = 'yes' AND r.allow_view = 'yes'`), 1);
    await runSql('unregister.sql');
    assert.equal(await count("SELECT COUNT(*) AS n FROM {db}.ombu_modules WHERE name = 'smartmissedcalls'"), 0);
    assert.equal(await count("SELECT COUNT(*) AS n FROM {db}.ombu_menu WHERE label = 'menu.smartmissedcalls'"), 0);
    assert.equal(await count('SELECT COUNT(*) AS n FROM {db}.ombu_role_privileges'), 0);
  });

  test('per-tenant accounts: scrypt hashes, a login gives its tenant and role, a wrong password or user gives nothing', async () => {
    await addAccount(db.pool, { user: 'alice', tenant: 'globex', role: 'admin' }, 'correct horse battery');
    await assert.rejects(addAccount(db.pool, { user: 'alice', tenant: 'acme', role: 'admin' }, 'another long one'), /already exists/);
    await assert.rejects(addAccount(db.pool, { user: 'bob', tenant: 'acme', role: 'admin' }, 'short'), /at least/);
    const [stored] = await db.pool.query<RowDataPacket[]>("SELECT password_hash FROM smart_missed_calls_users WHERE user = 'alice'");
    assert.match(String(stored[0]!.password_hash), /^scrypt\$16384\$8\$1\$/);
    assert.ok(!String(stored[0]!.password_hash).includes('correct horse'));
    assert.deepEqual(await verifyLogin(db.pool, 'alice', 'correct horse battery'), { user: 'alice', tenant: 'globex', role: 'admin' });
    assert.equal(await verifyLogin(db.pool, 'alice', 'correct horse batterY'), null);
    assert.equal(await verifyLogin(db.pool, 'mallory', 'correct horse battery'), null);
    assert.deepEqual((await listAccounts(db.pool, 'acme')).map((a) => a.user), []);
  });
});

describe('the VitalPBX glue (vitalpbx/www under php -S) with the running service', () => {
  const SECRET = 'vitalpbx-glue-secret-0123456789abcdef';
  const PASSWORD = 'victor has a long password';
  /** The service's clock: moved by the test, never slept on. */
  let clockMs = Date.now();
  let dir: string;
  let service: Server;
  let servicePort: number;
  let php: ChildProcess;
  let phpPort: number;


  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'smc-vitalglue-'));
    mkdirSync(join(dir, 'sessions'));
    await addAccount(db.pool, { user: 'victor', tenant: 'acme', role: 'admin' }, PASSWORD);
    const config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
    const app = createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot(), now: () => clockMs });
    ({ server: service, port: servicePort } = await listenOnLoopback(app));
    writeFileSync(join(dir, 'config.yaml'), `pbx: vitalpbx\nserver:\n  listen: '127.0.0.1:${servicePort}'\n  secret: '${SECRET}'\n`);
    phpPort = servicePort + 1;
    for (; ; phpPort++) {
      const free = await new Promise<boolean>((resolve) => {
        const socket = connect(phpPort, '127.0.0.1', () => {
          socket.end();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      });
      if (free) break;
    }
    php = spawn('php', ['-d', `session.save_path=${join(dir, 'sessions')}`, '-S', `127.0.0.1:${phpPort}`, '-t', join(repoRoot(), 'vitalpbx', 'www')], {
      env: { PATH: process.env.PATH, PHP_CLI_SERVER_WORKERS: '4', SMC_CONFIG: join(dir, 'config.yaml') },
      detached: true,
      stdio: 'ignore',
    });
    await waitForPort(phpPort, 'php -S');
  });
  after(async () => {
    if (php?.pid) process.kill(-php.pid, 'SIGTERM');
    service?.closeAllConnections();
    await new Promise((r) => service?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A browser's session with the glue: its cookie follows every answer. */
  function visitor() {
    let cookie = '';
    return async (path: string, init: RequestInit = {}): Promise<Response> => {
      const res = await fetch(`http://127.0.0.1:${phpPort}${path}`, {
        redirect: 'manual',
        ...init,
        headers: { ...(cookie ? { Cookie: cookie } : {}), ...(init.headers as Record<string, string> | undefined) },
      });
      const set = /smc_vitalpbx=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
      if (set) cookie = set;
      return res;
    };
  }

  async function logIn(browse: ReturnType<typeof visitor>, password: string): Promise<Response> {
    const form = await (await browse('/config.php')).text();
    const token = /name="smc_token" value="([0-9a-f]+)"/.exec(form)?.[1] ?? '';
    return browse('/config.php', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ smc_token: token, smc_user: 'victor', smc_password: password }),
    });
  }

  test('the service checks the password and throttles: after N wrong ones the right one waits out the backoff', async () => {
    const browse = visitor();
    for (let i = 0; i < 6; i++) {
      const res = await logIn(browse, `guess number ${i}`);
      assert.equal(res.status, 401);
      assert.match(await res.text(), /Wrong user name or password\./);
    }
    const waiting = await logIn(browse, PASSWORD);
    assert.equal(waiting.status, 429);
    assert.match(await waiting.text(), /Too many failed logins\. Try again in 1 seconds\./);
    clockMs += 1_000;
    const accepted = await logIn(browse, PASSWORD);
    assert.equal(accepted.status, 303);
    assert.equal(accepted.headers.get('location'), 'config.php?display=smartmissedcalls');
    const page = await browse('/config.php?display=smartmissedcalls&view=entries');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /victor \(acme\)/);
  });

  test('the account check answers only a request signed with server.secret', async () => {
    const ts = Math.floor(clockMs / 1000);
    const res = await fetch(`http://127.0.0.1:${servicePort}/internal/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-SMC-Login-Signature': '0'.repeat(64) },
      body: JSON.stringify({ user: 'victor', password: PASSWORD, address: '127.0.0.1', ts }),
    });
    assert.equal(res.status, 403);
  });

  test('every answer of the glue forbids framing by other sites, sniffing and foreign scripts', async () => {
    const browse = visitor();
    for (const res of [await browse('/config.php'), await browse('/ajax.php?command=api&path=%2Fapi%2Fentries')]) {
      assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /object-src 'none'/);
    }
  });

  test("an event stream under another spelling is refused at once by ajax.php, and the service's routes are exact", async () => {
    const browse = visitor();
    assert.equal((await logIn(browse, PASSWORD)).status, 303);
    for (const [command, path] of [['api', '/api/events/'], ['api', '/api/Events'], ['page', '/API/EVENTS'], ['api', '/api/%65vents']] as const) {
      const res = await browse(`/ajax.php?command=${command}&path=${encodeURIComponent(path)}`, { signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 400, `${command} ${path}`);
    }
    const signed = signIdentity(SECRET, { user: 'victor', tenant: 'acme', role: 'admin', lang: 'en', ts: Math.floor(clockMs / 1000) });
    const direct = (path: string) => fetch(`http://127.0.0.1:${servicePort}${path}`, {
      headers: { 'X-SMC-Identity': signed.header, 'X-SMC-Signature': signed.signature },
      signal: AbortSignal.timeout(15_000),
    });
    for (const path of ['/api/events/', '/api/Events', '/API/EVENTS', '/Entries', '/entries/']) assert.equal((await direct(path)).status, 404, path);
    assert.equal((await direct('/entries')).status, 200);
    assert.equal((await direct('/api/entries')).status, 200);
  });
});

describe('VitalPBX install: secrets are never readable by others', () => {
  test('write-config.sh creates the config 0600 under a permissive umask, with a config the service loads, and never overwrites it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smc-writeconfig-'));
    try {
      const path = join(dir, 'config.yaml');
      const script = join(repoRoot(), 'vitalpbx', 'write-config.sh');
      execFileSync('bash', ['-c', 'umask 022; bash "$0" "$1" smartmissedcalls smartmissedcalls', script, path]);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const config = loadConfig({ env: {}, path });
      assert.equal(config.pbx, 'vitalpbx');
      assert.equal(config.db.user, 'smartmissedcalls');
      assert.match(config.db.password, /^[A-Za-z0-9]{20,}$/);
      assert.match(config.server.secret, /^[0-9a-f]{64}$/);
      const before = readFileSync(path, 'utf8');
      assert.throws(() => execFileSync('bash', [script, path, 'x', 'y'], { stdio: 'ignore' }));
      assert.equal(readFileSync(path, 'utf8'), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the service's unix socket is 0660 whatever the umask it was started with", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smc-socket-'));
    const config = { ...db.config, server: { ...db.config.server, secret: 'socket-secret-0123456789abcdef', listen: `unix:${join(dir, 'smc.sock')}` } };
    const web = webService(config, db.pool, new SyncService(db.pool, config));
    const previous = process.umask(0);
    try {
      await web.start();
      assert.equal(statSync(join(dir, 'smc.sock')).mode & 0o777, SOCKET_MODE);
    } finally {
      process.umask(previous);
      await web.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
