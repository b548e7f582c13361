/**
 * What the service accepts from a request, and what it says when it cannot answer: entry
 * ids in decimal only, notes refused (not cut) over the limit, the dashboard's dates within
 * plausible years and its range bounded (and said so), and an outage page that does not
 * claim to show anything.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { createPool } from '../../src/db/pool.js';
import { NOTE_MAX_CHARS } from '../../src/ledger/entries.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { addDays, MAX_RANGE_DAYS } from '../../src/web/filters.js';
import { signIdentity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { listenOnLoopback } from '../helpers/listen.js';

const SECRET = 'input-limits-secret-0123456789abc';

function adminHeaders(): Record<string, string> {
  const signed = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
  return {
    'x-smc-identity': signed.header, 'x-smc-signature': signed.signature,
    'x-csrf-token': csrfToken(SECRET, 'pbx\nana\ndefault\nadmin'), 'content-type': 'application/json',
  };
}

async function close(server: Server | undefined): Promise<void> {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
}

describe('input limits', () => {
  let db: FreshDatabases;
  let server: Server;
  let base: string;

  before(async () => {
    db = await freshDatabases('weblimits');
    const calls = Array.from({ length: 16 }, (_, i) => callVerdict('missed', { caller: `07220009${String(i).padStart(2, '0')}`, at: '2026-11-20 10:00:00' }));
    await record(db.pool, 'default', calls);
    const config = { ...db.config, server: { ...db.config.server, secret: SECRET } };
    ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot() })));
  });

  after(async () => {
    await close(server);
    await db?.cleanup();
  });

  async function entry(id: number): Promise<{ status: string; note: string | null }> {
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status, note FROM smart_missed_calls WHERE id = ?', [id]);
    return rows[0] as { status: string; note: string | null };
  }

  const resolve = (id: string, note: string) =>
    fetch(`${base}/api/entries/${id}/resolve`, { method: 'POST', headers: adminHeaders(), body: JSON.stringify({ note }) });

  test('an entry id is decimal digits: 0x10, 1e1, 016, +16 and 16.0 reach no entry', async () => {
    assert.equal((await entry(16)).status, 'open');
    for (const spelling of ['0x10', '0X10', '1e1', '016', '+16', '16.0', '0b10000', ' 16', '16 ']) {
      const id = encodeURIComponent(spelling);
      assert.equal((await resolve(id, 'fuzz')).status, 404, `resolve ${spelling}`);
      assert.equal((await fetch(`${base}/entries/${id}`, { headers: adminHeaders() })).status, 404, `page ${spelling}`);
    }
    assert.equal((await entry(16)).status, 'open', 'entry 16 untouched');
    assert.equal((await entry(10)).status, 'open', 'entry 10 untouched');
    assert.equal((await resolve('16', 'called back')).status, 200);
    assert.equal((await entry(16)).status, 'cleared');
  });

  test('a note longer than the limit is refused with a field error, never cut; one at the limit is kept whole', async () => {
    const tooLong = await resolve('1', 'x'.repeat(NOTE_MAX_CHARS + 1));
    assert.equal(tooLong.status, 422);
    assert.match(((await tooLong.json()) as { errors: { note: string } }).errors.note, /at most 2,000 characters/);
    assert.equal((await entry(1)).status, 'open');
    // Emoji are two UTF-16 units each, as the browser's maxlength counts them.
    const emoji = '📞'.repeat(NOTE_MAX_CHARS / 2 + 1);
    assert.equal((await resolve('1', emoji)).status, 422, 'counted as the textarea counts');
    const atLimit = `${'📞'.repeat(10)}${'y'.repeat(NOTE_MAX_CHARS - 20)}`;
    assert.equal((await resolve('1', atLimit)).status, 200);
    assert.equal((await entry(1)).note, atLimit);
    const page = await (await fetch(`${base}/entries/2`, { headers: adminHeaders() })).text();
    assert.match(page, new RegExp(`maxlength="${NOTE_MAX_CHARS}"`), 'the form says the same limit');
  });

  test('dashboard dates outside plausible years or off the calendar are ignored; a range over the maximum is shortened and says so', async () => {
    const dashboard = async (query: string) => {
      const res = await fetch(`${base}/api/dashboard?${query}`, { headers: adminHeaders() });
      assert.equal(res.status, 200, query);
      return (await res.json()) as { notice: string; raw: { range: { from: string; to: string }; daily: unknown[] } };
    };
    const today = (await dashboard('')).raw.range.to;
    for (const day of ['2100-01-01', '1999-12-31', '0000-01-01', '2026-02-30', '2026-13-01']) {
      const answer = await dashboard(`to=${day}`);
      assert.equal(answer.raw.range.to, today, `to=${day} falls back to today`);
      assert.equal(answer.raw.daily.length, 30);
    }
    const long = await dashboard('from=2000-01-01&to=2026-06-30');
    assert.deepEqual(long.raw.range, { ...long.raw.range, from: addDays('2026-06-30', -(MAX_RANGE_DAYS - 1)), to: '2026-06-30' });
    assert.equal(long.raw.daily.length, MAX_RANGE_DAYS);
    assert.match(long.notice, /at most 400 days/);
    const year = await dashboard('from=2024-01-01&to=2024-12-31');
    assert.equal(year.raw.daily.length, 366, 'a whole (leap) year fits');
    assert.equal(year.notice, '');
    const page = await (await fetch(`${base}/dashboard?from=2001-01-01&to=2099-12-31`, { headers: adminHeaders() })).text();
    assert.match(page, /id="smc-range-notice"[^>]*>The dashboard shows at most 400 days at once/);
  });

  test('while the database is away the pages answer 503 and say nothing can be shown (not that the list is)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smc-limits-'));
    const pool = createPool({ ...db.config.db, socket: join(dir, 'no-mariadb.sock') });
    const config = { ...db.config, db: { ...db.config.db, socket: join(dir, 'no-mariadb.sock') }, server: { ...db.config.server, secret: SECRET } };
    const away = await listenOnLoopback(createApp({ pool, config, sync: new SyncService(pool, config), moduleDir: repoRoot() }));
    try {
      for (const path of ['/entries', '/dashboard', '/api/entries']) {
        const res = await fetch(away.base + path, { headers: adminHeaders() });
        assert.equal(res.status, 503, path);
        const body = await res.text();
        assert.match(body, /nothing can be shown until it is back/, path);
        assert.doesNotMatch(body, /shows what was known/, path);
      }
    } finally {
      await close(away.server);
      await pool.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
