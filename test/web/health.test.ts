// The health panel: the checks of `smc doctor` run by the service on itself, against a real
// MariaDB whose service user lacks one grant (SELECT on cel) — red, with its fix, for an
// admin; a count for a viewer; on VitalPBX a tenant's admin sees their tenant's checks and
// never the PBX's or another tenant's. Then FreePBX's Dashboard line, from real php, reading
// the same checks from the running service.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'mysql2/promise';
import type { Config } from '../../src/config/schema.js';
import { createPool, ident } from '../../src/db/pool.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { listenOnLoopback } from '../helpers/listen.js';
import { launchChromium, SCREENS } from '../helpers/chromium.js';

const SECRET = 'health-test-secret-0123456789abcdef0123456789abcdef';
const USER = `smc_health_${process.pid}`;

interface Shown {
  status: string;
  attention: number;
  summary: string;
  checks: { id: string; label: string; status: string; summary: string; fix: string }[] | null;
  pbxOnly: string | null;
}

describe('health panel', () => {
  let db: FreshDatabases;
  let narrow: Pool;
  let etc: string;
  const servers: Server[] = [];
  let freepbx: string;
  let vitalpbx: string;
  /** The apps' clock: moved on to let "Check again" run the checks again. */
  let clock = Date.now();

  async function serve(config: Config): Promise<string> {
    const app = createApp({ pool: narrow, config, sync: new SyncService(narrow, config), moduleDir: repoRoot(), asteriskEtc: etc, now: () => clock });
    const { server, port } = await listenOnLoopback(app);
    servers.push(server);
    return `127.0.0.1:${port}`;
  }

  function as(who: Omit<Identity, 'ts' | 'lang'>, lang: Identity['lang'] = 'en'): Record<string, string> {
    const signed = signIdentity(SECRET, { ...who, lang, ts: Math.floor(clock / 1000) });
    return { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature };
  }

  async function checksOf(at: string, who: Omit<Identity, 'ts' | 'lang'>): Promise<Shown> {
    const res = await fetch(`http://${at}/api/health/checks`, { headers: as(who) });
    assert.equal(res.status, 200);
    return (await res.json()) as Shown;
  }

  before(async () => {
    db = await freshDatabases('health');
    // The service's grants (docs/security.md) but one: SELECT on the cel table.
    await db.pool.query(`CREATE USER ?@'localhost' IDENTIFIED BY 'pw'`, [USER]);
    await db.pool.query(`GRANT SELECT ON ${ident(db.names.cdr)}.\`cdr\` TO ?@'localhost'`, [USER]);
    await db.pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${ident(db.names.pbx)}.* TO ?@'localhost'`, [USER]);
    narrow = createPool({ ...db.config.db, user: USER, password: 'pw' });
    etc = mkdtempSync(join(tmpdir(), 'smc-health-etc-'));
    const config: Config = {
      ...db.config,
      db: { ...db.config.db, user: USER, password: 'pw' },
      mail: { ...db.config.mail, transport: 'none' },
      server: { ...db.config.server, secret: SECRET, listen: '127.0.0.1:0', users: [{ user: 'admin', password: 'admin-pass', tenant: 'default', role: 'admin' }] },
    };
    freepbx = await serve(config);
    vitalpbx = await serve({ ...config, pbx: 'vitalpbx' });
  });

  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await narrow?.end();
    await db?.pool.query(`DROP USER IF EXISTS ?@'localhost'`, [USER]);
    await db?.cleanup();
    rmSync(etc, { recursive: true, force: true });
  });

  test('an admin sees every check, the missing grant red with the GRANT that fixes it, in the API and on the settings page', async () => {
    const shown = await checksOf(freepbx, { user: 'ana', tenant: 'default', role: 'admin' });
    assert.equal(shown.status, 'fail');
    const grants = shown.checks!.find((c) => c.id === 'grants')!;
    assert.equal(grants.status, 'fail');
    assert.equal(grants.summary, `${USER} lacks SELECT on ${db.names.cdr}.cel`);
    assert.match(grants.fix, new RegExp(`GRANT <privileges> ON <database>\\.\\* TO '${USER}'@'<host>'`));
    const ids = shown.checks!.map((c) => c.id);
    for (const id of ['node', 'database', 'grants', 'cdr columns', 'cdr indexes', 'cel', 'schema', 'clock', 'last cycle', 'notifications', 'ami', 'mail', 'service']) {
      assert.ok(ids.includes(id), `${id} is shown: ${ids.join(', ')}`);
    }
    for (const c of shown.checks!) if (c.status !== 'ok') assert.notEqual(c.fix, '', `${c.id} is ${c.status} and says what fixes it`);

    const html = await (await fetch(`http://${freepbx}/settings`, { headers: as({ user: 'ana', tenant: 'default', role: 'admin' }) })).text();
    assert.match(html, /<tr data-check="grants" data-status="fail">/);
    assert.match(html, new RegExp(`${USER} lacks SELECT on ${db.names.cdr}\\.cel`));
    assert.match(html, /id="smc-health-recheck"/);
  });

  test('the same panel in Romanian', async () => {
    const html = await (await fetch(`http://${freepbx}/settings`, { headers: as({ user: 'ana', tenant: 'default', role: 'admin' }, 'ro') })).text();
    assert.match(html, new RegExp(`${USER} nu are SELECT on ${db.names.cdr}\\.cel`));
    assert.match(html, /ca utilizatorul root al MariaDB: GRANT/);
    assert.match(html, /Verificări care cer atenție: \d+ din \d+ \(1 roșii, \d+ galbene\)\./);
  });

  test('in a browser, English and Romanian: the red check stands out with its fix (screenshots)', async () => {
    const browser = await launchChromium();
    try {
      for (const [lang, locale, found] of [['en', 'en-GB', 'lacks SELECT on'], ['ro', 'ro-RO', 'nu are SELECT on']] as const) {
        const context = await browser.newContext({ locale, viewport: { width: 1360, height: 900 } });
        const page = await context.newPage();
        await page.goto(`http://${freepbx}/login`);
        await page.fill('#smc-user', 'admin');
        await page.fill('#smc-password', 'admin-pass');
        await Promise.all([page.waitForURL(/\/dashboard/), page.click('button[type=submit]')]);
        await page.goto(`http://${freepbx}/settings`);
        const red = page.locator('#smc-health tr[data-status="fail"]');
        assert.equal(await red.count(), 1);
        assert.match(await red.innerText(), new RegExp(found));
        assert.equal(await red.locator('td').nth(0).locator('.label-danger').count(), 1);
        await page.locator('#smc-health').screenshot({ path: join(SCREENS, `${lang}-health.png`) });
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });

  test('a viewer sees how many checks need attention and nothing of them', async () => {
    const viewer = { user: 'vic', tenant: 'default', role: 'viewer' } as const;
    const shown = await checksOf(freepbx, viewer);
    assert.equal(shown.status, 'fail');
    assert.equal(shown.checks, null);
    assert.match(shown.summary, /^Checks that need attention: \d+ of \d+ \(1 red, \d+ amber\)\.$/);
    const html = await (await fetch(`http://${freepbx}/settings`, { headers: as(viewer) })).text();
    assert.match(html, /id="smc-health"/);
    assert.match(html, /Checks that need attention/);
    assert.doesNotMatch(html, /data-check=|GRANT|smc-health-recheck/);
  });

  test('"Check again" needs an admin and the page\'s token; after the grant is given, the check is green', async () => {
    const admin = { user: 'ana', tenant: 'default', role: 'admin' } as const;
    const viewer = { user: 'vic', tenant: 'default', role: 'viewer' } as const;
    const post = (who: typeof admin | typeof viewer, token: string | null) => fetch(`http://${freepbx}/api/health/checks`, {
      method: 'POST',
      headers: { ...as(who), 'content-type': 'application/json', ...(token ? { 'x-csrf-token': token } : {}) },
      body: '{}',
    });
    assert.equal((await post(admin, null)).status, 403);
    assert.equal((await post(viewer, csrfToken(SECRET, `pbx\nvic\ndefault\nviewer`))).status, 403);

    await db.pool.query(`GRANT SELECT ON ${ident(db.names.cdr)}.\`cel\` TO ?@'localhost'`, [USER]);
    assert.equal((await checksOf(freepbx, admin)).checks!.find((c) => c.id === 'grants')!.status, 'fail', 'kept for a minute');
    clock += 10_000;
    const again = await post(admin, csrfToken(SECRET, `pbx\nana\ndefault\nadmin`));
    assert.equal(again.status, 200);
    const grants = ((await again.json()) as Shown).checks!.find((c) => c.id === 'grants')!;
    assert.equal(grants.status, 'ok', grants.summary);
    await db.pool.query(`REVOKE SELECT ON ${ident(db.names.cdr)}.\`cel\` FROM ?@'localhost'`, [USER]);
    clock += 10_000;
    assert.equal((await post(admin, csrfToken(SECRET, `pbx\nana\ndefault\nadmin`))).status, 200);
  });

  test("on VitalPBX a tenant's admin sees their tenant's checks and only a count of the PBX's; another tenant's backlog is not theirs", async () => {
    await db.pool.query(
      `INSERT INTO smart_missed_calls_deliveries (tenant, event, channel, target, idempotency_key, payload, status, attempts, next_attempt_at, last_error, created_at)
       VALUES ('alpha', 'entry.created', 'webhook', 'https://crm.alpha.example/hook', 'alpha-1', '{}', 'dead', 8, NOW(3), 'HTTP 500', NOW(3))`,
    );
    const alpha = await checksOf(vitalpbx, { user: 'ana', tenant: 'alpha', role: 'admin' });
    assert.deepEqual(alpha.checks!.map((c) => [c.id, c.status]), [['notifications', 'fail']]);
    assert.match(alpha.checks![0]!.fix, /smc deliveries --failures --tenant alpha/);
    assert.match(alpha.pbxOnly!, /^PBX-wide checks that need attention: \d+\. The PBX administrator sees them in full\.$/);

    const beta = await checksOf(vitalpbx, { user: 'bob', tenant: 'beta', role: 'admin' });
    assert.deepEqual(beta.checks!.map((c) => [c.id, c.status]), [['notifications', 'ok']]);
    const betaText = JSON.stringify(beta);
    for (const secret of ['alpha', USER, db.names.cdr, 'GRANT']) assert.ok(!betaText.includes(secret), `beta's admin is shown ${secret}`);

    const root = await checksOf(vitalpbx, { user: 'root', tenant: 'beta', role: 'superadmin' });
    assert.equal(root.checks!.find((c) => c.id === 'grants')!.status, 'fail');
    assert.equal(root.pbxOnly, null);
  });

  test("FreePBX's Dashboard line, from real php: the worst check, how many need attention, a link to the panel", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smc-health-php-'));
    try {
      const configPath = join(dir, 'config.yaml');
      writeFileSync(configPath, `pbx: freepbx\nserver:\n  listen: '${freepbx}'\n  secret: '${SECRET}'\n`);
      const pm2Log = join(dir, 'pm2.log');
      writeFileSync(pm2Log, JSON.stringify({ call: 'start', name: 'smartmissedcalls', process: '', environment: {}, force: false }) + '\n');
      // Not spawnSync: the service answering php runs in this process.
      const dashboard = async (env: Record<string, string>) => {
        const { stdout } = await promisify(execFile)('php', [join(repoRoot(), 'test/php/run-bmo.php'), 'dashboard'], {
          env: { PATH: process.env.PATH, SMC_MODULE_DIR: repoRoot(), SMC_CONFIG: configPath, SMC_STANDIN_PM2_LOG: pm2Log, ...env },
          encoding: 'utf8',
        });
        return (JSON.parse(stdout) as Record<string, unknown>[])[0]!;
      };
      const line = await dashboard({ SMC_STANDIN_SESSION_USER: 'ana' });
      assert.equal(line.type, 'error', String(line.tooltip));
      assert.equal(line['glyph-class'], 'fa-times text-danger');
      assert.match(String(line.tooltip), /^Running\. Checks that need attention: \d+ of \d+ \(1 red, \d+ amber\)\.$/);
      assert.equal(line.title, '<a href="config.php?display=smartmissedcalls&amp;view=settings#smc-health">Smart Missed Calls</a>');

      const ro = await dashboard({ SMC_STANDIN_SESSION_USER: 'ana', SMC_STANDIN_SESSION_LANG: 'ro_RO' });
      assert.match(String(ro.tooltip), /Verificări care cer atenție: \d+ din \d+ \(1 roșii, \d+ galbene\)\./);

      // Without the module, an administrator's Dashboard says only that it runs.
      assert.deepEqual(await dashboard({}), { type: 'ok', tooltip: 'Running', 'glyph-class': 'fa-check text-success', title: 'Smart Missed Calls', order: 999 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
