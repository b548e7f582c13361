import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import type { RowDataPacket } from 'mysql2/promise';
import type { DoctorContext } from '../src/health/check.js';
import {
  checkAmi, checkCdrTable, checkCel, checkGrants, checkMail, checkNode, checkService, runChecks,
} from '../src/health/checks.js';
import { privilegesOn } from '../src/health/grants.js';
import { createPool, ident } from '../src/db/pool.js';
import { probeAmi } from '../src/pbx/ami.js';
import { freshDatabases, repoRoot, type FreshDatabases } from './harness/db.js';
import { startFakeAmi, type FakeAmi } from '../src/cdr/generator/ami-server.js';

let db: FreshDatabases;
let ami: FakeAmi;
let dir: string;

function context(overrides: Partial<DoctorContext> = {}): DoctorContext {
  return {
    config: db.config,
    pool: db.pool,
    nodeVersion: '18.20.4',
    probeAmi: (a) => probeAmi(a, 2000),
    tcpProbe: async () => null,
    isExecutable: () => true,
    run: async () => ({ code: null, stdout: '' }),
    readText: () => null,
    asteriskEtc: '/etc/asterisk',
    tenant: null,
    ...overrides,
  };
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s: Server = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  db = await freshDatabases('doctor');
  ami = await startFakeAmi({ user: 'smc', secret: 'pw' });
  dir = mkdtempSync(join(tmpdir(), 'smc-doctor-'));
});

