/**
 * Tenant and PBX isolation of the group view, on EVERY route (enumerated from the router, so
 * a route added later is checked too). One ledger holds two tenants' rows of three PBXs, as a
 * group's cluster does: alpha's at bucharest and cluj, beta's at bucharest, cluj and
 * timisoara (a PBX only beta's rows carry). The service is bucharest's, in group mode.
 *
 * Whatever `pbx` a request names (none, all, one of alpha's, beta's own, a made-up one, SQL),
 * alpha's viewer gets an ordinary answer (no 500) holding nothing of beta's, of any PBX; the
 * FreePBX page shows bucharest's list unless asked for more; actions on cluj's entries are
 * refused here. Without `group`, the pages are a single PBX's: no PBX filter, `pbx` ignored.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Express } from 'express';
import type { RowDataPacket } from 'mysql2/promise';
import { checkGroup, ConfigError, type Config } from '../../src/config/schema.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { Catalogues } from '../../src/web/i18n.js';
import { pbxView } from '../../src/web/pbx-view.js';
import { bindTenant } from '../../src/web/tenant-scope.js';
import { tokenHash } from '../../src/web/wallboard-links.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { routesOf } from '../helpers/app-routes.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { eventually } from '../helpers/serve-process.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'group-view-secret-0123456789abcdef';
/** Alpha's callers, one per PBX; beta's, one per PBX. Beta's must never reach alpha's pages. */
const ALPHA = { bucharest: '0722100001', cluj: '0722100002' };
const BETA = { bucharest: '0733100003', cluj: '0733100004', timisoara: '0733100005' };
const BETA_TRACES = [...Object.values(BETA).flatMap((n) => [n, n.slice(1)]), 'timisoara'];
const PBX_PARAMS = ['', 'all', 'bucharest', 'cluj', 'timisoara', 'nowhere', "' OR '1'='1", 'all,cluj', 'cluj%00', '*'];
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Alpha's wallboard link at bucharest: the board's routes are tried with it (a token is its tenant's credential). */
const ALPHA_BOARD = 'A'.repeat(43);

describe('group view', () => {
  let db: FreshDatabases;
  const pools: Record<string, Pool> = {};
  const ids: Record<string, number> = {};
  let app: Express;
  let server: Server;
  let plain: Server;
  let base: string;
  let plainBase: string;

  before(async () => {
    db = await freshDatabases('webgroup');
    for (const pbx of ['bucharest', 'cluj', 'timisoara']) pools[pbx] = createPool(db.config.db, 4, { pbxId: pbx });
    const at = '2026-11-20 10:00:00';
    for (const [pbx, caller] of Object.entries(ALPHA)) {
      ids[`alpha@${pbx}`] = (await record(pools[pbx]!, 'alpha', [callVerdict('missed', { caller, at })])).events[0]!.entry.id!;
    }
    for (const [pbx, caller] of Object.entries(BETA)) {
      ids[`beta@${pbx}`] = (await record(pools[pbx]!, 'beta', [callVerdict('missed', { caller, at, name: 'Beta Caller' })])).events[0]!.entry.id!;
    }
    // Link ids far from the entries' ids: a route's :id tried with an entry's id names no link.
    await pools.bucharest!.query('ALTER TABLE smart_missed_calls_wallboards AUTO_INCREMENT = 100000');
    await pools.bucharest!.query(
      "INSERT INTO smart_missed_calls_wallboards (tenant, pbx, label, token_hash, created_at, created_by) VALUES ('alpha', @smc_pbx, 'TV', ?, NOW(), 'ana'), ('beta', @smc_pbx, 'TV', ?, NOW(), 'bo')",
      [tokenHash(ALPHA_BOARD), tokenHash('B'.repeat(43))],
    );
    const single: Config = {
      ...db.config, pbxId: 'bucharest', server: { ...db.config.server, secret: SECRET },
      // An AMI nobody listens on: the call-back route gets as far as looking the entry up.
      ami: { host: '127.0.0.1', port: 9, user: 'smc', secret: 'unused' },
    };
    // Group mode: the cluster is the test's MariaDB, which the app's bucharest pool already reaches.
    const group: Config = { ...single, group: { ...single.group, nodes: [{ host: '', port: 3306, socket: db.socket }], user: 'root', database: db.config.db.database } };
    app = createApp({ pool: pools.bucharest!, config: group, sync: new SyncService(pools.bucharest!, group), moduleDir: repoRoot() });
    ({ server } = await listenOnLoopback(app));
    ({ server: plain } = await listenOnLoopback(createApp({ pool: pools.bucharest!, config: single, sync: new SyncService(pools.bucharest!, single), moduleDir: repoRoot() })));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    plainBase = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of [server, plain]) {
      s?.closeAllConnections();
      await new Promise((r) => s?.close(r));
    }
    for (const pool of Object.values(pools)) await pool.end();
    await db?.cleanup();
  });

  function identity(tenant: string, role: Identity['role'] = 'admin', lang: Identity['lang'] = 'en'): Identity {
    return { user: 'ana', tenant, role, lang, ts: Math.floor(Date.now() / 1000) };
  }

  function headers(who: Identity): Record<string, string> {
    const signed = signIdentity(SECRET, who);
    return { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature, 'x-csrf-token': csrfToken(SECRET, `pbx\n${who.user}\n${who.tenant}\n${who.role}`) };
  }

  async function call(method: string, url: string, who: Identity, body: Record<string, unknown> = {}): Promise<{ status: number; text: string }> {
    const controller = new AbortController();
    const res = await fetch(url, {
      method,
      headers: { ...headers(who), ...(MUTATING.has(method) ? { 'content-type': 'application/json' } : {}), accept: 'text/html,application/json' },
      body: MUTATING.has(method) ? JSON.stringify(body) : undefined,
      redirect: 'manual',
      signal: controller.signal,
    });
    // The event stream never ends by itself: its status is all it can tell here.
    const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? '' : await res.text();
    controller.abort();
    return { status: res.status, text };
  }

  interface OpenStream {
    text: () => string;
    close: () => void;
  }

  async function openStream(url: string, who: Identity): Promise<OpenStream> {
    const controller = new AbortController();
    const res = await fetch(url, { headers: headers(who), signal: controller.signal });
    assert.equal(res.status, 200);
    let text = '';
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of res.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
      } catch {
        /* closed by the test */
      }
    })();
    return { text: () => text, close: () => controller.abort() };
  }

  const withPbx = (path: string, pbx: string) => (pbx === '' ? path : `${path}${path.includes('?') ? '&' : '?'}pbx=${encodeURIComponent(pbx)}`);
  const listIds = async (url: string, who = identity('alpha')) => {
    const res = await call('GET', url, who);
    assert.equal(res.status, 200, `${url}: ${res.text.slice(0, 200)}`);
    return (JSON.parse(res.text) as { entries: { id: number; pbx: string }[] }).entries.map((e) => `${e.pbx}:${e.id}`).sort();
  };
  const entryOf = (key: string) => `${key.split('@')[1]}:${ids[key]}`;

  test('every route, with every pbx parameter: an ordinary answer, and nothing of another tenant of any PBX', { timeout: 240_000 }, async () => {
    const routes = routesOf((app as unknown as { router: unknown }).router);
    const guarded = routes.filter((r) => r.path !== '/login' && r.path !== '/internal/login' && !r.path.startsWith('/assets/'));
    assert.ok(guarded.length >= 15, `routes found: ${guarded.map((r) => `${r.method} ${r.path}`).join(', ')}`);
    const before = await entryStates();
    let requests = 0;
    for (const route of guarded) {
      const name = `${route.method} ${route.path}`;
      // A route on an entry is tried with alpha's entry of the other PBX and with each of beta's.
      const targets = route.path.includes(':id') ? ['alpha@cluj', 'beta@bucharest', 'beta@cluj', 'beta@timisoara'] : [''];
      for (const target of targets) {
        const path = (target ? route.path.replace(/:id\b/g, String(ids[target])) : route.path).replace(':token', ALPHA_BOARD);
        for (const pbx of PBX_PARAMS) {
          const res = await call(route.method, base + withPbx(path, pbx), identity('alpha'), { note: 'mine now', ext: '101', since: '2026-11-01' });
          requests += 1;
          const label = `${name} (${target || 'no id'}, pbx=${JSON.stringify(pbx)})`;
          assert.ok(res.status < 500, `${label}: ${res.status} ${res.text.slice(0, 300)}`);
          // A PBX only beta's rows carry is named only where the request named it (links keep the view asked for).
          for (const trace of BETA_TRACES.filter((x) => !pbx.includes(x))) assert.ok(!res.text.includes(trace), `${label} leaks ${trace}`);
          assert.doesNotMatch(res.text, /Beta Caller|SQL syntax|\bER_[A-Z_]+/, label);
          if (target.startsWith('beta@')) assert.equal(res.status, 404, `${label}: another tenant's entry does not exist here`);
          if (route.path.startsWith('/wallboard/')) assert.equal(res.status, 200, `${label}: alpha's board opens with its link`);
          if (target === 'alpha@cluj' && MUTATING.has(route.method)) assert.ok([403, 404].includes(res.status), `${label}: no action on another PBX's entry (${res.status})`);
        }
      }
    }
    assert.deepEqual(await entryStates(), before, 'no entry of any tenant or PBX was changed');
    const [links] = await pools.bucharest!.query<RowDataPacket[]>('SELECT tenant FROM smart_missed_calls_wallboards WHERE revoked_at IS NULL ORDER BY tenant');
    assert.deepEqual(links.map((l) => l.tenant), ['alpha', 'beta'], 'no wallboard link was revoked');
    console.log(`group view: ${guarded.length} routes × ${PBX_PARAMS.length} pbx parameters, ${requests} requests`);
  });

  async function entryStates() {
    const [rows] = await pools.bucharest!.query<RowDataPacket[]>('SELECT id, pbx, tenant, status, note FROM smart_missed_calls ORDER BY id');
    return rows.map((r) => ({ ...r }));
  }

  test("the FreePBX page shows this PBX's list by default, the group's or another PBX's when asked, never another tenant's", async () => {
    assert.deepEqual(await listIds(`${base}/api/entries?status=all`), [entryOf('alpha@bucharest')]);
    assert.deepEqual(await listIds(`${base}/api/entries?status=all&pbx=all`), [entryOf('alpha@bucharest'), entryOf('alpha@cluj')].sort());
    assert.deepEqual(await listIds(`${base}/api/entries?status=all&pbx=cluj`), [entryOf('alpha@cluj')]);
    // A PBX only beta's rows carry, a made-up one: nothing, as if it had no rows at all.
    assert.deepEqual(await listIds(`${base}/api/entries?status=all&pbx=timisoara`), []);
    assert.deepEqual(await listIds(`${base}/api/entries?status=all&pbx=nowhere`), []);
    // Beta sees beta's, of every PBX, and never alpha's.
    assert.deepEqual(await listIds(`${base}/api/entries?status=all&pbx=all`, identity('beta')), ['bucharest', 'cluj', 'timisoara'].map((p) => entryOf(`beta@${p}`)).sort());
    // A superadmin switching to beta sees beta's group, as beta does.
    assert.deepEqual(await listIds(`${base}/api/entries?status=all&pbx=all&tenant=beta`, identity('alpha', 'superadmin')), ['bucharest', 'cluj', 'timisoara'].map((p) => entryOf(`beta@${p}`)).sort());

    const page = (await call('GET', `${base}/entries?status=all&pbx=all`, identity('alpha'))).text;
    assert.match(page, /<select[^>]*id="smc-pbx" name="pbx">/);
    assert.match(page, /<option value="all" selected>All PBXs of the group<\/option>/);
    assert.match(page, /<option value="bucharest">bucharest \(this PBX\)<\/option>/);
    assert.match(page, /<option value="cluj">cluj<\/option>/);
    assert.doesNotMatch(page, /timisoara/, "another tenant's PBX is not among the choices");
    assert.match(page, /<td class="smc-pbx">cluj<\/td>/, 'the group list shows each row\'s PBX');
    // Links (the rows, the export, the status buttons, the tabs) carry the view, through the glue's config.php and ajax.php.
    assert.match(page, new RegExp(`href="config\\.php\\?display=smartmissedcalls&amp;view=entry&amp;id=${ids['alpha@cluj']}&amp;pbx=all"`));
    assert.match(page, /href="ajax\.php\?module=smartmissedcalls&amp;command=api&amp;path=%2Fapi%2Fentries\.csv%3Fpbx%3Dall%26status%3Dall[^"]*" download/);
    assert.match(page, /href="config\.php\?display=smartmissedcalls&amp;view=dashboard&amp;pbx=all"/);

    const own = (await call('GET', `${base}/entries?status=all`, identity('alpha'))).text;
    assert.match(own, /<option value="bucharest" selected>bucharest \(this PBX\)<\/option>/);
    assert.doesNotMatch(own, /class="smc-pbx"/, 'one PBX: no PBX column');
    assert.match((await call('GET', `${base}/entries?pbx=nowhere`, identity('alpha'))).text, /id="smc-pbx-unknown"/);

    const csv = (await call('GET', `${base}/api/entries.csv?status=all&pbx=all`, identity('alpha'))).text;
    const lines = csv.replace(/^\uFEFF/, '').trim().split(/\r?\n/);
    assert.match(lines[0]!, /^PBX,Caller,/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(',')).sort(), ['bucharest,0722100001', 'cluj,0722100002']);
  });

  test('the dashboard: per-PBX figures for the group, this PBX alone by default, nothing for a PBX not the tenant\'s', async () => {
    const dash = async (q: string, who = identity('alpha')) => {
      const res = await call('GET', `${base}/api/dashboard?from=2026-11-01&to=2026-11-30${q}`, who);
      assert.equal(res.status, 200, res.text.slice(0, 200));
      return JSON.parse(res.text) as { kpis: { openNow: string; missRateDetail: string }; perPbx: { pbx: string; openNow: string; missed: string; missRate: string }[] };
    };
    const mine = await dash('');
    assert.equal(mine.kpis.openNow, '1');
    assert.deepEqual(mine.perPbx, [], 'one PBX: no per-PBX table');
    const group = await dash('&pbx=all');
    assert.equal(group.kpis.openNow, '2');
    assert.deepEqual(group.perPbx.map((p) => [p.pbx, p.openNow, p.missed, p.missRate]), [['bucharest', '1', '1', '100%'], ['cluj', '1', '1', '100%']]);
    const theirs = await dash('&pbx=timisoara');
    assert.equal(theirs.kpis.openNow, '0');
    assert.match(theirs.kpis.missRateDetail, /^0 of 0/);
    const html = (await call('GET', `${base}/dashboard?pbx=all&from=2026-11-01&to=2026-11-30`, identity('alpha'))).text;
    assert.match(html, /<table[^>]*id="smc-per-pbx"/);
    assert.match(html, /<tr data-pbx="cluj"><td><a href="config\.php\?display=smartmissedcalls&amp;view=entries&amp;pbx=cluj">cluj<\/a>/);
  });

  test("another PBX's entry: viewed with its PBX, acted on only from its own PBX's page", async () => {
    const detail = await call('GET', `${base}/entries/${ids['alpha@cluj']}?pbx=all`, identity('alpha'));
    assert.equal(detail.status, 200);
    assert.match(detail.text, /<td id="smc-entry-pbx">cluj<\/td>/);
    assert.match(detail.text, /id="smc-other-pbx"/);
    assert.doesNotMatch(detail.text, /id="smc-resolve"|id="smc-callback"/, 'no resolve or call-back form');
    assert.match(detail.text, /The CDR rows of this call are on PBX cluj\./);
    // Not in this PBX's own view: the FreePBX page's default is this PBX's list.
    assert.equal((await call('GET', `${base}/entries/${ids['alpha@cluj']}`, identity('alpha'))).status, 404);

    const refused = await call('POST', `${base}/api/entries/${ids['alpha@cluj']}/resolve?pbx=all`, identity('alpha'), { note: 'done' });
    assert.equal(refused.status, 403);
    assert.match(refused.text, /"error":"other_pbx"/);
    const callback = await call('POST', `${base}/api/entries/${ids['alpha@cluj']}/callback?pbx=all`, identity('alpha'), { ext: '101' });
    assert.equal(callback.status, 403);
    const [[cluj]] = (await pools.bucharest!.query<RowDataPacket[]>('SELECT status FROM smart_missed_calls WHERE id = ?', [ids['alpha@cluj']])) as unknown as [[{ status: string }]];
    assert.equal(cluj.status, 'open');

    // This PBX's own entry, seen in the group view, is resolved as ever.
    const own = await call('GET', `${base}/entries/${ids['alpha@bucharest']}?pbx=all`, identity('alpha'));
    assert.match(own.text, /id="smc-resolve"/);
    const done = await call('POST', `${base}/api/entries/${ids['alpha@bucharest']}/resolve?pbx=all`, identity('alpha'), { note: 'called from a mobile' });
    assert.equal(done.status, 200, done.text);
  });

  test("live updates: the group's page hears of another PBX's changes, this PBX's page and another tenant's do not", { timeout: 60_000 }, async () => {
    const streams = [
      await openStream(`${base}/api/events?pbx=all`, identity('alpha')),
      await openStream(`${base}/api/events`, identity('alpha')),
      await openStream(`${base}/api/events?pbx=all`, identity('beta')),
    ];
    try {
      const [group, own, beta] = streams as [OpenStream, OpenStream, OpenStream];
      // The streams' first look at the journal finds its end; changes are told from then on
      // (and the previous test's resolve may still be told once): what they say from here counts.
      await new Promise((r) => setTimeout(r, 1_500));
      const from = streams.map((s) => s.text().length);
      const at = '2026-11-21 09:00:00';
      const alphaNew = (await record(pools.cluj!, 'alpha', [callVerdict('missed', { caller: '0722100009', at })])).events[0]!.entry.id!;
      const betaNew = (await record(pools.cluj!, 'beta', [callVerdict('missed', { caller: '0733100009', at })])).events[0]!.entry.id!;
      const told = (s: OpenStream) => [...s.text().slice(from[streams.indexOf(s)]).matchAll(/event: changes\ndata: (.*)\n/g)].flatMap((m) => (JSON.parse(m[1]!) as { entries: number[] }).entries);
      await eventually("the group page hears of cluj's new entry", async () => told(group).includes(alphaNew), 10_000);
      await eventually("beta's group page hears of its own", async () => told(beta).includes(betaNew), 10_000);
      // A look later, still nothing of cluj on this PBX's own page, nor of alpha's on beta's.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.deepEqual(told(own), []);
      assert.ok(!told(group).includes(betaNew) && !told(beta).includes(alphaNew));
    } finally {
      for (const s of streams) s.close();
    }
  });

  test('without group: no PBX filter, no PBX column, and pbx= changes nothing', async () => {
    const page = await call('GET', `${plainBase}/entries?status=all&pbx=all`, identity('alpha'));
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.text, /id="smc-pbx"|smc-pbx|pbx=all/);
    assert.deepEqual(await listIds(`${plainBase}/api/entries?status=all&pbx=cluj`), [entryOf('alpha@bucharest')]);
    assert.equal((await call('GET', `${plainBase}/entries/${ids['alpha@cluj']}?pbx=all`, identity('alpha'))).status, 404);
    const csv = (await call('GET', `${plainBase}/api/entries.csv?status=all`, identity('alpha'))).text;
    assert.match(csv.replace(/^\uFEFF/, ''), /^Caller,/);
  });

  test('smc serve with its own logins shows the group by default; the PBX page this PBX', () => {
    const t = new Catalogues(`${repoRoot()}/i18n`).translator('en');
    const known = ['bucharest', 'cluj'];
    assert.deepEqual(pbxView(undefined, 'standalone', 'hq', known, t).selection, { ids: known });
    assert.equal(pbxView(undefined, 'pbx', 'bucharest', known, t).selection, 'this');
    assert.deepEqual(pbxView('bucharest', 'standalone', 'hq', known, t).selection, { ids: ['bucharest'] });
    assert.deepEqual(pbxView('timisoara', 'standalone', 'hq', known, t).selection, { ids: [] });
    assert.equal(pbxView(['all', 'cluj'], 'pbx', 'bucharest', known, t).selection, 'this', 'a repeated parameter is no choice');
    // The scope marker: this PBX by the connection's @smc_pbx, the group's ids as parameters, an empty choice reads nothing.
    const sql = 'SELECT id FROM smart_missed_calls e WHERE e.tenant = @tenant AND id = ?';
    assert.deepEqual(bindTenant(sql, [7], 'alpha'), ['SELECT id FROM smart_missed_calls e WHERE (e.tenant = ? AND e.pbx = @smc_pbx) AND id = ?', ['alpha', 7]]);
    assert.deepEqual(bindTenant(sql, [7], 'alpha', { ids: ['bucharest', 'cluj'] }), ['SELECT id FROM smart_missed_calls e WHERE (e.tenant = ? AND e.pbx IN (?, ?)) AND id = ?', ['alpha', 'bucharest', 'cluj', 7]]);
    assert.deepEqual(bindTenant(sql, [7], 'alpha', { ids: [] }), ['SELECT id FROM smart_missed_calls e WHERE (e.tenant = ? AND FALSE) AND id = ?', ['alpha', 7]]);
    // `all` is the view of the whole group: no PBX of a group may be called so.
    const member = { ...db.config, group: { ...db.config.group, nodes: [{ host: '10.0.0.11', port: 3306, socket: '' }], user: 'smc' } };
    assert.throws(() => checkGroup({ ...member, pbxId: 'all' }), (err: unknown) => err instanceof ConfigError && err.field === 'pbx_id');
    assert.doesNotThrow(() => checkGroup({ ...member, pbxId: 'cluj' }));
  });
});
