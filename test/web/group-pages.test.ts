/**
 * The group view in a real Chromium, as `smc serve` on the group's own host shows it (its own
 * logins, group mode): the whole group by default, with per-PBX figures and each row's PBX;
 * the PBX filter narrows the list to one PBX; another PBX's entry is shown without the
 * resolve form. Screenshots in English and Romanian go where test/web/pages.test.ts puts its own.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import type { RowDataPacket } from 'mysql2/promise';
import { naiveDatetime, naiveSeconds } from '../../src/cdr/row.js';
import type { Config } from '../../src/config/schema.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { listenOnLoopback } from '../helpers/listen.js';
import { launchChromium, SCREENS } from '../helpers/chromium.js';

const PBXS = ['bucharest', 'cluj', 'iasi'];

describe('group pages in a browser', () => {
  let db: FreshDatabases;
  const pools: Pool[] = [];
  let server: Server;
  let base: string;
  let browser: Browser;
  let clujEntry = 0;

  before(async () => {
    db = await freshDatabases('webgrouppages');
    const [[{ now }]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    const ago = (hours: number) => naiveDatetime(naiveSeconds(String(now)) - hours * 3600);
    // Each PBX its own traffic over the last days: some callers missed, some called back.
    for (const [p, pbx] of PBXS.entries()) {
      const pool = createPool(db.config.db, 4, { pbxId: pbx });
      pools.push(pool);
      for (let i = 0; i < 4 + 2 * p; i++) {
        const caller = `07${p + 2}2${String(100000 + i * 37).padStart(6, '0')}`;
        const at = ago(6 + i * 17 + p);
        const missed = await record(pool, 'default', [callVerdict('missed', { caller, at, name: i === 0 ? `Client ${pbx}` : '' })]);
        if (pbx === 'cluj' && i === 0) clujEntry = missed.events[0]!.entry.id!;
        if (i % 3 === 1) await record(pool, 'default', [callVerdict('callback', { caller, at: ago(6 + i * 17 + p - 1), ext: `${10 + p}1` })]);
        if (i % 2 === 0) await record(pool, 'default', [callVerdict('answered', { caller: `07${p + 2}9${String(i).padStart(6, '0')}`, at })]);
      }
    }
    const config: Config = {
      ...db.config,
      pbxId: 'hq',
      group: { ...db.config.group, nodes: [{ host: '', port: 3306, socket: db.socket }], user: 'root', database: db.config.db.database },
      server: { ...db.config.server, secret: 'group-pages-secret-0123456789abcd', users: [{ user: 'admin', password: 'admin-pass', tenant: 'default', role: 'admin' }] },
    };
    const pool = createPool(db.config.db, 4, { pbxId: 'hq' });
    pools.push(pool);
    ({ server, base } = await listenOnLoopback(createApp({ pool, config, sync: new SyncService(pool, config), moduleDir: repoRoot() })));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    for (const pool of pools) await pool.end();
    await db?.cleanup();
  });

  async function loggedIn(locale: string): Promise<{ page: Page; blocked: string[]; close: () => Promise<void> }> {
    const context = await browser.newContext({ locale, viewport: { width: 1360, height: 900 } });
    const blocked: string[] = [];
    context.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
    });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('#smc-user', 'admin');
    await page.fill('#smc-password', 'admin-pass');
    await Promise.all([page.waitForURL(/\/dashboard/), page.click('button[type=submit]')]);
    return { page, blocked, close: () => context.close() };
  }

  test('English: the group by default, per-PBX figures, the filter narrows to one PBX, another PBX\'s entry is shown read-only', async () => {
    const { page, blocked, close } = await loggedIn('en-GB');
    try {
      await page.waitForSelector('canvas[data-chart="daily"]');
      assert.equal(await page.locator('#smc-pbx').inputValue(), 'all', 'the group is the default view');
      assert.deepEqual(await page.locator('#smc-per-pbx tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pbx'))), PBXS.slice().sort());
      await page.screenshot({ path: join(SCREENS, 'en-group-dashboard.png'), fullPage: true });

      await page.click('a[href^="/entries"]:has-text("Missed calls")');
      await page.waitForSelector('#smc-entries');
      const pbxCells = await page.locator('#smc-entries td.smc-pbx').allTextContents();
      assert.deepEqual([...new Set(pbxCells)].sort(), PBXS.slice().sort(), 'the list holds every PBX\'s rows, each saying its PBX');
      await page.screenshot({ path: join(SCREENS, 'en-group-list.png'), fullPage: true });

      await page.selectOption('#smc-pbx', 'cluj');
      await Promise.all([page.waitForURL(/pbx=cluj/), page.click('form.smc-filters button[type=submit]')]);
      assert.equal(await page.locator('#smc-entries td.smc-pbx').count(), 0, 'one PBX: no PBX column');
      assert.equal(await page.locator('#smc-entries tr[data-entry-id]').count(), await openEntries('cluj'));
      // The tabs keep the choice.
      assert.match(String(await page.locator('.nav-tabs a:has-text("Dashboard")').getAttribute('href')), /pbx=cluj/);

      await page.goto(`${base}/entries/${clujEntry}?pbx=all`);
      assert.equal(await page.locator('#smc-entry-pbx').textContent(), 'cluj');
      assert.equal(await page.locator('#smc-resolve').count(), 0);
      await page.screenshot({ path: join(SCREENS, 'en-group-detail.png'), fullPage: true });
      assert.deepEqual(blocked, []);
    } finally {
      await close();
    }
  });

  test('Romanian: the same group view in Romanian', async () => {
    const { page, blocked, close } = await loggedIn('ro-RO');
    try {
      await page.waitForSelector('canvas[data-chart="daily"]');
      assert.equal(await page.locator('#smc-per-pbx').locator('..').locator('..').locator('.panel-title').textContent(), 'Pe centrale');
      assert.equal(await page.locator('#smc-pbx option[value="all"]').textContent(), 'Toate centralele grupului');
      await page.screenshot({ path: join(SCREENS, 'ro-group-dashboard.png'), fullPage: true });
      await page.goto(`${base}/entries?pbx=all`);
      assert.equal(await page.locator('#smc-entries thead th').first().textContent(), 'Centrală');
      await page.screenshot({ path: join(SCREENS, 'ro-group-list.png'), fullPage: true });
      await page.goto(`${base}/entries/${clujEntry}?pbx=all`);
      assert.match(String(await page.locator('#smc-other-pbx').textContent()), /pe lista centralei cluj/);
      await page.screenshot({ path: join(SCREENS, 'ro-group-detail.png'), fullPage: true });
      assert.deepEqual(blocked, []);
    } finally {
      await close();
    }
  });

  async function openEntries(pbx: string): Promise<number> {
    const [[{ n }]] = (await db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM smart_missed_calls WHERE tenant = 'default' AND pbx = ? AND status = 'open'", [pbx])) as unknown as [[{ n: number }]];
    return Number(n);
  }
});
