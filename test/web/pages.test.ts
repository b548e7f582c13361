import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { RowDataPacket } from 'mysql2/promise';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import { writeVolume } from '../../src/cdr/generator/volume.js';
import { insertScenarioNow } from '../../src/cdr/generator/live.js';
import { backfill } from '../../src/sync/backfill.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { Catalogues } from '../../src/web/i18n.js';
import { signIdentity } from '../../src/web/identity.js';
import { createPool } from '../../src/db/pool.js';
import { loadSettings, saveSettings } from '../../src/config/settings-store.js';
import type { Config } from '../../src/config/schema.js';
import { listenOnLoopback } from '../helpers/listen.js';
import { launchChromium, SCREENS } from '../helpers/chromium.js';

const SECRET = 'web-test-secret-0123456789abcdef';
const HOSTILE_NAME = '<img src=x onerror=alert(1)>';
const FORMULA_NAME = '=SUM(1,2)';
const NOTE = 'Called back from my mobile';

function dayOffset(today: string, n: number): string {
  const d = new Date(today + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

describe('web pages', () => {
  let db: FreshDatabases;
  let config: Config;
  let sync: SyncService;
  let server: Server;
  let base: string;
  let browser: Browser;
  const catalogues = new Catalogues(join(repoRoot(), 'i18n'));
  const model = demoPbx();

  before(async () => {
    db = await freshDatabases('web');
    await writePbxTables(db.pool, db.names.pbx, model);
    config = {
      ...db.config,
      sync: { ...db.config.sync, intervalSeconds: 1, settleSeconds: 1, extensions: '100-199' },
      server: {
        ...db.config.server,
        secret: SECRET,
        users: [
          { user: 'admin', password: 'admin-pass', tenant: 'default', role: 'admin' },
          { user: 'watcher', password: 'watcher-pass', tenant: 'default', role: 'viewer' },
        ],
      },
    };
    const [[{ today }]] = (await db.pool.query<RowDataPacket[]>('SELECT CURDATE() AS today')) as unknown as [[{ today: string }]];
    await writeVolume({ pool: db.pool, cdrDb: db.names.cdr, model, seed: 7, from: dayOffset(today, -13), to: dayOffset(today, -1), callsPerDay: 40 });
    await backfill(db.pool, config, { since: `${dayOffset(today, -13)} 00:00:00`, until: `${today} 00:00:00` });

    sync = new SyncService(db.pool, config);
    sync.start();
    ({ server } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // launch() gives Chromium a fresh, temporary --user-data-dir of its own (it refuses one passed in args).
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await sync?.stop();
    await db?.cleanup();
  });

  /** What the Content-Security-Policy blocked, as Chromium reports it on the console, in any page of any test. */
  let blocked: string[] = [];
  afterEach(() => {
    const seen = blocked;
    blocked = [];
    assert.deepEqual(seen, [], 'the Content-Security-Policy blocked something on the page');
  });

  async function newContext(locale: string): Promise<BrowserContext> {
    const context = await browser.newContext({ locale, viewport: { width: 1360, height: 900 } });
    context.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) blocked.push(`${message.page()?.url() ?? ''}: ${message.text()}`);
    });
    return context;
  }

  async function loggedIn(user: string, password: string, locale = 'en-GB'): Promise<{ context: BrowserContext; page: Page }> {
    const context = await newContext(locale);
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('#smc-user', user);
    await page.fill('#smc-password', password);
    await Promise.all([page.waitForURL(/\/dashboard/), page.click('button[type=submit]')]);
    return { context, page };
  }

  /** A missed call played by the generator now, with its rows in the cdr table. */
  async function missedCallNow(caller: { number: string; name: string }, seed: number): Promise<void> {
    const call = await insertScenarioNow({ pool: db.pool, cdrDb: db.names.cdr, scenario: 'direct_missed', seed, input: { caller, did: '0215550102' } });
    await call.inserted;
  }

  async function entryIdOf(callerDigits: string): Promise<number> {
    for (;;) {
      const [rows] = await db.pool.query<RowDataPacket[]>('SELECT id FROM smart_missed_calls WHERE caller_raw = ?', [callerDigits]);
      if (rows[0]) return Number(rows[0].id);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('an identity header with a bad signature or a stale timestamp is refused with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: now });
    const ok = await fetch(`${base}/entries`, { headers: { 'x-smc-identity': good.header, 'x-smc-signature': good.signature } });
    assert.equal(ok.status, 200);
    const fragment = await ok.text();
    assert.match(fragment, /class="container-fluid smartmissedcalls"/);
    assert.doesNotMatch(fragment, /<html/, 'behind the PBX the page is a fragment for FreePBX to wrap');

    const forged = signIdentity('another-secret-entirely-000000000', { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: now });
    const bad = await fetch(`${base}/entries`, { headers: { 'x-smc-identity': forged.header, 'x-smc-signature': forged.signature } });
    assert.equal(bad.status, 401);

    const stale = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: now - 600 });
    const old = await fetch(`${base}/api/entries`, { headers: { 'x-smc-identity': stale.header, 'x-smc-signature': stale.signature } });
    assert.equal(old.status, 401);

    const none = await fetch(`${base}/api/entries`);
    assert.equal(none.status, 401);
  });

  test('every answer carries a Content-Security-Policy that allows no inline script, nosniff and no framing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const id = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: now });
    const headers = { 'x-smc-identity': id.header, 'x-smc-signature': id.signature };
    for (const [path, h] of [['/login', {}], ['/dashboard', headers], ['/api/entries', headers], ['/assets/js/smartmissedcalls.js', {}], ['/nowhere', headers]] as const) {
      const res = await fetch(`${base}${path}`, { headers: h, redirect: 'manual' });
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /(^|; )script-src 'self'(;|$)/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
    }
    // The watch on the console sees a blocked inline handler, so the other tests' silence means something.
    const context = await newContext('en-GB');
    try {
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.evaluate(() => {
        document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="document.title = \'ran\'">');
      });
      await page.waitForFunction(() => document.querySelector('img[onerror]') !== null);
      for (let i = 0; i < 50 && blocked.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.notEqual(await page.title(), 'ran', 'an inline handler ran');
      assert.equal(blocked.length, 1, 'the inline handler was blocked and reported');
      blocked = [];
    } finally {
      await context.close();
    }
  });

  test('the dashboard draws every chart from the generated traffic', async () => {
    const { context, page } = await loggedIn('admin', 'admin-pass');
    try {
      await page.goto(`${base}/dashboard`);
      const charts = page.locator('canvas[data-chart]');
      assert.equal(await charts.count(), 7);
      await page.waitForFunction(() => [...document.querySelectorAll('canvas[data-chart]')].every((c) => c.getAttribute('data-drawn') === '1'));
      const inked = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLCanvasElement>('canvas[data-chart]')].map((c) => {
          const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let coloured = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) coloured++;
          return { chart: c.dataset.chart, coloured };
        }),
      );
      for (const c of inked) assert.ok(c.coloured > 500, `${c.chart} chart is blank`);
      const missRate = await page.textContent('[data-kpi="missRate"]');
      assert.match(missRate ?? '', /\d/);
      await page.screenshot({ path: join(SCREENS, 'en-dashboard.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a missed call shows up on the open list without a reload, and resolving it journals the user', async () => {
    const { context, page } = await loggedIn('admin', 'admin-pass');
    try {
      const dashboard = await context.newPage();
      await dashboard.goto(`${base}/dashboard`);
      const openBefore = await dashboard.textContent('[data-kpi="openNow"]');
      await page.goto(`${base}/entries`);
      for (const p of [page, dashboard]) await p.evaluate(() => ((window as unknown as { smcSamePage: boolean }).smcSamePage = true));
      await missedCallNow({ number: '0744000555', name: 'Live Caller' }, 11);
      const row = page.locator('#smc-entry-rows tr', { hasText: '0744000555' });
      // Sync interval 1 s + settle 1 s, plus 1 s for the page: the brief's bound for "live".
      await row.waitFor({ timeout: (config.sync.intervalSeconds + config.sync.settleSeconds + 1) * 1000 + 2000 });
      await dashboard.waitForFunction((before) => document.querySelector('[data-kpi="openNow"]')!.textContent !== before, openBefore);
      assert.equal(Number(await dashboard.textContent('[data-kpi="openNow"]')), Number(openBefore) + 1);
      for (const p of [page, dashboard]) {
        assert.equal(await p.evaluate(() => (window as unknown as { smcSamePage?: boolean }).smcSamePage), true, 'the page was reloaded');
      }
      await dashboard.close();
      await page.screenshot({ path: join(SCREENS, 'en-list.png'), fullPage: true });

      await Promise.all([page.waitForURL(/\/entries\/\d+/), row.locator('a.smc-caller').click()]);
      await page.fill('#smc-note', NOTE);
      await Promise.all([page.waitForEvent('load'), page.click('#smc-resolve-button')]);
      assert.equal(await page.locator('#smc-resolve').count(), 0);
      const manual = page.locator('#smc-journal tr[data-event="cleared"][data-reason="manual"]');
      assert.equal(await manual.count(), 1);
      assert.equal((await manual.locator('.smc-actor').textContent())?.trim(), 'admin');
      assert.match((await manual.textContent()) ?? '', /Called back from my mobile/);
      await page.screenshot({ path: join(SCREENS, 'en-detail.png'), fullPage: true });

      await page.goto(`${base}/entries?status=cleared&q=0744000555`);
      assert.equal(await page.locator('#smc-entry-rows tr', { hasText: '0744000555' }).count(), 1);
      await page.goto(`${base}/entries?status=open&q=0744000555`);
      assert.equal(await page.locator('#smc-entry-rows tr', { hasText: '0744000555' }).count(), 0);
    } finally {
      await context.close();
    }
  });

  test('a viewer sees no resolve button and the API refuses to resolve for them', async () => {
    await missedCallNow({ number: '0744000666', name: 'Viewer Case' }, 12);
    const id = await entryIdOf('0744000666');
    const { context, page } = await loggedIn('watcher', 'watcher-pass');
    try {
      await page.goto(`${base}/entries/${id}`);
      assert.equal(await page.locator('#smc-entry-status').count(), 1);
      assert.equal(await page.locator('#smc-resolve, #smc-resolve-button').count(), 0);
      const answer = await page.evaluate(async (url) => {
        const token = document.getElementById('smc-root')!.getAttribute('data-csrf')!;
        const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token }, body: JSON.stringify({ note: 'not mine to close' }) });
        return res.status;
      }, `${base}/api/entries/${id}/resolve`);
      assert.equal(answer, 403);
      await page.goto(`${base}/settings`);
      assert.equal(await page.locator('#smc-save').count(), 0);
      const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status FROM smart_missed_calls WHERE id = ?', [id]);
      assert.equal(rows[0]!.status, 'open');
    } finally {
      await context.close();
    }
  });

  test('a caller name with markup is shown as text and runs nothing', async () => {
    await missedCallNow({ number: '0744000777', name: HOSTILE_NAME }, 13);
    const id = await entryIdOf('0744000777');
    const { context, page } = await loggedIn('admin', 'admin-pass');
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      await page.goto(`${base}/entries?q=0744000777`);
      const row = page.locator('#smc-entry-rows tr', { hasText: '0744000777' });
      assert.equal((await row.locator('.smc-name').textContent())?.trim(), HOSTILE_NAME);
      await page.goto(`${base}/entries/${id}`);
      assert.equal((await page.locator('.smc-entry-title small').textContent())?.trim(), HOSTILE_NAME);
      assert.equal(await page.locator('img[src="x"]').count(), 0);
      assert.deepEqual(dialogs, []);
    } finally {
      await context.close();
    }
  });

  test('a POST without the CSRF token is refused and changes nothing', async () => {
    await missedCallNow({ number: '0744000888', name: 'Csrf Case' }, 14);
    const id = await entryIdOf('0744000888');
    const { context, page } = await loggedIn('admin', 'admin-pass');
    try {
      await page.goto(`${base}/entries/${id}`);
      const statuses = await page.evaluate(async (url) => {
        const plain = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ note: 'forged' }) });
        const wrong = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': '0'.repeat(64) }, body: JSON.stringify({ note: 'forged' }) });
        return [plain.status, wrong.status];
      }, `${base}/api/entries/${id}/resolve`);
      assert.deepEqual(statuses, [403, 403]);
      const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status FROM smart_missed_calls WHERE id = ?', [id]);
      assert.equal(rows[0]!.status, 'open');
    } finally {
      await context.close();
    }
  });

  test('settings show every bad field next to its input and save nothing of a bad change', async () => {
    const { context, page } = await loggedIn('admin', 'admin-pass');
    try {
      await page.goto(`${base}/settings`);
      await page.fill('#smc-matchDigits', '3');
      await page.fill('#smc-recipients', 'not-an-address');
      await page.fill('#smc-timezone', 'Mars/Olympus');
      await page.fill('#smc-maxEmailsPerHour', '77');
      await page.click('#smc-save');
      await page.locator('[data-error-for="matchDigits"]:not(:empty)').waitFor();
      for (const field of ['matchDigits', 'recipients', 'timezone']) {
        assert.notEqual((await page.textContent(`[data-error-for="${field}"]`))?.trim(), '', `${field} has no message`);
      }
      assert.equal((await page.textContent('[data-error-for="maxEmailsPerHour"]'))?.trim(), '');
      const [rows] = await db.pool.query<RowDataPacket[]>("SELECT settings FROM smart_missed_calls_settings WHERE tenant = 'default'");
      assert.ok(!rows[0] || JSON.parse(rows[0].settings).maxEmailsPerHour !== 77, 'half of a bad change was saved');
      await page.screenshot({ path: join(SCREENS, 'en-settings-errors.png'), fullPage: true });

      await page.fill('#smc-matchDigits', '9');
      await page.fill('#smc-recipients', 'office@example.com');
      await page.fill('#smc-timezone', 'Europe/Bucharest');
      // Boxes ticked by default, unticked by the admin: each is saved as it shows.
      for (const box of ['clearAcrossDids', 'clearAcrossPbxs']) await page.locator(`#smc-${box}`).setChecked(false);
      await page.click('#smc-save');
      await page.locator('#smc-saved:not(:empty)').waitFor();
      const [saved] = await db.pool.query<RowDataPacket[]>("SELECT settings FROM smart_missed_calls_settings WHERE tenant = 'default'");
      const stored = JSON.parse(saved[0]!.settings);
      assert.equal(stored.maxEmailsPerHour, 77);
      assert.deepEqual([stored.clearAcrossDids, stored.clearAcrossPbxs], [false, false], 'the unticked boxes were saved unticked');
      await page.reload();
      await page.screenshot({ path: join(SCREENS, 'en-settings.png'), fullPage: true });
      await page.goto(`${base}/calculator`);
      await page.fill('#smc-calc-calls', '100');
      await page.fill('#smc-calc-loss', '10');
      await page.fill('#smc-calc-conversion', '20');
      await page.fill('#smc-calc-value', '500');
      await page.fill('#smc-calc-recovery', '50');
      // 100 calls × 22 days × 10 % × 20 % × 500 = 22 000 lost, half of it recoverable.
      assert.equal((await page.textContent('#smc-calc-lost'))?.replace(/\D/g, ''), '22000');
      assert.equal((await page.textContent('#smc-calc-recoverable'))?.replace(/\D/g, ''), '11000');
      await page.screenshot({ path: join(SCREENS, 'en-calculator.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the settings page shows no secret, and saving it untouched keeps them', async () => {
    const hookSecret = 'page-hook-signing-key-0042';
    const lookupKey = 'page-lookup-key-0042';
    await saveSettings(db.pool, 'default', {
      lookupUrlTemplate: `https://crm.example/find?n={number}&key=${lookupKey}`,
      webhooks: [{ url: 'https://hooks.example/smc', secret: hookSecret, events: ['entry.created'] }],
    }, 'test');
    for (const [user, password] of [['watcher', 'watcher-pass'], ['admin', 'admin-pass']] as const) {
      const { context, page } = await loggedIn(user, password);
      try {
        await page.goto(`${base}/settings`);
        const html = await page.content();
        for (const secret of [hookSecret, lookupKey]) assert.ok(!html.includes(secret), `${user} is shown ${secret}`);
        if (user === 'admin') {
          await page.fill('#smc-maxEmailsPerHour', '78');
          await page.click('#smc-save');
          await page.locator('#smc-saved:not(:empty)').waitFor();
          const stored = await loadSettings(db.pool, 'default');
          assert.equal(stored.maxEmailsPerHour, 78);
          assert.equal(stored.webhooks[0]?.secret, hookSecret);
          assert.equal(stored.lookupUrlTemplate, `https://crm.example/find?n={number}&key=${lookupKey}`);
        }
      } finally {
        await context.close();
      }
    }
  });

  test('the CSV export neutralises formulas in caller names', async () => {
    await missedCallNow({ number: '0744000999', name: FORMULA_NAME }, 15);
    await entryIdOf('0744000999');
    const { context, page } = await loggedIn('admin', 'admin-pass');
    try {
      const csv = await page.evaluate(async (url) => (await fetch(url)).text(), `${base}/api/entries.csv?status=all&q=0744000999`);
      const line = csv.split('\r\n').find((l) => l.includes('0744000999'))!;
      assert.match(line, /,"'=SUM\(1,2\)",/);
    } finally {
      await context.close();
    }
  });

  test('the Romanian pages have no English left', async () => {
    const ro = catalogues.messages('ro');
    const patterns = [...ro.values()].flat().map((s) => new RegExp('^' + s.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}|\{\w+\}/g, '.+?') + '$', 's'));
    const english = new Set([...ro.entries()].filter(([id, forms]) => forms.every((form) => form !== id)).map(([id]) => id));
    // Data, not interface text: names from the PBX and callers, product name, units of numbers.
    const data = [
      'Smart Missed Calls', 'English', 'Română', 'admin', 'default', HOSTILE_NAME, 'Live Caller', 'Viewer Case', 'Csrf Case', FORMULA_NAME, NOTE,
      ...model.extensions.map((e) => e.name), ...model.queues.map((q) => q.name), ...model.ringGroups.map((g) => g.name),
      ...model.ivrs.map((i) => i.name), ...model.dids.map((d) => d.description),
    ];
    const months = Array.from({ length: 12 }, (_, m) => new Intl.DateTimeFormat('ro-RO', { month: 'short', timeZone: 'UTC' }).format(new Date(Date.UTC(2026, m, 15))));
    // Labels composed of translated words and data ("Coadă 400 (Sales)"): every word must be one of the two.
    const words = [...ro.values()].flat().filter((s) => !s.includes('{'));
    const isData = (text: string) => {
      let rest = text;
      for (const term of [...data, ...words, ...months].sort((a, b) => b.length - a.length)) {
        rest = rest.replace(new RegExp(`(?<!\\p{L})${term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\p{L})`, 'gu'), ' ');
      }
      return /^[\s\d.,:;%()×·+\-–—/▲▼←#=@'"<>_[\]{}]*$/.test(rest);
    };
    const { context, page } = await loggedIn('admin', 'admin-pass', 'ro-RO');
    const id = await entryIdOf('0744000555');
    try {
      const pages = [['dashboard', '/dashboard'], ['list', '/entries?status=all'], ['detail', `/entries/${id}`], ['settings', '/settings'], ['calculator', '/calculator']];
      for (const [name, path] of pages) {
        await page.goto(`${base}${path}`);
        await page.waitForLoadState('networkidle');
        const texts = await page.evaluate(() => {
          const out: string[] = [];
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const el = n.parentElement!;
            if (el.closest('script, noscript, style, code, textarea, .smc-cdr, [hidden]')) continue;
            const text = (n.textContent ?? '').replace(/\s+/g, ' ').trim();
            if (text) out.push(text);
          }
          for (const el of document.querySelectorAll<HTMLElement>('[placeholder], [aria-label]')) {
            for (const attr of ['placeholder', 'aria-label']) {
              const v = el.getAttribute(attr);
              if (v && !/^https?:/.test(v)) out.push(v);
            }
          }
          return out;
        });
        // A translated text may sit in parentheses of the page's own: "(acum 1 min)".
        const left = texts.filter((text) => !isData(text) && !patterns.some((p) => p.test(text.replace(/^\((.*)\)$/s, '$1'))));
        assert.deepEqual(left, [], `${name}: text that is not Romanian`);
        const englishLeft = texts.filter((text) => english.has(text));
        assert.deepEqual(englishLeft, [], `${name}: English msgids on the Romanian page`);
        await page.screenshot({ path: join(SCREENS, `ro-${name}.png`), fullPage: true });
      }
    } finally {
      await context.close();
    }
  });

  test('when the sync cannot reach the database, the page says so and /api/health answers 503', async () => {
    const broken = createPool({ ...config.db, database: 'no_such_database_here' });
    const failing = new SyncService(broken, config);
    await failing.tick();
    const app = createApp({ pool: db.pool, config, sync: failing, moduleDir: repoRoot() });
    const { server: other } = await listenOnLoopback(app);
    try {
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const now = Math.floor(Date.now() / 1000);
      const id = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: now });
      const headers = { 'x-smc-identity': id.header, 'x-smc-signature': id.signature };
      const health = await fetch(`${url}/api/health`, { headers });
      assert.equal(health.status, 503);
      const html = await (await fetch(`${url}/dashboard`, { headers })).text();
      assert.match(html, /id="smc-health-banner"/);
      assert.doesNotMatch(html, /id="smc-health-banner"[^>]*hidden/);
    } finally {
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
      await broken.end();
    }
  });
});
