import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { loadSettings, saveSettings } from '../../src/config/settings-store.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'settings-test-secret-0123456789ab';
const HOOK_SECRET = 'hook-signing-key-Q7w9zX2r';
const LOOKUP_TOKEN = 'lookup-api-key-M4p8vK1t';
const LOOKUP_URL = `https://crm.example/find?n={number}&key=${LOOKUP_TOKEN}`;
const HOOK_URL = 'https://hooks.example/smc?sig=hook-url-token-T5b3';

describe('settings API', () => {
  let db: FreshDatabases;
  let server: Server;
  let base: string;

  before(async () => {
    db = await freshDatabases('websettings');
    const config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
    const sync = new SyncService(db.pool, config);
    ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.cleanup();
  });

  function as(role: Identity['role'], extra: Record<string, string> = {}): Record<string, string> {
    const signed = signIdentity(SECRET, { user: 'ana', tenant: 'default', role, lang: 'en', ts: Math.floor(Date.now() / 1000) });
    return {
      'x-smc-identity': signed.header,
      'x-smc-signature': signed.signature,
      'x-csrf-token': csrfToken(SECRET, `pbx\nana\ndefault\n${role}`),
      ...extra,
    };
  }

  async function post(body: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
    const res = await fetch(`${base}/api/settings`, {
      method: 'POST',
      headers: as('admin', { 'content-type': contentType }),
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }

  async function withSecrets(): Promise<void> {
    await saveSettings(db.pool, 'default', {
      lookupUrlTemplate: LOOKUP_URL,
      webhooks: [{ url: HOOK_URL, secret: HOOK_SECRET, events: ['entry.created'] }],
    }, 'test');
  }

  function assertNoSecret(text: string, where: string): void {
    for (const secret of [HOOK_SECRET, LOOKUP_TOKEN, 'hook-url-token-T5b3']) assert.ok(!text.includes(secret), `${where} shows ${secret}`);
  }

  test('no secret reaches a viewer or an admin, in JSON or in the page', async () => {
    await withSecrets();
    for (const role of ['viewer', 'admin', 'superadmin'] as const) {
      const json = await fetch(`${base}/api/settings`, { headers: as(role) });
      assert.equal(json.status, 200);
      const text = await json.text();
      assertNoSecret(text, `GET /api/settings as ${role}`);
      const hooks = (JSON.parse(text) as { webhooks: { secretSet: boolean; events: string[] }[] }).webhooks;
      assert.equal(hooks.length, 1);
      assert.equal(hooks[0]!.secretSet, true, `${role} is told the secret is set`);
      const page = await fetch(`${base}/settings`, { headers: as(role) });
      assert.equal(page.status, 200);
      assertNoSecret(await page.text(), `the settings page as ${role}`);
    }
    const saved = await post({ cadence: 'weekly' });
    assert.equal(saved.status, 200);
    assertNoSecret(saved.text, 'the answer to a save');
  });

  test('saving back what the page shows keeps the secrets; a new secret replaces, an emptied URL clears', async () => {
    await withSecrets();
    const shown = (await (await fetch(`${base}/api/settings`, { headers: as('admin') })).json()) as Record<string, unknown> & {
      webhooks: { ref: number; url: string; events: string[] }[];
    };
    // What the page's script posts: every field as shown, the secret input left empty.
    const form = { ...shown, webhooks: shown.webhooks.map((h) => ({ ref: h.ref, url: h.url, secret: '', events: h.events })) };
    assert.equal((await post(form)).status, 200);
    let stored = await loadSettings(db.pool, 'default');
    assert.equal(stored.lookupUrlTemplate, LOOKUP_URL);
    assert.deepEqual(stored.webhooks, [{ url: HOOK_URL, secret: HOOK_SECRET, events: ['entry.created'] }]);

    const replaced = { ...form, webhooks: [{ ...form.webhooks[0], secret: 'another-signing-key-0001' }] };
    assert.equal((await post(replaced)).status, 200);
    stored = await loadSettings(db.pool, 'default');
    assert.equal(stored.webhooks[0]!.secret, 'another-signing-key-0001');
    assert.equal(stored.webhooks[0]!.url, HOOK_URL);

    // A hidden part edited around is refused by name rather than stored as bullets.
    const edited = await post({ lookupUrlTemplate: String(shown.lookupUrlTemplate).replace('crm.example', 'crm2.example') });
    assert.equal(edited.status, 422);
    assert.ok((JSON.parse(edited.text) as { errors: Record<string, string> }).errors.lookupUrlTemplate);

    assert.equal((await post({ lookupUrlTemplate: '', webhooks: [] })).status, 200);
    stored = await loadSettings(db.pool, 'default');
    assert.equal(stored.lookupUrlTemplate, '');
    assert.deepEqual(stored.webhooks, []);
  });

  test('a partial JSON update changes only the fields it names; a form post turns unticked boxes off', async () => {
    await saveSettings(db.pool, 'default', { clearAcrossDids: true, countIvrAbandon: true, cadence: 'hourly' }, 'test');
    assert.equal((await post({ cadence: 'daily' })).status, 200);
    let stored = await loadSettings(db.pool, 'default');
    assert.equal(stored.cadence, 'daily');
    assert.equal(stored.clearAcrossDids, true);
    assert.equal(stored.countIvrAbandon, true);

    // An HTML form leaves unticked checkboxes out of its body: there, absent means off.
    const csrf = csrfToken(SECRET, 'pbx\nana\ndefault\nadmin');
    assert.equal((await post(`cadence=weekly&countIvrAbandon=true&_csrf=${csrf}`, 'application/x-www-form-urlencoded')).status, 200);
    stored = await loadSettings(db.pool, 'default');
    assert.equal(stored.cadence, 'weekly');
    assert.equal(stored.countIvrAbandon, true);
    assert.equal(stored.clearAcrossDids, false);
    assert.equal(stored.clearAcrossPbxs, false);
  });

  test('the lamp: off by default on the page with the device names its keys watch; saved from the form and from JSON; a bad scope named', async () => {
    const page = await (await fetch(`${base}/settings`, { headers: as('admin') })).text();
    assert.match(page, /<input type="checkbox" id="smc-lampEnabled" name="lampEnabled" value="true">/, 'the toggle, unticked');
    assert.match(page, /<option value="tenant" selected>One lamp for the tenant<\/option>/);
    assert.ok(page.includes('Custom:SMC (every call of this tenant)') && page.includes('Custom:SMC_queue_400'), 'the device names are shown');
    const csrf = csrfToken(SECRET, 'pbx\nana\ndefault\nadmin');
    assert.equal((await post(`lampEnabled=true&lampScope=route&_csrf=${csrf}`, 'application/x-www-form-urlencoded')).status, 200);
    let stored = await loadSettings(db.pool, 'default');
    assert.equal(stored.lampEnabled, true);
    assert.equal(stored.lampScope, 'route');
    assert.match(await (await fetch(`${base}/settings`, { headers: as('admin') })).text(), /id="smc-lampEnabled" name="lampEnabled" value="true" checked>/);
    // Unticked: left out of a form's body, so off.
    assert.equal((await post(`lampScope=both&_csrf=${csrf}`, 'application/x-www-form-urlencoded')).status, 200);
    stored = await loadSettings(db.pool, 'default');
    assert.equal(stored.lampEnabled, false);
    assert.equal(stored.lampScope, 'both');
    assert.equal((await post({ lampEnabled: true })).status, 200);
    assert.equal((await loadSettings(db.pool, 'default')).lampEnabled, true);
    const bad = await post({ lampScope: 'floor' });
    assert.equal(bad.status, 422);
    assert.match((JSON.parse(bad.text) as { errors: Record<string, string> }).errors.lampScope!, /must be one of tenant, route, both/);
    await saveSettings(db.pool, 'default', { lampEnabled: false, lampScope: 'tenant' }, 'test');
  });

  test('keys named like Object methods and oversized values get a field error, not 503', async () => {
    const before = await loadSettings(db.pool, 'default');
    const cases: [string, string, string][] = [
      ['{"toString":"x"}', 'toString', 'an inherited method name'],
      ['{"hasOwnProperty":1}', 'hasOwnProperty', 'an inherited method name'],
      ['{"__proto__":{"cadence":"off"}}', '__proto__', 'the prototype key'],
      ['{"constructor":"x"}', 'constructor', 'the constructor key'],
      [JSON.stringify({ recipients: Array.from({ length: 5000 }, (_, i) => `person${i}@example.com`) }), 'recipients', '5,000 recipients'],
      [JSON.stringify({ recipients: [`${'a'.repeat(300)}@example.com`] }), 'recipients', 'a 300-character address'],
      [JSON.stringify({ timezone: 'E'.repeat(10_000) }), 'timezone', 'a 10,000-character time zone'],
      [JSON.stringify({ lookupUrlTemplate: `https://crm.example/?n={number}&pad=${'x'.repeat(5000)}` }), 'lookupUrlTemplate', 'a 5,000-character URL'],
      [JSON.stringify({ outboundPrefixes: Array.from({ length: 500 }, () => '9') }), 'outboundPrefixes', '500 prefixes'],
      [JSON.stringify({ webhooks: Array.from({ length: 50 }, (_, i) => ({ url: `https://h.example/${i}`, secret: 'a-signing-secret-0001' })) }), 'webhooks', '50 webhooks'],
      [JSON.stringify({ webhooks: [{ url: 'https://h.example/', secret: 's'.repeat(5000) }] }), 'webhooks.0.secret', 'a 5,000-character secret'],
      [JSON.stringify({ webhooks: [{ url: 'https://h.example/', secret: 'a-signing-secret-0001', events: Array.from({ length: 3000 }, () => 'entry.created') }] }), 'webhooks.0.events', '3,000 events'],
    ];
    for (const [body, field, what] of cases) {
      const answer = await post(body);
      assert.equal(answer.status, 422, `${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
      const errors = (JSON.parse(answer.text) as { errors: Record<string, unknown> }).errors;
      assert.equal(typeof Object.getOwnPropertyDescriptor(errors, field)?.value, 'string', `${what}: no message for ${field} in ${answer.text.slice(0, 300)}`);
    }
    assert.deepEqual(await loadSettings(db.pool, 'default'), before, 'a refused change saved something');
  });
});