after(async () => {
  await db.cleanup();
  await ami.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('smc doctor', () => {
  test('Node older than 18 fails and says how to get a newer one', () => {
    assert.equal(checkNode(context()).level, 'ok');
    const old = checkNode(context({ nodeVersion: '16.20.2' }));
    assert.equal(old.level, 'fail');
    assert.match(old.fix, /apt-get install nodejs/);
    assert.match(old.fix, /SNG7 \/ CentOS 7 \(FreePBX 14, 15, 16\): .*glibc-217\.tar\.xz unpacked into \/opt\/smc-node/);
    assert.match(old.fix, /Debian 10 or 11: the official node-v18\.<x>-linux-x64\.tar\.xz unpacked into \/opt\/smc-node/);
  });

  test('recommends the missing cdr.linkedid index without creating it', async () => {
    const indexes = async () => {
      const [rows] = await db.pool.query<RowDataPacket[]>(
        'SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME',
        [db.names.cdr, 'cdr'],
      );
      return rows.map((r) => String(r.INDEX_NAME));
    };
    const before = await indexes();
    const [columns, index] = await checkCdrTable(context());
    assert.equal(columns!.level, 'ok');
    assert.equal(index!.level, 'warn');
    assert.match(index!.message, /no index starting with linkedid/);
    assert.match(index!.fix, new RegExp(`ALTER TABLE \`${db.names.cdr}\`\\.\`cdr\` ADD INDEX \`linkedid\``));
    assert.deepEqual(await indexes(), before);
  });

  test('reads the grants: a narrow user is told what it lacks; one that may drop triggers is warned; the service\'s grants are ok', async () => {
    const root = await checkGrants(context());
    assert.equal(root.level, 'warn', 'root holds ALL on our tables');
    assert.match(root.message, /holds ALL on .*can drop the audit journal's triggers/);
    const user = `lim_${process.pid}`;
    await db.pool.query(`CREATE USER ?@'localhost' IDENTIFIED BY 'pw'`, [user]);
    const narrow = createPool({ ...db.config.db, user, password: 'pw' });
    const asNarrow = () => checkGrants(context({ pool: narrow, config: { ...db.config, db: { ...db.config.db, user } } }));
    try {
      await db.pool.query(`GRANT SELECT ON ${ident(db.names.cdr)}.* TO ?@'localhost'`, [user]);
      await db.pool.query(`GRANT SELECT, INSERT ON ${ident(db.names.pbx)}.* TO ?@'localhost'`, [user]);
      const lacking = await asNarrow();
      assert.equal(lacking.level, 'fail');
      assert.equal(lacking.message, `${user} lacks UPDATE, DELETE on ${db.names.pbx}`);

      await db.pool.query(`GRANT UPDATE, DELETE ON ${ident(db.names.pbx)}.* TO ?@'localhost'`, [user]);
      const least = await asNarrow();
      assert.equal(least.level, 'ok', least.message);

      await db.pool.query(`GRANT TRIGGER, DROP ON ${ident(db.names.pbx)}.* TO ?@'localhost'`, [user]);
      const tooMuch = await asNarrow();
      assert.equal(tooMuch.level, 'warn');
      assert.match(tooMuch.message, new RegExp(`${user} holds TRIGGER, DROP on ${db.names.pbx}`));
      assert.match(tooMuch.fix, new RegExp(`SELECT, INSERT, UPDATE, DELETE ON ${db.names.pbx}\\.\\*`));
    } finally {
      await narrow.end();
      await db.pool.query(`DROP USER ?@'localhost'`, [user]);
    }
  });

  test('grant patterns: wildcards, escapes, ALL PRIVILEGES and table grants', () => {
    const grants = [
      "GRANT USAGE ON *.* TO `u`@`localhost`",
      "GRANT ALL PRIVILEGES ON `asterisk`.* TO `u`@`localhost`",
      "GRANT SELECT ON `asteriskcdr\\_%`.* TO `u`@`localhost`",
      "GRANT SELECT, INSERT ON `other`.`cdr` TO `u`@`localhost`",
      "GRANT SELECT (`src`) ON `cols`.`cdr` TO `u`@`localhost`",
    ];
    assert.deepEqual([...privilegesOn(grants, 'asterisk')], ['USAGE', 'ALL']);
    assert.ok(privilegesOn(grants, 'asteriskcdr_db').has('SELECT'));
    assert.ok(!privilegesOn(grants, 'asteriskcdrXdb').has('SELECT'));
    assert.ok(privilegesOn(grants, 'other', 'cdr').has('INSERT'));
    assert.ok(!privilegesOn(grants, 'other').has('INSERT'));
    assert.ok(!privilegesOn(grants, 'cols', 'cdr').has('SELECT'));
  });

  test('CEL: off says which misses cannot be seen and what each remedy costs; unanswered CDR on is enough for those; on without events warns; events recorded is ok', async () => {
    const setCel = (value: string) => db.pool.query(
      `REPLACE INTO ${ident(db.names.pbx)}.freepbx_settings (keyword, value) VALUES ('CEL_ENABLED', ?)`, [value]);
    await setCel('0');
    const off = await checkCel(context());
    assert.equal(off.level, 'warn');
    assert.match(off.message, /CEL is off, so some misses cannot be seen: a call that never reaches a Dial \(an extension on Do Not Disturb, or busy, with no voicemail behind it\) leaves no cdr row at all, because FreePBX has Asterisk write CDR with unanswered=no/);
    assert.match(off.message, /a queue whose maximum wait sends the caller to its failover leaves a row that names only the failover/);
    assert.match(off.fix, /"Enable CEL Reporting" \(CEL_ENABLED\) to Yes.*about 20 rows per call to .*\.cel/);
    assert.match(off.fix, /unanswered=yes in \/etc\/asterisk\/cdr_general_custom\.conf, then fwconsole reload; one more cdr row per phone rung and not answered/);
    // As FreePBX 17 writes it: cdr.conf includes the two, and the custom one is the admin's.
    const files: Record<string, string> = {
      '/etc/asterisk/cdr.conf': '[general]\n#include cdr_general_additional.conf\n#include cdr_general_custom.conf\n',
      '/etc/asterisk/cdr_general_additional.conf': 'enable=yes\nbatch=no\n',
      '/etc/asterisk/cdr_general_custom.conf': 'unanswered = yes\n',
    };
    const unanswered = await checkCel(context({ readText: (path) => files[path] ?? null }));
    assert.equal(unanswered.level, 'ok');
    assert.match(unanswered.message, /unanswered CDR is on/);
    files['/etc/asterisk/cdr_general_custom.conf'] = ';unanswered=yes\nunanswered=no\n';
    assert.equal((await checkCel(context({ readText: (path) => files[path] ?? null }))).level, 'warn');
    await setCel('1');
    assert.equal((await checkCel(context())).level, 'warn');
    await db.pool.query(
      `INSERT INTO ${ident(db.names.cdr)}.cel (eventtype, eventtime, cid_name, cid_num, cid_ani, cid_rdnis, cid_dnid, exten,
        context, channame, appname, appdata, amaflags, accountcode, uniqueid, linkedid, peer, userdeftype, extra)
       VALUES ('LINKEDID_END', '2026-01-02 03:04:05', '', '', '', '', '', '', '', '', '', '', 3, '', '1.1', '1.1', '', '', '')`,
    );
    const recorded = await checkCel(context());
    assert.equal(recorded.level, 'ok');
    assert.match(recorded.message, /latest 2026-01-02 03:04:05/);
  });

  test('missing optional cdr columns only warn: they are read as empty', async () => {
    await db.pool.query(`ALTER TABLE ${ident(db.names.cdr)}.cdr DROP COLUMN cnam`);
    const [columns] = await checkCdrTable(context());
    assert.equal(columns!.level, 'warn');
    assert.match(columns!.message, /lacks cnam; read as empty/);
    const [vitalpbx] = await checkCdrTable(context({ config: { ...db.config, pbx: 'vitalpbx' } }));
    assert.equal(vitalpbx!.level, 'ok', 'VitalPBX has no cnum/cnam columns at all');
  });

  test('a missing cdr column fails and names it', async () => {
    await db.pool.query(`ALTER TABLE ${ident(db.names.cdr)}.cdr DROP COLUMN linkedid`);
    const [columns] = await checkCdrTable(context());
    assert.equal(columns!.level, 'fail');
    assert.match(columns!.message, /lacks linkedid: calls cannot be grouped/);
  });

  test('AMI: not configured, reachable, wrong secret', async () => {
    assert.equal((await checkAmi(context())).level, 'warn');
    const withAmi = (secret: string) => context({ config: { ...db.config, ami: { host: '127.0.0.1', port: ami.port, user: 'smc', secret } } });
    const ok = await checkAmi(withAmi('pw'));
    assert.equal(ok.level, 'ok');
    assert.match(ok.message, /Asterisk Call Manager/);
    const refused = await checkAmi(withAmi('nope'));
    assert.equal(refused.level, 'fail');
    assert.match(refused.message, /Authentication failed/);
  });

  test('mail: none warns, a missing sendmail fails, an SMTP server that does not answer fails', async () => {
    const mail = (m: Partial<DoctorContext['config']['mail']>) => ({ ...db.config, mail: { ...db.config.mail, ...m } });
    assert.equal((await checkMail(context({ config: mail({ transport: 'none' }) }))).level, 'warn');
    assert.equal((await checkMail(context({ config: mail({ transport: 'sendmail' }), isExecutable: () => false }))).level, 'fail');
    const port = await closedPort();
    const smtp = await checkMail(context({
      config: mail({ transport: 'smtp', host: '127.0.0.1', port }),
      tcpProbe: async (host, p) => (p === port ? `connect ECONNREFUSED ${host}:${p}` : null),
    }));
    assert.equal(smtp.level, 'fail');
    assert.match(smtp.message, /ECONNREFUSED/);
  });

  test('service: reads fwconsole pm2 --list', async () => {
    const table = (status: string) => `+------------------+------+--------+\n| Process Name     | PID  | Status |\n+------------------+------+--------+\n| ucp              | 1200 | online |\n| smartmissedcalls | 1234 | ${status} |\n+------------------+------+--------+\n`;
    assert.equal((await checkService(context({ run: async () => ({ code: 0, stdout: table('online') }) }))).level, 'ok');
    const stopped = await checkService(context({ run: async () => ({ code: 0, stdout: table('stopped') }) }));
    assert.equal(stopped.level, 'fail');
    assert.match(stopped.fix, /fwconsole pm2 --restart smartmissedcalls/);
    assert.equal((await checkService(context())).message, 'fwconsole not found: not a FreePBX box, pm2 not checked');
  });

  test('wrong database credentials fail once and skip the checks that need the database', async () => {
    const bad = createPool({ ...db.config.db, user: 'nobody_here', password: 'x' });
    try {
      const results = await runChecks(context({ pool: bad }));
      assert.deepEqual(results.map((r) => r.check), ['node', 'database', 'ami', 'mail', 'service']);
      assert.equal(results[1]!.level, 'fail');
    } finally {
      await bad.end();
    }
  });

  test('the CLI prints one line per check and exits 1 when one fails', () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `db:\n  socket: '${db.socket}'\n  user: root\n  password: ''\n  database: ${db.names.pbx}\n  pbx_database: ${db.names.pbx}\n  cdr_database: ${db.names.cdr}\nmail:\n  transport: none\n`);
    const run = spawnSync(process.execPath, [join(repoRoot(), 'build/smc.js'), 'doctor'], {
      env: { PATH: process.env.PATH, SMC_CONFIG: config, SMC_FREEPBX_CONF: join(dir, 'absent.conf') },
      encoding: 'utf8',
    });
    const lines = run.stdout.split('\n').filter((l) => /^(ok|warn|fail)\s/.test(l));
    assert.ok(lines.some((l) => /^ok\s+database: connected/.test(l)), run.stdout + run.stderr);
    assert.ok(lines.some((l) => /^fail\s+cdr columns: .* lacks linkedid/.test(l)), run.stdout);
    assert.equal(run.status, 1);
  });
});
