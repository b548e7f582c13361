/**
 * The list's search. A whole phone number, in whatever form it is typed, finds its caller's
 * entries through their caller key (an index lookup, not a LIKE over every entry); part of a
 * number, a name or anything else is searched as text in the caller, raw caller id and name.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { DEFAULT_SETTINGS } from '../../src/config/schema.js';
import { numberRules } from '../../src/ledger/entries.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { numberSearchKey } from '../../src/web/entry-queries.js';
import { signIdentity } from '../../src/web/identity.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'search-test-secret-0123456789abcd';

describe('the list search', () => {
  let db: FreshDatabases;
  let server: Server;
  let base: string;

  before(async () => {
    db = await freshDatabases('websearch');
    await record(db.pool, 'alpha', [
      callVerdict('missed', { caller: '0722111222', at: '2026-11-20 10:00:00' }),
      callVerdict('missed', { caller: '+40733444555', at: '2026-11-20 11:00:00', name: 'Ana Pop' }),
      callVerdict('missed', { caller: '0744999000', at: '2026-11-20 12:00:00' }),
    ]);
    // The same number at another tenant: never in alpha's results.
    await record(db.pool, 'beta', [callVerdict('missed', { caller: '0722111222', at: '2026-11-20 10:00:00' })]);
    const config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
    const sync = new SyncService(db.pool, config);
    ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.cleanup();
  });

  async function callers(q: string): Promise<string[]> {
    const signed = signIdentity(SECRET, { user: 'ana', tenant: 'alpha', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
    const headers = { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature };
    const res = await fetch(`${base}/api/entries?status=all&q=${encodeURIComponent(q)}`, { headers });
    assert.equal(res.status, 200);
    const list = (await res.json()) as { total: number; entries: { caller: string }[] };
    assert.equal(list.total, list.entries.length);
    return list.entries.map((e) => e.caller).sort();
  }

  test('a whole number finds its caller however it is written, stored or typed', async () => {
    for (const q of ['0722111222', '+40 722 111 222', '0040-722-111-222', '(0722) 111 222']) {
      assert.deepEqual(await callers(q), ['0722111222'], q);
    }
    for (const q of ['0733444555', '0733 444 555', '+40733444555']) {
      assert.deepEqual(await callers(q), ['+40733444555'], q);
    }
    assert.deepEqual(await callers('0755000111'), [], 'a number nobody called from');
  });

  test('part of a number, a name or other text is searched as text', async () => {
    assert.deepEqual(await callers('111222'), ['0722111222']);
    assert.deepEqual(await callers('0744'), ['0744999000']);
    assert.deepEqual(await callers('Ana'), ['+40733444555']);
    assert.deepEqual(await callers('+407334'), ['+40733444555']);
  });

  test('a search is a whole number when it has more digits than the caller key keeps', () => {
    const rules = numberRules(DEFAULT_SETTINGS);
    assert.equal(numberSearchKey('0722 111 222', rules), '722111222');
    assert.equal(numberSearchKey('+40722111222', rules), '722111222');
    assert.equal(numberSearchKey('722111222', rules), null, 'as many digits as the key: could be part of a longer number');
    assert.equal(numberSearchKey('101', rules), null);
    assert.equal(numberSearchKey('0722 111 222 Ana', rules), null);
    assert.equal(numberSearchKey('', rules), null);
  });
});
