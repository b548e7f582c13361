/**
 * The first minutes after install, in Chromium: the first-visit explanation on an empty
 * ledger, the history bar mid-way (English and Romanian, screenshots), the bar moving over
 * the event stream without a reload and giving way to its summary, and "classify history
 * since …" on the settings page (admins only, CSRF-protected).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import type { RowDataPacket } from 'mysql2/promise';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import { writeVolume } from '../../src/cdr/generator/volume.js';
import { historyProgress } from '../../src/sync/history.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import type { Config } from '../../src/config/schema.js';
import { listenOnLoopback } from '../helpers/listen.js';
import { launchChromium, SCREENS } from '../helpers/chromium.js';

const DAYS = 10;

describe('history at install, on the pages', () => {
  let db: FreshDatabases;
  let config: Config;
  let sync: SyncService;
  let server: Server;
  let base: string;
  let browser: Browser;

  before(async () => {
    db = await freshDatabases('historypage');
    await writePbxTables(db.pool, db.names.pbx, demoPbx());
    config = {
      ...db.config,
      // Five-minute steps: the bar can be caught mid-way.
      sync: { ...db.config.sync, intervalSeconds: 1, settleSeconds: 1, extensions: '100-199', maxCallSeconds: 600, historyChunkSeconds: 300 },
      server: {
        ...db.config.server,
        secret: 'history-page-secret-0123456789abcdef',
        users: [
          { user: 'admin', password: 'admin-pass', tenant: 'default', role: 'admin' },
          { user: 'watcher', password: 'watcher-pass', tenant: 'default', role: 'viewer' },
        ],
      },
    };
    const [[{ today }]] = (await db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(CURDATE(), '%Y-%m-%d') AS today")) as unknown as [[{ today: string }]];
    const day = (n: number) => new Date(Date.parse(`${today}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
    await db.pool.query("INSERT INTO smart_missed_calls_settings (tenant, settings, updated_at, updated_by) VALUES ('default', ?, NOW(), 'test')", [JSON.stringify({ historyDays: DAYS })]);
    await writeVolume({ pool: db.pool, cdrDb: db.names.cdr, model: demoPbx(), seed: 9, from: day(-DAYS), to: day(-1), callsPerDay: 80 });
    sync = new SyncService(db.pool, config);
    ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await sync?.stop();
    await db?.cleanup();
  });

  async function loggedIn(user: string, password: string, locale = 'en-GB'): Promise<Page> {
    const context = await browser.newContext({ locale, viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('#smc-user', user);
    await page.fill('#smc-password', password);
    await Promise.all([page.waitForURL(/\/dashboard/), page.click('button[type=submit]')]);
    return page;
  }

  test('before anything is classified, the dashboard and the list say what will appear instead of blank charts', async () => {
    const page = await loggedIn('admin', 'admin-pass');
    try {
      await page.goto(`${base}/dashboard`);
      assert.equal(await page.isVisible('#smc-empty'), true);
      assert.match((await page.textContent('#smc-empty')) ?? '', /Nothing to show yet[\s\S]*inbound calls[\s\S]*No inbound call has been classified yet/);
      assert.equal(await page.isVisible('canvas[data-chart="daily"]'), false, 'no blank charts');
      await page.screenshot({ path: join(SCREENS, 'en-first-visit.png'), fullPage: true });
      await page.goto(`${base}/entries`);
      assert.match((await page.textContent('#smc-empty')) ?? '', /callers nobody on the team answered/);
    } finally {
      await page.context().close();
    }
  });

  test('the history bar mid-way in English and Romanian, then live over the event stream up to its summary', async () => {
    sync.start();
    // Let the service work, then pause it mid-way: the bar shows what is committed.
    for (;;) {
      const p = await historyProgress(db.pool, 'default');
      if (p && p.fraction >= 0.3) break;
      assert.ok(!p || p.running, 'the history ended before the test could pause it');
      await new Promise((r) => setTimeout(r, 20));
    }
    await sync.stop();
    const paused = (await historyProgress(db.pool, 'default'))!;
    assert.equal(paused.running, true);

    for (const [lang, locale, days] of [['en', 'en-GB', /of 10 days, [\d,]+ calls classified/], ['ro', 'ro-RO', /din 10 zile, [\d.]+ (de )?apeluri clasificate/]] as const) {
      const page = await loggedIn('admin', 'admin-pass', locale);
      try {
        await page.goto(`${base}/dashboard`);
        assert.equal(await page.isVisible('#smc-history-running'), true);
        assert.equal(await page.isVisible('#smc-empty'), false, 'calls are in: the figures, not the explanation');
        assert.match((await page.textContent('#smc-history-text')) ?? '', days);
        const value = Number(await page.getAttribute('#smc-history-bar', 'value'));
        assert.ok(value >= 30 && value < 100, `bar at ${value} %`);
        assert.equal(await page.isVisible('#smc-history-note'), true, 'the figures are said to be still growing');
        await page.screenshot({ path: join(SCREENS, `${lang}-history-progress.png`), fullPage: true });
        await page.goto(`${base}/entries`);
        assert.equal(await page.isVisible('#smc-history-running'), true, 'the list shows the bar too');
      } finally {
        await page.context().close();
      }
    }

    const page = await loggedIn('admin', 'admin-pass');
    try {
      await page.goto(`${base}/dashboard`);
      const start = Number(await page.getAttribute('#smc-history-bar', 'value'));
      await page.evaluate(() => ((window as unknown as { smcSamePage: boolean }).smcSamePage = true));
      sync.start();
      await page.waitForFunction((v) => (document.getElementById('smc-history-bar') as HTMLProgressElement).value > v, start, { timeout: 120_000 });
      await page.waitForSelector('#smc-history-summary:not([hidden])', { timeout: 300_000 });
      assert.equal(await page.isVisible('#smc-history-running'), false);
      assert.match((await page.textContent('#smc-history-summary')) ?? '', /^Call history classified: 10 days, [\d,]+ calls, [\d,]+ missed by the team\.$/);
      assert.equal(await page.evaluate(() => (window as unknown as { smcSamePage?: boolean }).smcSamePage), true, 'the page was not reloaded');
      await page.screenshot({ path: join(SCREENS, 'en-history-done.png'), fullPage: true });
    } finally {
      await page.context().close();
    }
  });

  test('"classify history since …": admins start it from the settings page; viewers, bad days and requests without the CSRF token are refused', async () => {
    const watcher = await loggedIn('watcher', 'watcher-pass');
    try {
      await watcher.goto(`${base}/settings`);
      assert.equal(await watcher.locator('#smc-history-request').count(), 0);
      const status = await watcher.evaluate(async (url) => {
        const token = document.getElementById('smc-root')!.getAttribute('data-csrf')!;
        return (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token }, body: JSON.stringify({ since: '2026-01-01' }) })).status;
      }, `${base}/api/history`);
      assert.equal(status, 403);
    } finally {
      await watcher.context().close();
    }

    const page = await loggedIn('admin', 'admin-pass');
    try {
      await page.goto(`${base}/settings`);
      const noToken = await page.evaluate(async (url) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ since: '2026-01-01' }) })).status, `${base}/api/history`);
      assert.equal(noToken, 403);
      await page.fill('#smc-history-since', '1999-01-01');
      await page.click('#smc-history-start');
      await page.waitForSelector('[data-error-for="since"]:has-text("A day between")');
      const [[{ since }]] = (await db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(CURDATE() - INTERVAL 12 DAY, '%Y-%m-%d') AS since")) as unknown as [[{ since: string }]];
      await page.fill('#smc-history-since', since);
      await page.click('#smc-history-start');
      await page.waitForSelector('#smc-history-requested:has-text("being classified in the background")');
      const [jobs] = await db.pool.query<RowDataPacket[]>("SELECT v FROM smart_missed_calls_state WHERE k = 'history_job:default'");
      const job = JSON.parse(String(jobs[0]!.v)) as { since: string; requestedBy: string };
      assert.equal(job.since, `${since} 00:00:00`);
      assert.equal(job.requestedBy, 'user:admin');
      await page.goto(`${base}/dashboard`);
      await page.waitForSelector('#smc-history-summary:not([hidden])', { timeout: 300_000 });
      // From that day's midnight to now: 12 days and part of today.
      assert.match((await page.textContent('#smc-history-summary')) ?? '', /^Call history classified: 1[23] days/);
    } finally {
      await page.context().close();
    }
  });
});
