/**
 * Every invalid setting is refused with its field named and nothing of the change saved:
 * every tenant setting through the API, every config.yaml field through loadConfig. The
 * lists are checked against DEFAULT_SETTINGS and DEFAULT_CONFIG, so a setting added later
 * without a refusal case fails here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, DEFAULT_CONFIG, DEFAULT_SETTINGS, type Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';

const SECRET = 'config-refusal-secret-0123456789abcdef';
let db: FreshDatabases;
let server: Server;
let base: string;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-refuse-'));
  db = await freshDatabases('refuse');
  const config: Config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
  const app = createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot() });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await db?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** One invalid value per tenant setting. */
const BAD_SETTINGS: Record<keyof typeof DEFAULT_SETTINGS, unknown> = {
  cadence: 'sometimes',
  recipients: ['ops@example.com', 'not an address'],
  realtimeDedupeMinutes: -1,
  maxEmailsPerHour: 0,
  retentionDays: 'forever',
  clearAcrossDids: 'perhaps',
  clearAcrossPbxs: 'perhaps',
  queueAbandonMinWait: 999_999,
  countIvrAbandon: 'perhaps',
  defaultCountry: 'Romania',
  outboundPrefixes: ['9', '9x'],
  matchDigits: 3,
  timezone: 'Mars/Olympus_Mons',
  language: 'fr',
  webhooks: [{ url: 'ftp://files.example.com/', secret: 'long-enough-secret-123', events: ['entry.created'] }],
  lookupUrlTemplate: 'javascript:alert(1)',
  historyDays: 0,
  claimMinutes: 0,
  callbackTargetMinutes: 20_000,
  callbackTargetRoutes: 'queue:400 = ten',
  businessHours: 'mon-fri 17:00-09:00',
  escalationThresholds: [1, 0],
  escalationRecipients: ['boss@example.com', 'boss at example'],
  lampEnabled: 'perhaps',
  lampScope: 'everywhere',
  crm: { kind: 'hubspot', baseUrl: '', token: 'pat-na1-0000' },
};

test('every tenant setting: an invalid value is refused by the API with its field named, and nothing of the change is saved', async () => {
  assert.deepEqual(Object.keys(BAD_SETTINGS).sort(), Object.keys(DEFAULT_SETTINGS).sort(), 'a refusal case for every setting');
  const saved = await saveSettings(db.pool, 'default', { cadence: 'daily', recipients: ['ops@example.com'], matchDigits: 9 }, 'test');
  const admin = { user: 'ana', tenant: 'default', role: 'admin' as const, lang: 'en' as const, ts: 0 };
  const settingsNow = async () => (await (await fetch(`${base}/api/settings`, { headers: headers() })).json()) as Record<string, unknown>;
  function headers(): Record<string, string> {
    const signed = signIdentity(SECRET, { ...admin, ts: Math.floor(Date.now() / 1000) });
    return {
      'x-smc-identity': signed.header, 'x-smc-signature': signed.signature, 'content-type': 'application/json',
      'x-csrf-token': csrfToken(SECRET, `pbx\nana\ndefault\nadmin`),
    };
  }
  assert.deepEqual(await settingsNow(), JSON.parse(JSON.stringify(saved)));
  for (const [field, bad] of Object.entries(BAD_SETTINGS)) {
    // A valid change next to the bad one: it must not be saved either.
    const res = await fetch(`${base}/api/settings`, { method: 'POST', headers: headers(), body: JSON.stringify({ cadence: 'weekly', matchDigits: 10, [field]: bad }) });
    assert.equal(res.status, 422, `${field}: ${res.status}`);
    const { errors } = (await res.json()) as { errors: Record<string, string> };
    assert.ok(Object.keys(errors).some((k) => k === field || k.startsWith(`${field}.`)), `${field} is named: ${JSON.stringify(errors)}`);
    assert.deepEqual(await settingsNow(), JSON.parse(JSON.stringify(saved)), `${field}: nothing half-saved`);
  }
  const unknown = await fetch(`${base}/api/settings`, { method: 'POST', headers: headers(), body: JSON.stringify({ cadence: 'weekly', colour: 'red' }) });
  assert.equal(unknown.status, 422, 'an unknown setting is refused too');
  assert.deepEqual(await settingsNow(), JSON.parse(JSON.stringify(saved)));
});

/** Leaf fields of the config with the YAML path that names them. */
function leaves(value: Record<string, unknown>, path = ''): { path: string; value: unknown }[] {
  return Object.entries(value).flatMap(([key, v]) => {
    const at = (path ? `${path}.` : '') + key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? leaves(v as Record<string, unknown>, at) : [{ path: at, value: v }];
  });
}

const BAD_CONFIG: Record<string, unknown> = {
  pbx: 'asterisk',
  pbx_id: 'two words',
  'group.nodes': [{ host: 'node one' }],
  'group.database': 'a-b',
  'group.tls.ca': 'relative/ca.pem',
  'group.tls.cert': 'relative/cert.pem',
  'group.tls.key': 'relative/key.pem',
  'db.database': 'smc; DROP DATABASE asterisk',
  'db.cdr_database': 'a-b',
  'db.cdr_table': 'cdr`',
  'db.cel_table': 'cel table',
  'db.pbx_database': '../etc',
  'server.listen': '0.0.0.0:8093',
  'server.users': [{ user: 'ana', password: 'x', role: 'god' }],
  'sync.interval_seconds': 0,
  'sync.settle_seconds': -1,
  'sync.hot_window_seconds': 5,
  'sync.max_call_seconds': 10,
  'sync.full_scan_every_seconds': 1,
  'sync.extensions': '100-, abc',
  'mail.transport': 'pigeon',
  'mail.secure': 'perhaps',
  log_level: 'loud',
};

test('every config.yaml field: an invalid value is refused with the field named', () => {
  const refusedAs = (doc: Record<string, unknown>): string => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, stringify(doc));
    try {
      loadConfig({ path: file, env: {} });
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.field;
    }
    throw new Error(`${JSON.stringify(doc)} was accepted`);
  };
  const fields = leaves(DEFAULT_CONFIG as unknown as Record<string, unknown>);
  assert.ok(fields.length > 30);
  for (const { path, value } of fields) {
    // Specific bad values where the field has rules; otherwise a value of the wrong type.
    const bad = path in BAD_CONFIG ? BAD_CONFIG[path] : typeof value === 'number' ? 'many' : typeof value === 'boolean' ? 'perhaps' : Array.isArray(value) ? 'not a list' : { not: 'text' };
    const doc: Record<string, unknown> = {};
    const parts = path.split('.');
    let at = doc;
    for (const p of parts.slice(0, -1)) at = (at[p] = {}) as Record<string, unknown>;
    at[parts.at(-1)!] = bad;
    const field = refusedAs(doc);
    assert.ok(field === path || field.startsWith(`${path}[`) || field.startsWith(`${path}.`), `${path}: refused as ${field}`);
  }
  assert.equal(refusedAs({ sync: { interval_seconds: 2, colour: 'red' } }), 'sync.colour');
  assert.throws(() => loadConfig({ env: { SMC_CONFIG_SEARCH: '', SMC_SYNC_INTERVAL_SECONDS: '0' } }), (err: unknown) => err instanceof ConfigError && err.field === 'sync.interval_seconds');
});
