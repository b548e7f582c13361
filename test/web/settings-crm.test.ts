import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { loadSettings, saveSettings } from '../../src/config/settings-store.js';
import type { Config } from '../../src/config/schema.js';
import { Notifier } from '../../src/notify/worker.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { HubSpotStandIn } from '../helpers/hubspot.js';
import { OdooStandIn, type OdooStandInOptions } from '../helpers/odoo.js';
import { SalesforceOrg, type OrgOptions } from '../helpers/salesforce.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, SCREENS } from '../helpers/chromium.js';

const SECRET = 'settings-crm-secret-0123456789abcd';
const TOKEN = 'pat-eu1-0f1e2d3c-4b5a-6978-8a9b-cdef01234567';
const ODOO_KEY = '7c1e0d9b8a7f6e5d4c3b2a190817f6e5d4c3b2a1';
const SF_KEY = '3MVG9settings.crm.consumer.key';
const SF_SECRET = 'S3CRETsettingsCrmConsumerSecret0123456789ABCDEF';
const SF_REFRESH = '5Aep861settingsCrmRefreshToken0123456789abcdefghijklmnopqrstuvwxyz';

/** The CRM block of the settings page: write-only token, field-named refusals, Test connection in en and ro. */
describe('CRM settings', () => {
  let db: FreshDatabases;
  let server: Server;
  let base: string;
  let config: Config;
  const hubs: HubSpotStandIn[] = [];
  const odoos: OdooStandIn[] = [];
  const orgs: SalesforceOrg[] = [];

  before(async () => {
    db = await freshDatabases('webcrm');
    config = { ...db.config, server: { ...db.config.server, secret: SECRET }, notify: { allowPrivateNetworks: ['127.0.0.1/32'] } };
    const sync = new SyncService(db.pool, config);
    server = await new Promise<Server>((resolve) => {
      const s = createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() }).listen({ host: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const h of hubs) await h.stop();
    for (const o of odoos) await o.stop();
    for (const o of orgs) await o.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.cleanup();
  });

  async function hub(options: { token?: string; scopes?: string[] } = {}): Promise<HubSpotStandIn> {
    const h = await new HubSpotStandIn({ token: options.token ?? TOKEN, ...(options.scopes ? { scopes: options.scopes } : {}) }).start();
    hubs.push(h);
    return h;
  }

  async function odoo(options: Partial<OdooStandInOptions> = {}): Promise<OdooStandIn> {
    const o = await new OdooStandIn({ database: 'acme', login: 'bot@acme.example', apiKey: ODOO_KEY, crm: true, ...options }).start();
    odoos.push(o);
    return o;
  }

  async function org(options: Partial<OrgOptions> = {}): Promise<SalesforceOrg> {
    const o = await new SalesforceOrg({ clientId: SF_KEY, clientSecret: SF_SECRET, refreshToken: SF_REFRESH, ...options }).start();
    orgs.push(o);
    return o;
  }

  function as(role: Identity['role'], lang: 'en' | 'ro' = 'en'): Record<string, string> {
    const signed = signIdentity(SECRET, { user: 'ana', tenant: 'default', role, lang, ts: Math.floor(Date.now() / 1000) });
    return {
      'x-smc-identity': signed.header, 'x-smc-signature': signed.signature, 'content-type': 'application/json',
      'x-csrf-token': csrfToken(SECRET, `pbx\nana\ndefault\n${role}`),
    };
  }

  /** The settings page as the admin UI shows it to an admin reading `lang`. */
  async function settingsPage(browser: Browser, lang: 'en' | 'ro'): Promise<{ context: BrowserContext; page: Page }> {
    const { 'content-type': _json, ...headers } = as('admin', lang);
    const context = await browser.newContext({ extraHTTPHeaders: headers, viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    // The PHP glue's part: ajax.php?…&path=/api/… is forwarded to the service.
    await page.route('**/ajax.php?*', (route) => route.continue({ url: base + new URL(route.request().url()).searchParams.get('path') }));
    await page.goto(`${base}/settings`);
    await withAssets(page);
    return { context, page };
  }

  /** Inside the PBX the admin UI wraps this fragment and loads the module's assets. */
  async function withAssets(page: Page): Promise<void> {
    await page.addStyleTag({ url: `${base}/assets/css/smartmissedcalls.css` });
    await page.addScriptTag({ url: `${base}/assets/js/smartmissedcalls.js` });
  }

  async function reloadWithAssets(page: Page): Promise<void> {
    await page.reload();
    await withAssets(page);
  }

  async function post(path: string, body: unknown, lang: 'en' | 'ro' = 'en'): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: as('admin', lang), body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> };
  }

  test('the token is never shown back, in JSON or in the page, to any role; saving what was shown keeps it; a new address needs it typed again', async () => {
    const h = await hub();
    await saveSettings(db.pool, 'default', { crm: { kind: 'hubspot', baseUrl: h.url, token: TOKEN } }, 'test');
    for (const role of ['viewer', 'admin', 'superadmin'] as const) {
      const json = await (await fetch(`${base}/api/settings`, { headers: as(role) })).text();
      assert.ok(!json.includes(TOKEN), `GET /api/settings as ${role}`);
      const page = await (await fetch(`${base}/settings`, { headers: as(role) })).text();
      assert.ok(!page.includes(TOKEN), `the settings page as ${role}`);
      assert.match(page, /id="smc-crm"/);
    }
    const shown = (await (await fetch(`${base}/api/settings`, { headers: as('admin') })).json()) as { crm: Record<string, unknown> };
    const saved = await post('/api/settings', { crm: shown.crm });
    assert.equal(saved.status, 200);
    assert.ok(!saved.text.includes(TOKEN));
    assert.equal((await loadSettings(db.pool, 'default')).crm.token, TOKEN, 'the hidden token posted back keeps the stored one');
    assert.equal((await post('/api/settings', { crm: { ...shown.crm, token: '' } })).status, 200);
    assert.equal((await loadSettings(db.pool, 'default')).crm.token, TOKEN, 'an empty token keeps it too');

    const moved = await post('/api/settings', { crm: { ...shown.crm, baseUrl: 'http://127.0.0.1:9/elsewhere' } });
    assert.equal(moved.status, 422);
    assert.ok((moved.json.errors as Record<string, string>)['crm.token'], 'the stored token is not sent to a new address');
    const noUrl = await post('/api/settings', { crm: { kind: 'hubspot', baseUrl: '', token: 'x' } });
    assert.equal(noUrl.status, 422);
    assert.match((noUrl.json.errors as Record<string, string>)['crm.baseUrl']!, /required/);
    assert.equal((await post('/api/settings', { crm: { ...shown.crm, kind: '' } })).status, 200);
    assert.equal((await loadSettings(db.pool, 'default')).crm.token, '', 'turning the CRM off forgets the token');
  });

  test('Test connection says exactly what is wrong, in the reader’s language', async () => {
    const good = await hub();
    const readOnly = await hub({ scopes: ['crm.objects.contacts.read'] });
    const noScopes = await hub({ scopes: [] });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');

    const check = async (crm: Record<string, unknown>, lang: 'en' | 'ro' = 'en') => {
      const r = await post('/api/settings/crm-test', { crm: { kind: 'hubspot', ...crm } }, lang);
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.text.includes(TOKEN), 'the answer never holds the token');
      return r.json as { ok: boolean; message: string };
    };
    assert.deepEqual(await check({ baseUrl: good.url, token: TOKEN }), { ok: true, message: 'Connected to HubSpot: the token works and can read contacts.' });
    const bad = await check({ baseUrl: good.url, token: 'pat-eu1-wrong' });
    assert.equal(bad.ok, false);
    assert.match(bad.message, /^HubSpot refused the token \(401\): Authentication credentials not found\./);
    assert.match((await check({ baseUrl: noScopes.url, token: TOKEN })).message, /lacks the scope crm\.objects\.contacts\.read/);
    assert.match((await check({ baseUrl: readOnly.url, token: TOKEN })).message, /lacks the scope crm\.objects\.contacts\.write, needed to create tasks:/);
    assert.match((await check({ baseUrl: readOnly.url, token: TOKEN, createContact: true })).message, /needed to create tasks and contacts/);
    assert.match((await check({ baseUrl: closedUrl, token: TOKEN })).message, new RegExp(`^HubSpot could not be reached at ${closedUrl}: ECONNREFUSED`));
    assert.match((await check({ baseUrl: `${good.url}/not-the-api`, token: TOKEN })).message, /does not answer like the HubSpot API \(HTTP 404\): check the base URL/);
    assert.match((await check({ baseUrl: good.url, token: 'pat-eu1-wrong' }, 'ro')).message, /^HubSpot a refuzat tokenul \(401\)/);
    assert.match((await check({ baseUrl: readOnly.url, token: TOKEN }, 'ro')).message, /Aplicației private îi lipsește permisiunea crm\.objects\.contacts\.write/);
    const unnamed = await post('/api/settings/crm-test', { crm: { kind: 'hubspot', baseUrl: '', token: TOKEN } });
    assert.equal(unnamed.status, 422);
    assert.ok((unnamed.json.errors as Record<string, string>)['crm.baseUrl']);
    // Nothing of a test is saved.
    assert.equal((await loadSettings(db.pool, 'default')).crm.kind, '');
  });

  test('the settings page shows the CRM’s own message for a task it refused', async () => {
    const h = await hub({ token: 'pat-eu1-the-account-token' });
    await saveSettings(db.pool, 'default', { cadence: 'off', crm: { kind: 'hubspot', baseUrl: h.url, token: TOKEN } }, 'test');
    await record(db.pool, 'default', [callVerdict('missed', { caller: '0731000100', at: '2025-05-07 10:00:00' })]);
    const n = new Notifier({ pool: db.pool, config, mailer: null });
    await n.pass();
    await n.close();
    const page = await (await fetch(`${base}/settings`, { headers: as('admin') })).text();
    assert.match(page, /id="smc-crm-problem"[^>]*>The CRM refused the latest task; it is being retried: HubSpot 401 INVALID_AUTHENTICATION: Authentication credentials not found\./);
    assert.ok(!page.includes(TOKEN));
  });

  test('Odoo: Test connection names the wrong database, the refused key, the missing right and the wrong address, in the reader’s language', async () => {
    const good = await odoo();
    const readOnly = await odoo({ rights: { 'res.partner': ['read'] } });
    const noCreate = await odoo({ rights: { 'res.partner': ['read', 'write'] } });
    await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');
    const check = async (crm: Record<string, unknown>, lang: 'en' | 'ro' = 'en') => {
      const r = await post('/api/settings/crm-test', { crm: { kind: 'odoo', baseUrl: good.url, database: 'acme', login: 'bot@acme.example', token: ODOO_KEY, ...crm } }, lang);
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.text.includes(ODOO_KEY), 'the answer never holds the key');
      return r.json as { ok: boolean; message: string };
    };
    assert.deepEqual(await check({}), { ok: true, message: 'Connected to Odoo 17.0 as bot@acme.example: the API key works and can read contacts and schedule activities.' });
    assert.deepEqual(await check({ database: 'acme_test' }), { ok: false, message: 'Odoo has no database acme_test: check the database name (Odoo shows it on its database selector, or ask the host).' });
    assert.deepEqual(await check({ token: 'not-the-key' }), { ok: false, message: 'Odoo refused the login bot@acme.example or its API key: check both (the key is made under the user’s Preferences → Account Security).' });
    assert.deepEqual(await check({ login: 'someone@acme.example' }), { ok: false, message: 'Odoo refused the login someone@acme.example or its API key: check both (the key is made under the user’s Preferences → Account Security).' });
    assert.deepEqual(await check({ baseUrl: readOnly.url }), { ok: false, message: 'The Odoo user bot@acme.example lacks the access right “write” on res.partner: grant it in Odoo (Settings → Users) and try again.' });
    assert.equal((await check({ baseUrl: noCreate.url })).ok, true, 'creating contacts is not needed unless asked for');
    assert.deepEqual(await check({ baseUrl: noCreate.url, createContact: true }), { ok: false, message: 'The Odoo user bot@acme.example lacks the access right “create” on res.partner: grant it in Odoo (Settings → Users) and try again.' });
    const noLeads = await odoo({ rights: { 'crm.lead': ['read'] } });
    assert.deepEqual(await check({ baseUrl: noLeads.url }), { ok: false, message: 'The Odoo user bot@acme.example lacks the access right “create” on crm.lead: grant it in Odoo (Settings → Users) and try again.' });
    assert.equal((await check({ baseUrl: noLeads.url, createContact: true })).ok, true, 'no lead is made when contacts are');
    assert.deepEqual(await check({ baseUrl: `${good.url}/web` }), { ok: false, message: `${good.url}/web does not answer like Odoo’s JSON-RPC API (/jsonrpc): check the base URL.` });
    assert.deepEqual(await check({ database: 'acme_test' }, 'ro'), { ok: false, message: 'Odoo nu are baza de date acme_test: verificați numele bazei de date (Odoo îl arată în selectorul de baze de date, sau întrebați furnizorul de găzduire).' });
    assert.deepEqual(await check({ token: 'not-the-key' }, 'ro'), { ok: false, message: 'Odoo a refuzat utilizatorul bot@acme.example sau cheia lui API: verificați-le pe amândouă (cheia se creează din Preferințele utilizatorului → Securitatea contului).' });
    assert.deepEqual(await check({ baseUrl: readOnly.url }, 'ro'), { ok: false, message: 'Utilizatorului Odoo bot@acme.example îi lipsește dreptul de acces „write” pe res.partner: acordați-l în Odoo (Setări → Utilizatori) și încercați din nou.' });
    assert.match((await check({}, 'ro')).message, /^Conectat la Odoo 17\.0 ca bot@acme\.example/);
    // The database and the login are named when missing, like every setting.
    const unnamed = await post('/api/settings/crm-test', { crm: { kind: 'odoo', baseUrl: good.url, database: ' ', login: 'bot@acme.example', token: ODOO_KEY } });
    assert.equal(unnamed.status, 422);
    assert.match((unnamed.json.errors as Record<string, string>)['crm.database']!, /required for Odoo/);
    const noLogin = await post('/api/settings/crm-test', { crm: { kind: 'odoo', baseUrl: good.url, database: 'acme', token: ODOO_KEY } }, 'ro');
    assert.match((noLogin.json.errors as Record<string, string>)['crm.login']!, /obligatoriu pentru Odoo/);
    assert.equal((await loadSettings(db.pool, 'default')).crm.kind, '', 'nothing of a test is saved');
  });

  test('Odoo: the API key is never shown back; a HubSpot setting carries no Odoo fields', async () => {
    const o = await odoo();
    await saveSettings(db.pool, 'default', { crm: { kind: 'odoo', baseUrl: o.url, database: 'acme', login: 'bot@acme.example', token: ODOO_KEY } }, 'test');
    for (const role of ['viewer', 'admin'] as const) {
      assert.ok(!(await (await fetch(`${base}/api/settings`, { headers: as(role) })).text()).includes(ODOO_KEY));
      const page = await (await fetch(`${base}/settings`, { headers: as(role) })).text();
      assert.ok(!page.includes(ODOO_KEY), `the settings page as ${role}`);
    }
    const shown = (await (await fetch(`${base}/api/settings`, { headers: as('admin') })).json()) as { crm: Record<string, unknown> };
    assert.deepEqual({ ...shown.crm, baseUrl: '' }, { kind: 'odoo', baseUrl: '', database: 'acme', login: 'bot@acme.example', token: '••••••', createContact: false });
    assert.equal((await post('/api/settings', { crm: shown.crm })).status, 200);
    assert.equal((await loadSettings(db.pool, 'default')).crm.token, ODOO_KEY, 'the hidden key posted back keeps the stored one');
    assert.equal((await post('/api/settings', { crm: { ...shown.crm, kind: 'hubspot' } })).status, 200);
    assert.deepEqual(await loadSettings(db.pool, 'default').then((s) => Object.keys(s.crm).sort()), ['baseUrl', 'createContact', 'kind', 'token']);
    await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');
  });

  test('in the browser: choose HubSpot, then Odoo, Test connection (something wrong, then right), save; en and ro', async () => {
    const h = await hub();
    const o = await odoo();
    await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');
    await db.pool.query('DELETE FROM smart_missed_calls_deliveries');
    const browser = await launchChromium();
    try {
      for (const lang of ['en', 'ro'] as const) {
        const { context, page } = await settingsPage(browser, lang);
        await page.selectOption('[name="crm-kind"]', 'hubspot');
        await page.fill('[name="crm-baseUrl"]', h.url);
        await page.fill('[name="crm-token"]', 'pat-eu1-wrong');
        await page.click('#smc-crm-test');
        await page.locator('#smc-crm-test-result.text-danger').waitFor();
        assert.match((await page.textContent('#smc-crm-test-result'))!, lang === 'en' ? /^HubSpot refused the token \(401\)/ : /^HubSpot a refuzat tokenul \(401\)/);
        await page.fill('[name="crm-token"]', TOKEN);
        await page.click('#smc-crm-test');
        await page.locator('#smc-crm-test-result.text-success').waitFor();
        assert.match((await page.textContent('#smc-crm-test-result'))!, lang === 'en' ? /^Connected to HubSpot/ : /^Conectat la HubSpot/);
        await page.locator('#smc-crm').screenshot({ path: join(SCREENS, `${lang}-settings-crm.png`) });
        await page.click('#smc-save');
        await page.locator('#smc-saved:not(:empty)').waitFor();
        assert.deepEqual((await loadSettings(db.pool, 'default')).crm, { kind: 'hubspot', baseUrl: h.url, token: TOKEN, createContact: false });
        await reloadWithAssets(page);
        assert.ok(!(await page.content()).includes(TOKEN), 'the token is not in the page after saving');
        assert.equal(await page.inputValue('[name="crm-token"]'), '');
        // Saving again with the token field left empty keeps the token.
        await page.check('[name="crm-createContact"]');
        await page.click('#smc-save');
        await page.locator('#smc-saved:not(:empty)').waitFor();
        assert.deepEqual((await loadSettings(db.pool, 'default')).crm, { kind: 'hubspot', baseUrl: h.url, token: TOKEN, createContact: true });
        await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');

        // Odoo: its database and login appear when it is chosen.
        await reloadWithAssets(page);
        assert.equal(await page.isVisible('[name="crm-database"]'), false, 'no Odoo fields while no CRM is chosen');
        await page.selectOption('[name="crm-kind"]', 'odoo');
        await page.locator('[name="crm-database"]').waitFor({ state: 'visible' });
        await page.fill('[name="crm-baseUrl"]', o.url);
        await page.fill('[name="crm-database"]', 'acme_test');
        await page.fill('[name="crm-login"]', 'bot@acme.example');
        await page.fill('[name="crm-token"]', ODOO_KEY);
        await page.click('#smc-crm-test');
        await page.locator('#smc-crm-test-result.text-danger').waitFor();
        assert.match((await page.textContent('#smc-crm-test-result'))!, lang === 'en' ? /^Odoo has no database acme_test/ : /^Odoo nu are baza de date acme_test/);
        await page.fill('[name="crm-database"]', 'acme');
        await page.click('#smc-crm-test');
        await page.locator('#smc-crm-test-result.text-success').waitFor();
        assert.match((await page.textContent('#smc-crm-test-result'))!, lang === 'en' ? /^Connected to Odoo 17\.0/ : /^Conectat la Odoo 17\.0/);
        await page.locator('#smc-crm').screenshot({ path: join(SCREENS, `${lang}-settings-crm-odoo.png`) });
        await page.click('#smc-save');
        await page.locator('#smc-saved:not(:empty)').waitFor();
        assert.deepEqual((await loadSettings(db.pool, 'default')).crm, { kind: 'odoo', baseUrl: o.url, database: 'acme', login: 'bot@acme.example', token: ODOO_KEY, createContact: false });
        await page.reload();
        assert.ok(!(await page.content()).includes(ODOO_KEY), 'the key is not in the page after saving');
        await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });
  test('Salesforce: the refresh token and consumer secret are never shown back; the consumer key is; a new address needs both typed again; missing ones are named', async () => {
    const o = await org();
    await saveSettings(db.pool, 'default', { crm: { kind: 'salesforce', baseUrl: o.url, clientId: SF_KEY, clientSecret: SF_SECRET, token: SF_REFRESH } }, 'test');
    for (const role of ['viewer', 'admin', 'superadmin'] as const) {
      const json = await (await fetch(`${base}/api/settings`, { headers: as(role) })).text();
      const page = await (await fetch(`${base}/settings`, { headers: as(role) })).text();
      for (const secret of [SF_SECRET, SF_REFRESH]) {
        assert.ok(!json.includes(secret), `GET /api/settings as ${role}`);
        assert.ok(!page.includes(secret), `the settings page as ${role}`);
      }
    }
    const shown = (await (await fetch(`${base}/api/settings`, { headers: as('admin') })).json()) as { crm: Record<string, unknown> };
    assert.equal(shown.crm.clientId, SF_KEY, 'the consumer key is no secret');
    assert.equal(shown.crm.clientSecret, '••••••');
    assert.equal((await post('/api/settings', { crm: shown.crm })).status, 200);
    assert.equal((await post('/api/settings', { crm: { ...shown.crm, clientSecret: '', token: '' } })).status, 200);
    const kept = (await loadSettings(db.pool, 'default')).crm;
    assert.deepEqual([kept.clientSecret, kept.token], [SF_SECRET, SF_REFRESH], 'hidden or empty: the stored secrets are kept');

    const moved = await post('/api/settings', { crm: { ...shown.crm, baseUrl: 'http://127.0.0.1:9/elsewhere' } });
    assert.equal(moved.status, 422);
    assert.ok((moved.json.errors as Record<string, string>)['crm.token'], 'the stored refresh token is not sent to a new address');
    const movedWithToken = await post('/api/settings', { crm: { ...shown.crm, baseUrl: 'http://127.0.0.1:9/elsewhere', token: SF_REFRESH } });
    assert.equal(movedWithToken.status, 422);
    assert.ok((movedWithToken.json.errors as Record<string, string>)['crm.clientSecret'], 'nor is the stored consumer secret');
    const missing = await post('/api/settings', { crm: { kind: 'salesforce', baseUrl: o.url, token: 'x', clientId: '', clientSecret: 'y' } }, 'ro');
    assert.equal(missing.status, 422);
    assert.match((missing.json.errors as Record<string, string>)['crm.clientId']!, /cheia de consumator/);
    assert.equal((await post('/api/settings', { crm: { ...shown.crm, kind: '' } })).status, 200);
    const off = (await loadSettings(db.pool, 'default')).crm;
    assert.deepEqual([off.token, off.clientSecret, off.clientId], ['', undefined, undefined], 'turning the CRM off forgets them');
  });

  test('Salesforce: Test connection says exactly what is wrong, in the reader’s language', async () => {
    const good = await org();
    const revoked = await org();
    revoked.revokeRefreshToken();
    const noApiScope = await org({ scope: 'refresh_token id' });
    const apiOff = await org({ apiEnabled: false });
    const noTasks = await org({ permissions: { Task: { create: false } } });
    const noLeadRead = await org({ permissions: { Lead: { read: false } } });
    const noLeadCreate = await org({ permissions: { Lead: { create: false } } });
    const limited = await org({ dailyLimit: 0 });
    await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');
    const check = async (o: SalesforceOrg | string, crm: Record<string, unknown> = {}, lang: 'en' | 'ro' = 'en') => {
      const r = await post('/api/settings/crm-test', {
        crm: { kind: 'salesforce', baseUrl: typeof o === 'string' ? o : o.url, clientId: SF_KEY, clientSecret: SF_SECRET, token: SF_REFRESH, ...crm },
      }, lang);
      assert.equal(r.status, 200, r.text);
      for (const secret of [SF_SECRET, SF_REFRESH]) assert.ok(!r.text.includes(secret), 'the answer never holds a secret');
      return r.json as { ok: boolean; message: string };
    };
    assert.deepEqual(await check(good), { ok: true, message: 'Connected to Salesforce: the refresh token works and the user can read contacts and leads and create tasks.' });
    assert.deepEqual(await check(revoked), {
      ok: false,
      message: 'Salesforce refused the refresh token (invalid_grant: expired access/refresh token): it was revoked or has expired. Get a new one as docs/crm.md says and save it.',
    });
    assert.match((await check(revoked, {}, 'ro')).message, /^Salesforce a refuzat tokenul de reîmprospătare \(invalid_grant: expired access\/refresh token\)/);
    assert.equal((await check(good, { clientId: '3MVG9wrong' })).message, 'Salesforce does not know the consumer key (invalid_client_id): copy it again from the Connected App.');
    assert.equal((await check(good, { clientSecret: 'wrong' })).message, 'Salesforce refused the consumer secret (invalid_client): copy it again from the Connected App.');
    assert.match((await check(noApiScope)).message, /^The refresh token lacks the OAuth scope api/);
    assert.match((await check(await org({ rotateRefreshTokens: true }))).message, /^The Connected App rotates refresh tokens/);
    assert.match((await check(apiOff)).message, /^The Salesforce org does not allow API access \(API_DISABLED_FOR_ORG\)/);
    assert.match((await check(apiOff, {}, 'ro')).message, /^Organizația Salesforce nu permite accesul prin API \(API_DISABLED_FOR_ORG\)/);
    assert.match((await check(noTasks)).message, /^The Salesforce user cannot create and edit tasks: grant it “Edit Tasks”/);
    assert.equal((await check(noLeadRead)).message, 'The Salesforce user cannot read Lead records: grant it Read on Lead in its profile or a permission set.');
    assert.equal((await check(noLeadCreate)).ok, true, 'no lead is created unless the tenant asks for it');
    assert.match((await check(noLeadCreate, { createContact: true })).message, /^The Salesforce user cannot create leads/);
    assert.match((await check(limited)).message, /^The Salesforce org has used up its API requests \(REQUEST_LIMIT_EXCEEDED\): .* Salesforce said: TotalRequests Limit exceeded\.$/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    assert.match((await check(closedUrl)).message, new RegExp(`^Salesforce could not be reached at ${closedUrl}: ECONNREFUSED`));
    assert.match((await check(`${good.url}/not-the-login`)).message, /does not answer like a Salesforce login \(HTTP 404\): use the org’s My Domain address\./);
    const unnamed = await post('/api/settings/crm-test', { crm: { kind: 'salesforce', baseUrl: good.url, token: SF_REFRESH, clientId: SF_KEY } });
    assert.equal(unnamed.status, 422);
    assert.ok((unnamed.json.errors as Record<string, string>)['crm.clientSecret']);
    assert.equal((await loadSettings(db.pool, 'default')).crm.kind, '', 'nothing of a test is saved');
  });

  test('in the browser: choose Salesforce, its fields appear, Test connection (a wrong secret, then the right one), save; en and ro', async () => {
    const o = await org();
    await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');
    await db.pool.query('DELETE FROM smart_missed_calls_deliveries');
    const browser = await launchChromium();
    try {
      for (const lang of ['en', 'ro'] as const) {
        const { context, page } = await settingsPage(browser, lang);
        assert.equal(await page.isVisible('[name="crm-clientId"]'), false, 'no Salesforce fields while no CRM is chosen');
        await page.selectOption('[name="crm-kind"]', 'salesforce');
        await page.locator('[name="crm-clientId"]').waitFor({ state: 'visible' });
        await page.fill('[name="crm-baseUrl"]', o.url);
        await page.fill('[name="crm-clientId"]', SF_KEY);
        await page.fill('[name="crm-clientSecret"]', 'wrong');
        await page.fill('[name="crm-token"]', SF_REFRESH);
        await page.click('#smc-crm-test');
        await page.locator('#smc-crm-test-result.text-danger').waitFor();
        assert.match((await page.textContent('#smc-crm-test-result'))!, lang === 'en' ? /^Salesforce refused the consumer secret \(invalid_client\)/ : /^Salesforce a refuzat secretul de consumator \(invalid_client\)/);
        await page.fill('[name="crm-clientSecret"]', SF_SECRET);
        await page.click('#smc-crm-test');
        await page.locator('#smc-crm-test-result.text-success').waitFor();
        assert.match((await page.textContent('#smc-crm-test-result'))!, lang === 'en' ? /^Connected to Salesforce/ : /^Conectat la Salesforce/);
        await page.locator('#smc-crm').screenshot({ path: join(SCREENS, `${lang}-settings-crm-salesforce.png`) });
        await page.click('#smc-save');
        await page.locator('#smc-saved:not(:empty)').waitFor();
        const saved = { kind: 'salesforce', baseUrl: o.url, token: SF_REFRESH, clientId: SF_KEY, clientSecret: SF_SECRET, createContact: false };
        assert.deepEqual((await loadSettings(db.pool, 'default')).crm, saved);
        await reloadWithAssets(page);
        const html = await page.content();
        assert.ok(!html.includes(SF_SECRET) && !html.includes(SF_REFRESH), 'no secret in the page after saving');
        assert.equal(await page.inputValue('[name="crm-clientSecret"]'), '');
        assert.equal(await page.inputValue('[name="crm-clientId"]'), SF_KEY);
        // Saving again with both secret fields left empty keeps them.
        await page.check('[name="crm-createContact"]');
        await page.click('#smc-save');
        await page.locator('#smc-saved:not(:empty)').waitFor();
        assert.deepEqual((await loadSettings(db.pool, 'default')).crm, { ...saved, createContact: true });
        await saveSettings(db.pool, 'default', { crm: { kind: '', baseUrl: '', token: '' } }, 'test');
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });
});
