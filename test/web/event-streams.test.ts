/**
 * Live event streams are a bounded resource: a cap per user (429) and in all (503), one
 * listener on the sync however many streams are open, each stream ends after its lifetime
 * (the browser reconnects and is identified again), and a closed stream gives its slot back.
 */
import assert from 'node:assert/strict';
import { request, type ClientRequest, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { LedgerEvent } from '../../src/ledger/entries.js';
import { resolveEntry } from '../../src/ledger/actions.js';
import { readAuditKey } from '../../src/ledger/audit-key.js';
import { requestHistory } from '../../src/sync/history.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, testAuditKeyFile, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { eventually } from '../helpers/serve-process.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'event-streams-secret-0123456789ab';
const LIMITS = { perUser: 2, total: 3, lifetimeMs: 1_500 };

interface OpenStream {
  status: number;
  /** Everything the stream sent so far (or the refusal's body). */
  text: () => string;
  ended: Promise<void>;
  req: ClientRequest;
}

describe('event streams', () => {
  let db: FreshDatabases;
  let server: Server;
  let port: number;
  let sync: SyncService;
  const open: OpenStream[] = [];

  before(async () => {
    db = await freshDatabases('webevents');
    const config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
    sync = new SyncService(db.pool, config);
    ({ server, port } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot(), streamLimits: LIMITS })));
  });

  after(async () => {
    for (const s of open) s.req.destroy();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.cleanup();
  });

  const stream = (who: Pick<Identity, 'user' | 'tenant' | 'role'>) => openStream(port, who, open);

  const changes = (tenant: string, id: number) => [{ entry: { id, tenant }, event: 'created' } as unknown as LedgerEvent];

  test('capped per user (429) and in all (503) with a message; one sync listener; events only to their tenant; a lifetime; slots given back', { timeout: 60_000 }, async () => {
    const listeners = sync.listenerCount('changes') + sync.listenerCount('health');
    const ana = { user: 'ana', tenant: 'default', role: 'admin' } as const;
    const first = await stream(ana);
    const second = await stream(ana);
    assert.deepEqual([first.status, second.status], [200, 200]);

    const third = await stream(ana);
    assert.equal(third.status, 429, 'a third stream of the same user');
    await third.ended;
    assert.match(JSON.parse(third.text()).message, /Too many pages with live updates are open for you/);

    const vera = await stream({ user: 'vera', tenant: 'default', role: 'viewer' });
    assert.equal(vera.status, 200, 'another user still has room');
    const full = await stream({ user: 'bob', tenant: 'other', role: 'admin' });
    assert.equal(full.status, 503, 'no room left in all');
    await full.ended;
    assert.match(JSON.parse(full.text()).message, /Too many pages with live updates are open on this PBX/);

    assert.equal(sync.listenerCount('changes') + sync.listenerCount('health'), listeners, 'open streams add no listener to the sync');

    sync.emit('changes', changes('other', 7));
    sync.emit('changes', changes('default', 5));
    await eventually('the changes to reach every stream of the tenant', async () => [first, second, vera].every((s) => /"entries":\[5\]/.test(s.text())), 5_000);
    for (const s of [first, second, vera]) assert.doesNotMatch(s.text(), /"entries":\[7\]/, "another tenant's changes are not sent");
    assert.match(first.text(), /^retry: \d+$/m, 'the browser is told when to reconnect');

    // A closed stream gives its slot back.
    second.req.destroy();
    await eventually('the closed slot to be free', async () => {
      const again = await stream(ana);
      if (again.status !== 200) await again.ended;
      return again.status === 200;
    }, 5_000);

    // Every stream ends by itself after its lifetime; then the user may open new ones.
    await Promise.all([first.ended, vera.ended]);
    await eventually('the slots of ended streams to be free', async () => {
      const again = await stream(ana);
      if (again.status !== 200) await again.ended;
      return again.status === 200;
    }, 10_000);
  });
});

describe('changes made elsewhere', () => {
  let db: FreshDatabases;
  let server: Server;
  let port: number;
  const open: OpenStream[] = [];

  before(async () => {
    db = await freshDatabases('webelsewhere');
    const config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
    // This instance stands by: it never took the sync lock, another instance syncs.
    const standing = new SyncService(db.pool, config);
    ({ server, port } = await listenOnLoopback(createApp({ pool: db.pool, config, sync: standing, moduleDir: repoRoot() })));
  });

  after(async () => {
    for (const s of open) s.req.destroy();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.cleanup();
  });

  test("the syncing instance's new entries, a user's clear from another page and the history's progress reach a standing-by instance's open pages, each tenant only its own", { timeout: 60_000 }, async () => {
    const ana = await openStream(port, { user: 'ana', tenant: 'default', role: 'admin' }, open);
    const bob = await openStream(port, { user: 'bob', tenant: 'other', role: 'admin' }, open);
    assert.deepEqual([ana.status, bob.status], [200, 200]);
    // The watch starts at the journal's end when the first page opens: give its first look a moment.
    await new Promise((r) => setTimeout(r, 2_000));
    const { events } = await record(db.pool, 'default', [callVerdict('missed', { caller: '0744000200', at: '2026-12-01 10:00:00' })]);
    const created = events.find((e) => e.event === 'created')!.entry.id!;
    await eventually("the other instance's new entry on the open page", async () => ana.text().includes(`"entries":[${created}]`), 10_000);

    await resolveEntry(db.pool, readAuditKey(testAuditKeyFile()), 'default', created, 'carol', 'called from the mobile');
    await eventually("carol's clear on ana's page", async () => /"events":\["cleared"\]/.test(ana.text()), 10_000);

    await requestHistory(db.pool, db.config, 'default', '2026-11-01', 'user:ana');
    await eventually('the history job on the open page', async () => /event: history/.test(ana.text()), 10_000);

    assert.doesNotMatch(bob.text(), /event: changes|event: history/, "nothing of another tenant's list or history");
  });
});

/** Opens /api/events as `who`, signed like the PBX glue signs; `open` collects it for the clean-up. */
function openStream(port: number, who: Pick<Identity, 'user' | 'tenant' | 'role'>, open: OpenStream[]): Promise<OpenStream> {
  const signed = signIdentity(SECRET, { ...who, lang: 'en', ts: Math.floor(Date.now() / 1000) });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/events', headers: { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      const s: OpenStream = { status: res.statusCode ?? 0, text: () => body, ended, req };
      open.push(s);
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}
