/**
 * Identity and tenancy on EVERY route, enumerated from the express router itself (a route
 * added later is checked without anyone remembering to): no identity, a forged signature
 * and a stale timestamp are 401; a viewer on a mutation is 403; a mutation without the
 * CSRF token is 403; another tenant's ids are 404 with nothing of theirs in the body; SQL
 * in every filter parameter gives ordinary answers; markup in caller names, notes, route
 * labels and settings comes back escaped.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { Express } from 'express';
import type { RowDataPacket } from 'mysql2/promise';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { ident } from '../../src/db/pool.js';
import { resolveEntry } from '../../src/ledger/actions.js';
import { Syncer } from '../../src/sync/cycle.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { routesOf, type Route } from '../helpers/app-routes.js';
import { PastCalls } from '../helpers/past-calls.js';

const SECRET = 'web-security-secret-0123456789abcdef';
const XSS = {
  name: '<img src=x onerror=alert("name")>',
  note: '<script>alert("note")</script>',
  label: '<svg onload=alert("label")>',
  template: 'https://crm.example.com/lookup?n={number}&x=<script>alert("setting")</script>',
};
const SQLI = [`' OR '1'='1`, `1; DROP TABLE smart_missed_calls; --`, `" UNION SELECT password FROM mysql.user --`, `\\' OR 1=1 #`, `%' AND SLEEP(5) AND '%'='`];
const FILTERS = ['status', 'from', 'to', 'route', 'did', 'ext', 'q', 'sort', 'dir', 'page', 'tenant', 'calls', 'loss', 'conversion', 'value', 'recovery'];

const model = demoPbx();
let db: FreshDatabases;
let sync: SyncService;
let server: Server;
let base: string;
let app: Express;
let own: number;
let theirs: number;

before(async () => {
  db = await freshDatabases('websec');
  await writePbxTables(db.pool, db.names.pbx, model);
  await db.pool.query(`UPDATE ${ident(db.names.pbx)}.queues_config SET descr = ?`, [XSS.label]);
  const config: Config = { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 }, server: { ...db.config.server, secret: SECRET },
    // An AMI nobody listens on: the callback route gets as far as looking the entry up.
    ami: { host: '127.0.0.1', port: 9, user: 'smc', secret: 'unused' } };
  const calls = new PastCalls(db.pool, db.names.cdr, model);
  await calls.insert('queue_missed', { caller: { number: '0722000801', name: XSS.name }, did: '0215550100', attempt: 1 }, 900);
  await new Syncer(db.pool, config).cycle();
  await calls.insert('queue_missed', { caller: { number: '0722000802', name: 'Other Tenant Caller' }, did: '0215550100', attempt: 1 }, 600);
  await new Syncer(db.pool, config, () => 'other').cycle();
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT id, tenant FROM smart_missed_calls');
  own = Number(rows.find((r) => r.tenant === 'default')!.id);
  theirs = Number(rows.find((r) => r.tenant === 'other')!.id);
  await resolveEntry(db.pool, db.auditKey, 'default', own, 'ana', XSS.note);
  await saveSettings(db.pool, 'default', { lookupUrlTemplate: XSS.template }, 'test');
  sync = new SyncService(db.pool, config);
  app = createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await db?.cleanup();
});

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function who(role: Identity['role'], tenant = 'default', ts = Math.floor(Date.now() / 1000)): Identity {
  return { user: role === 'viewer' ? 'vera' : 'ana', tenant, role, lang: 'en', ts };
}

function identityHeaders(identity: Identity, secret = SECRET): Record<string, string> {
  const signed = signIdentity(secret, identity);
  return { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature };
}

function csrfFor(identity: Identity): string {
  return csrfToken(SECRET, `pbx\n${identity.user}\n${identity.tenant}\n${identity.role}`);
}

async function call(route: Route, path: string, headers: Record<string, string>, body: Record<string, unknown> = {}): Promise<{ status: number; text: string }> {
  const controller = new AbortController();
  const res = await fetch(base + path, {
    method: route.method,
    headers: { ...headers, ...(MUTATING.has(route.method) ? { 'content-type': 'application/json' } : {}), accept: 'text/html,application/json' },
    body: MUTATING.has(route.method) ? JSON.stringify(body) : undefined,
    redirect: 'manual',
    signal: controller.signal,
  });
  // The event stream never ends by itself: its status is all we need.
  const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? '' : await res.text();
  controller.abort();
  return { status: res.status, text };
}

const concrete = (path: string, id: number) => path.replace(/:id\b/g, String(id));

test('every route: identity, role, CSRF, tenancy, SQL in filters and markup, checked route by route', { timeout: 180_000 }, async () => {
  const routes = routesOf((app as unknown as { router: unknown }).router);
  const methods = new Set(routes.map((r) => r.method));
  assert.ok(routes.length >= 15 && methods.has('GET') && methods.has('POST'), `routes found: ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  // /internal/login answers only a body signed with server.secret (test/vitalpbx.test.ts), no identity.
  const publicRoutes = routes.filter((r) => r.path === '/login' || r.path === '/internal/login' || r.path.startsWith('/assets/'));
  // A wallboard's link is its own credential (docs/team.md): no identity is asked, and a token
  // that is no link's gets 403 however the request is signed.
  const wallboardRoutes = routes.filter((r) => r.path.startsWith('/wallboard/'));
  assert.ok(wallboardRoutes.length > 0, 'the wallboard routes are found');
  for (const route of wallboardRoutes) {
    const path = route.path.replace(':token', 'not-a-link-0123456789abcdefghijklmnopqrstuv');
    assert.equal((await call(route, path, {})).status, 403, `${route.method} ${route.path} with a token that is no link's`);
    assert.equal((await call(route, path, identityHeaders(who('superadmin')))).status, 403, `${route.method} ${route.path}: an identity does not stand in for the link`);
  }
  const guarded = routes.filter((r) => !publicRoutes.includes(r) && !wallboardRoutes.includes(r));

  for (const route of guarded) {
    const path = concrete(route.path, own);
    const name = `${route.method} ${route.path}`;
    assert.equal((await call(route, path, {})).status, 401, `${name} without identity`);
    assert.equal((await call(route, path, identityHeaders(who('admin'), 'forged-secret-forged-secret-0000'))).status, 401, `${name} with a forged signature`);
    assert.equal((await call(route, path, identityHeaders(who('admin', 'default', Math.floor(Date.now() / 1000) - 3600)))).status, 401, `${name} with a stale timestamp`);
    const tampered = identityHeaders(who('viewer'));
    const asAdmin = Buffer.from(JSON.stringify(who('superadmin')), 'utf8').toString('base64url');
    assert.equal((await call(route, path, { ...tampered, 'x-smc-identity': asAdmin })).status, 401, `${name} with a payload swapped under a valid signature`);
    if (MUTATING.has(route.method)) {
      const viewer = who('viewer');
      const refused = await call(route, path, { ...identityHeaders(viewer), 'x-csrf-token': csrfFor(viewer) }, { note: 'x', _csrf: csrfFor(viewer) });
      assert.equal(refused.status, 403, `${name} as a viewer`);
      const admin = who('admin');
      const noCsrf = await call(route, path, identityHeaders(admin), { note: 'x' });
      assert.equal(noCsrf.status, 403, `${name} without the CSRF token`);
      assert.match(noCsrf.text, /csrf/i);
      const otherUsersToken = await call(route, path, { ...identityHeaders(admin), 'x-csrf-token': csrfFor(who('admin', 'other')) }, { note: 'x' });
      assert.equal(otherUsersToken.status, 403, `${name} with another identity's CSRF token`);
    }
    if (route.path.includes(':id')) {
      const admin = who('admin');
      const res = await call(route, concrete(route.path, theirs), { ...identityHeaders(admin), 'x-csrf-token': csrfFor(admin) }, { note: 'mine now', ext: '101', _csrf: csrfFor(admin) });
      assert.equal(res.status, 404, `${name} with another tenant's id`);
      assert.doesNotMatch(res.text, /0722000802|722000802|Other Tenant Caller/, `${name} leaks nothing of the other tenant`);
    }
  }
  const [[stillOpen]] = (await db.pool.query<RowDataPacket[]>('SELECT status, note FROM smart_missed_calls WHERE id = ?', [theirs])) as unknown as [[{ status: string; note: string | null }]];
  assert.deepEqual({ ...stillOpen }, { status: 'open', note: null }, "the other tenant's entry was not touched");

  // SQL in every filter parameter of every page and API that reads: ordinary answers, nothing broken.
  const admin = identityHeaders(who('admin'));
  const [[{ before }]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS `before` FROM smart_missed_calls')) as unknown as [[{ before: number }]];
  let injected = 0;
  for (const route of guarded.filter((r) => r.method === 'GET' && r.path !== '/api/events')) {
    for (const param of FILTERS) {
      for (const sql of SQLI) {
        const res = await call(route, `${concrete(route.path, own)}?${param}=${encodeURIComponent(sql)}`, admin);
        injected += 1;
        assert.ok([200, 303].includes(res.status), `${route.method} ${route.path}?${param}=${sql}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.doesNotMatch(res.text, /SQL syntax|ER_[A-Z_]+_ERROR|ER_BAD_|Other Tenant Caller/);
      }
    }
  }
  const [[{ after: count }]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS `after` FROM smart_missed_calls')) as unknown as [[{ after: number }]];
  assert.equal(Number(count), Number(before));

  // Markup comes back as text wherever it is shown.
  const pages = [`/entries?status=all`, `/entries/${own}`, '/settings', '/dashboard'];
  const html = (await Promise.all(pages.map((p) => call({ method: 'GET', path: p }, p, admin)))).map((r) => r.text).join('\n');
  for (const [what, payload] of Object.entries(XSS)) {
    assert.ok(!html.includes(payload), `the ${what} is never written into a page as markup`);
  }
  for (const escaped of ['&lt;img src=x onerror=alert(', '&lt;script&gt;alert(', '&lt;svg onload=alert(']) assert.ok(html.includes(escaped), `${escaped} shown as text`);
  console.log(`web security: ${routes.length} routes enumerated from the router (${guarded.length} guarded, ${publicRoutes.length} public: ${publicRoutes.map((r) => `${r.method} ${r.path}`).join(', ')}); ${injected} SQL-injection requests`);
});
