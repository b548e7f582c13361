import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { startFakeAmi, type FakeAmi } from '../../src/cdr/generator/ami-server.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { signIdentity } from '../../src/web/identity.js';
import type { Config } from '../../src/config/schema.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'callback-test-secret-0123456789ab';

describe('click-to-call-back', () => {
  let db: FreshDatabases;
  let ami: FakeAmi;
  let server: Server;
  let base: string;
  let entryId: number;

  before(async () => {
    db = await freshDatabases('webcallback');
    ami = await startFakeAmi({ user: 'smc', secret: 'ami-secret' });
    const recorded = await record(db.pool, 'default', [callVerdict('missed', { caller: '0722555666', at: '2026-11-20 10:00:00', ext: '104' })]);
    entryId = recorded.events[0]!.entry.id!;
    const config: Config = {
      ...db.config,
      server: { ...db.config.server, secret: SECRET },
      ami: { host: '127.0.0.1', port: ami.port, user: 'smc', secret: 'ami-secret' },
    };
    const sync = new SyncService(db.pool, config);
    ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await ami?.close();
    await db?.cleanup();
  });

  function identity(role: 'admin' | 'viewer'): Record<string, string> {
    const signed = signIdentity(SECRET, { user: 'ana', tenant: 'default', role, lang: 'en', ts: Math.floor(Date.now() / 1000) });
    return { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature };
  }

  test('with AMI configured, the button rings the extension and dials the caller', async () => {
    const headers = identity('admin');
    const page = await (await fetch(`${base}/entries/${entryId}`, { headers })).text();
    assert.match(page, /id="smc-callback"/);
    const csrf = /data-csrf="([0-9a-f]{64})"/.exec(page)![1]!;
    const res = await fetch(`${base}/api/entries/${entryId}/callback`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ ext: '104' }),
    });
    assert.equal(res.status, 200);
    const originate = ami.actions.find((a) => a.Action === 'Originate');
    assert.ok(originate, 'no Originate reached the AMI');
    assert.equal(originate.Channel, 'Local/104@from-internal');
    assert.equal(originate.Exten, '0722555666');
  });

  test('when the PBX refuses the Originate, the user is told why', async () => {
    const headers = identity('admin');
    const page = await (await fetch(`${base}/entries/${entryId}`, { headers })).text();
    const csrf = /data-csrf="([0-9a-f]{64})"/.exec(page)![1]!;
    ami.failOriginateWith = 'Extension does not exist.';
    const res = await fetch(`${base}/api/entries/${entryId}/callback`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ ext: '999' }),
    });
    assert.equal(res.status, 502);
    assert.match(((await res.json()) as { message: string }).message, /Extension does not exist/);
  });

  test('a viewer gets no button and the API refuses them', async () => {
    const headers = identity('viewer');
    const page = await (await fetch(`${base}/entries/${entryId}`, { headers })).text();
    assert.doesNotMatch(page, /id="smc-callback"/);
    const csrf = /data-csrf="([0-9a-f]{64})"/.exec(page)![1]!;
    const before = ami.actions.length;
    const res = await fetch(`${base}/api/entries/${entryId}/callback`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ ext: '104' }),
    });
    assert.equal(res.status, 403);
    assert.equal(ami.actions.length, before);
  });

  test('a caller ID with * or # (a feature code) or anything but digits and a leading + is never dialled', async () => {
    const headers = identity('admin');
    for (const caller of ['*72101', '0722#555', '*98', '0722,555']) {
      const recorded = await record(db.pool, 'default', [callVerdict('missed', { caller, at: '2026-11-20 11:00:00', ext: '104' })]);
      const id = recorded.events[0]!.entry.id!;
      const page = await (await fetch(`${base}/entries/${id}`, { headers })).text();
      assert.doesNotMatch(page, /id="smc-callback"/, `no button for ${caller}`);
      const csrf = /data-csrf="([0-9a-f]{64})"/.exec(page)![1]!;
      const before = ami.actions.length;
      const res = await fetch(`${base}/api/entries/${id}/callback`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ ext: '104' }),
      });
      assert.equal(res.status, 422, caller);
      assert.match(((await res.json()) as { errors: { ext: string } }).errors.ext, /only digits and a leading \+/);
      assert.equal(ami.actions.length, before, `nothing reached the AMI for ${caller}`);
    }
  });
});
