import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { csrfToken } from '../../src/web/csrf.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'tenant-test-secret-0123456789abcd';

describe('tenants', () => {
  let db: FreshDatabases;
  let server: Server;
  let base: string;
  let sync: SyncService;
  let mine: number;
  let theirs: number;

  before(async () => {
    db = await freshDatabases('webtenant');
    const a = await record(db.pool, 'alpha', [callVerdict('missed', { caller: '0722111222', at: '2026-11-20 10:00:00' })]);
    const b = await record(db.pool, 'beta', [callVerdict('missed', { caller: '0733444555', at: '2026-11-20 11:00:00' })]);
    mine = a.events[0]!.entry.id!;
    theirs = b.events[0]!.entry.id!;
    const config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
    sync = new SyncService(db.pool, config);
    ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.cleanup();
  });

  function as(who: Omit<Identity, 'ts' | 'lang'>): Record<string, string> {
    const signed = signIdentity(SECRET, { ...who, lang: 'en', ts: Math.floor(Date.now() / 1000) });
    return { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature };
  }

  test("a tenant admin sees only their tenant's entries, in the list, the export and the detail", async () => {
    const headers = as({ user: 'ana', tenant: 'alpha', role: 'admin' });
    const list = (await (await fetch(`${base}/api/entries?status=all`, { headers })).json()) as { entries: { id: number }[] };
    assert.deepEqual(list.entries.map((e) => e.id), [mine]);
    const csv = await (await fetch(`${base}/api/entries.csv?status=all`, { headers })).text();
    assert.match(csv, /0722111222/);
    assert.doesNotMatch(csv, /0733444555/);
    assert.equal((await fetch(`${base}/entries/${theirs}`, { headers })).status, 404);
    const detail = await fetch(`${base}/entries/${mine}`, { headers });
    assert.equal(detail.status, 200);
    assert.doesNotMatch(await detail.text(), /smc-callback/, 'without AMI there is no call-back button');
  });

  test('asking for another tenant with ?tenant= changes nothing for a tenant admin', async () => {
    const headers = as({ user: 'ana', tenant: 'alpha', role: 'admin' });
    const list = (await (await fetch(`${base}/api/entries?status=all&tenant=beta`, { headers })).json()) as { entries: { id: number }[] };
    assert.deepEqual(list.entries.map((e) => e.id), [mine]);
  });

  test('a superadmin may switch tenant with ?tenant=', async () => {
    const headers = as({ user: 'root', tenant: 'alpha', role: 'superadmin' });
    const list = (await (await fetch(`${base}/api/entries?status=all&tenant=beta`, { headers })).json()) as { entries: { id: number }[] };
    assert.deepEqual(list.entries.map((e) => e.id), [theirs]);
    const page = await (await fetch(`${base}/entries?tenant=beta`, { headers })).text();
    // Behind the PBX the browser reaches pages through config.php and the API through ajax.php.
    assert.match(page, new RegExp(`href="config\\.php\\?display=smartmissedcalls&amp;view=entry&amp;id=${theirs}&amp;tenant=beta"`));
    assert.match(page, /data-events="ajax\.php\?module=smartmissedcalls&amp;command=events&amp;path=%2Fapi%2Fevents%3Ftenant%3Dbeta"/);
  });

  test("claims and wallboards: another tenant's entry cannot be claimed, released or looked at; each tenant's board and links are its own", async () => {
    const post = (path: string, who: Omit<Identity, 'ts' | 'lang'>, body: unknown = {}) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { ...as(who), 'content-type': 'application/json', 'x-csrf-token': csrfToken(SECRET, `pbx\n${who.user}\n${who.tenant}\n${who.role}`) },
        body: JSON.stringify(body),
      });
    const ana = { user: 'ana', tenant: 'alpha', role: 'admin' } as const;
    const bo = { user: 'bo', tenant: 'beta', role: 'admin' } as const;
    assert.equal((await post(`/api/entries/${theirs}/claim`, ana)).status, 404);
    assert.equal((await post(`/api/entries/${theirs}/release`, ana)).status, 404);
    assert.equal((await fetch(`${base}/api/entries/${theirs}/claim.html`, { headers: as(ana) })).status, 404);
    const link = (await (await post('/api/wallboards', bo, { label: 'Beta TV' })).json()) as { id: number; path: string };
    assert.equal((await post(`/api/wallboards/${link.id}/revoke`, ana)).status, 404, "alpha cannot revoke beta's link");
    const listed = (await (await fetch(`${base}/api/wallboards`, { headers: as(ana) })).json()) as { links: unknown[] };
    assert.deepEqual(listed.links, [], "alpha does not see beta's links");
    const board = (await (await fetch(`${base}${link.path}/data`)).json()) as { top: { id: number }[] };
    assert.deepEqual(board.top.map((e) => e.id), [theirs], "beta's link shows beta's board only");
    const alphaBoard = (await (await fetch(`${base}/api/wallboard`, { headers: as(ana) })).json()) as { top: { id: number }[] };
    assert.deepEqual(alphaBoard.top.map((e) => e.id), [mine]);
  });
});
