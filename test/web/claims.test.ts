/**
 * Callbacks as team work: "I'm calling back" claims (race, expiry, take-over with its warning,
 * release, the journal and its verification, the claim a call-back makes, roles, CSRF,
 * tenants), seen live in two real browsers; and the wallboard opened with a revocable link
 * (Chromium in English and Romanian with screenshots, its figures equal to the API's, a
 * revoked link refused and its open stream closed).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { RowDataPacket } from 'mysql2/promise';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { startFakeAmi, type FakeAmi } from '../../src/cdr/generator/ami-server.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { verifyAudit } from '../../src/ledger/audit.js';
import { resolveEntry } from '../../src/ledger/actions.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import type { Config } from '../../src/config/schema.js';
import { listenOnLoopback } from '../helpers/listen.js';
import { launchChromium, SCREENS } from '../helpers/chromium.js';

const SECRET = 'claims-test-secret-0123456789abcd';

describe('claims and the wallboard', () => {
  let db: FreshDatabases;
  let ami: FakeAmi;
  let server: Server;
  let base: string;
  let browser: Browser;
  /** Entries of tenant default, one per test that changes one; and one of tenant other. */
  const ids: Record<string, number> = {};

  before(async () => {
    db = await freshDatabases('webclaims');
    ami = await startFakeAmi({ user: 'smc', secret: 'ami-secret' });
    const callers = { race: '0722000101', expiry: '0722000102', takeover: '0722000103', callback: '0722000104', board: '0722000105', cleared: '0722000106' };
    let minute = 10;
    for (const [name, caller] of Object.entries(callers)) {
      ids[name] = (await record(db.pool, 'default', [callVerdict('missed', { caller, at: `2026-11-20 10:${minute++}:00`, ext: '104' })])).events[0]!.entry.id!;
    }
    ids.other = (await record(db.pool, 'other', [callVerdict('missed', { caller: '0733000999', at: '2026-11-20 11:00:00' })])).events[0]!.entry.id!;
    const config: Config = {
      ...db.config,
      server: {
        ...db.config.server,
        secret: SECRET,
        users: [
          { user: 'ana', password: 'ana-pass', tenant: 'default', role: 'admin' },
          { user: 'bob', password: 'bob-pass', tenant: 'default', role: 'admin' },
        ],
      },
      ami: { host: '127.0.0.1', port: ami.port, user: 'smc', secret: 'ami-secret' },
    };
    const sync = new SyncService(db.pool, config);
    ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await ami?.close();
    await db?.cleanup();
  });

  function who(user: string, role: Identity['role'] = 'admin', tenant = 'default', lang: Identity['lang'] = 'en'): Identity {
    return { user, tenant, role, lang, ts: Math.floor(Date.now() / 1000) };
  }

  async function api(method: string, path: string, as: Identity, body?: unknown, csrf = true): Promise<{ status: number; json: Record<string, any> }> {
    const signed = signIdentity(SECRET, { ...as, ts: Math.floor(Date.now() / 1000) });
    const res = await fetch(base + path, {
      method,
      headers: {
        'x-smc-identity': signed.header, 'x-smc-signature': signed.signature, 'content-type': 'application/json',
        ...(csrf ? { 'x-csrf-token': csrfToken(SECRET, `pbx\n${as.user}\n${as.tenant}\n${as.role}`) } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, any>) : { text } };
  }

  async function journal(entryId: number): Promise<{ event: string; actor: string; ext: string | null; note: string | null }[]> {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      "SELECT event, actor, ext, note FROM smart_missed_calls_audit WHERE entry_id = ? AND event LIKE 'claim%' ORDER BY id", [entryId],
    );
    return rows.map((r) => ({ event: String(r.event), actor: String(r.actor), ext: r.ext, note: r.note }));
  }

  const holderOf = async (id: number, as = who('ana')) => {
    const list = await api('GET', '/api/entries?status=open', as);
    return (list.json.entries as { id: number; claim: { holder: string | null } }[]).find((e) => e.id === id)!.claim.holder;
  };

  test('two users claim at the same moment: exactly one wins, the other is told who holds it', async () => {
    const results = await Promise.all(['ana', 'bob'].map((u) => api('POST', `/api/entries/${ids.race}/claim`, who(u), {})));
    const won = results.filter((r) => r.status === 200);
    const lost = results.filter((r) => r.status === 409);
    assert.equal(won.length, 1, JSON.stringify(results));
    assert.equal(lost.length, 1, JSON.stringify(results));
    const winner = won[0]!.json.claim.user as string;
    assert.equal(lost[0]!.json.error, 'claimed');
    assert.equal(lost[0]!.json.holder.user, winner);
    assert.match(lost[0]!.json.message, new RegExp(`^${winner} is already calling this caller back`));
    assert.equal(await holderOf(ids.race), winner);
    assert.deepEqual((await journal(ids.race)).map((j) => `${j.event} ${j.actor}`), [`claimed user:${winner}`]);
  });

  test('a claim past its minutes shows as unclaimed, and someone else claims it without a take-over', async () => {
    const saved = await api('POST', '/api/settings', who('ana'), { claimMinutes: 5 });
    assert.equal(saved.status, 200, JSON.stringify(saved.json));
    assert.equal((await api('POST', '/api/settings', who('ana'), { claimMinutes: 0 })).status, 422, 'claim minutes are validated');
    const claimed = await api('POST', `/api/entries/${ids.expiry}/claim`, who('ana'), { ext: '104' });
    assert.equal(claimed.status, 200);
    const [[{ minutes }]] = (await db.pool.query<RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(MINUTE, claimed_at, expires_at) AS minutes FROM smart_missed_calls_claims WHERE entry_id = ?', [ids.expiry],
    )) as unknown as [[{ minutes: number }]];
    assert.equal(Number(minutes), 5, 'the tenant setting sets the claim minutes');
    assert.equal(await holderOf(ids.expiry), 'ana');
    await db.pool.query('UPDATE smart_missed_calls_claims SET expires_at = NOW() - INTERVAL 1 SECOND WHERE entry_id = ?', [ids.expiry]);
    assert.equal(await holderOf(ids.expiry), null, 'an expired claim is no claim');
    const box = await fetch(`${base}/api/entries/${ids.expiry}/claim.html`, { headers: (() => { const s = signIdentity(SECRET, who('bob')); return { 'x-smc-identity': s.header, 'x-smc-signature': s.signature }; })() });
    assert.doesNotMatch(await box.text(), /is calling back/);
    const bob = await api('POST', `/api/entries/${ids.expiry}/claim`, who('bob'), {});
    assert.equal(bob.status, 200);
    assert.equal(bob.json.event, 'claimed');
    assert.deepEqual((await journal(ids.expiry)).map((j) => `${j.event} ${j.actor}`), ['claimed user:ana', 'claimed user:bob']);
    await api('POST', '/api/settings', who('ana'), { claimMinutes: 15 });
  });

  test('a clear releases the claim', async () => {
    assert.equal((await api('POST', `/api/entries/${ids.cleared}/claim`, who('ana'), {})).status, 200);
    await resolveEntry(db.pool, db.auditKey, 'default', ids.cleared, 'bob', 'called back from a mobile');
    const list = await api('GET', '/api/entries?status=all', who('ana'));
    assert.equal((list.json.entries as { id: number; claim: { holder: string | null } }[]).find((e) => e.id === ids.cleared)!.claim.holder, null);
    assert.equal((await api('POST', `/api/entries/${ids.cleared}/claim`, who('bob'), {})).status, 409, 'a cleared entry cannot be claimed');
  });

  test('viewers cannot claim, mutations need the CSRF token, another tenant can neither claim nor see', async () => {
    const viewer = await api('POST', `/api/entries/${ids.race}/claim`, who('vic', 'viewer'), {});
    assert.equal(viewer.status, 403);
    assert.equal((await api('POST', `/api/entries/${ids.race}/release`, who('vic', 'viewer'))).status, 403);
    assert.equal((await api('POST', `/api/entries/${ids.takeover}/claim`, who('ana'), {}, false)).status, 403, 'no CSRF token, no claim');
    assert.equal((await api('POST', `/api/wallboards`, who('ana'), { label: 'TV' }, false)).status, 403, 'no CSRF token, no link');
    const zed = who('zed', 'admin', 'other');
    assert.equal((await api('POST', `/api/entries/${ids.race}/claim`, zed, {})).status, 404);
    assert.equal((await api('POST', `/api/entries/${ids.race}/release`, zed)).status, 404);
    assert.equal((await api('GET', `/api/entries/${ids.race}/claim.html`, zed)).status, 404);
    // Nor the other way round; and another tenant's list shows nothing of these claims.
    assert.equal((await api('POST', `/api/entries/${ids.other}/claim`, who('ana'), {})).status, 404);
    const theirs = await api('GET', '/api/entries?status=all', zed);
    assert.deepEqual((theirs.json.entries as { id: number }[]).map((e) => e.id), [ids.other]);
    assert.equal((await journal(ids.takeover)).length, 0);
    assert.deepEqual(await journal(ids.other), []);
  });

  test('calling back claims the entry; a second caller-back is told who, and takes it over only when they agree', async () => {
    const ana = await api('POST', `/api/entries/${ids.callback}/callback`, who('ana'), { ext: '104' });
    assert.equal(ana.status, 200, JSON.stringify(ana.json));
    assert.equal(await holderOf(ids.callback), 'ana');
    const originates = () => ami.actions.filter((a) => a.Action === 'Originate').length;
    const before = originates();
    const bob = await api('POST', `/api/entries/${ids.callback}/callback`, who('bob'), { ext: '105' });
    assert.equal(bob.status, 409);
    assert.equal(bob.json.holder.user, 'ana');
    assert.equal(bob.json.holder.ext, '104');
    assert.equal(originates(), before, 'refused: nothing rang');
    const agreed = await api('POST', `/api/entries/${ids.callback}/callback`, who('bob'), { ext: '105', takeOverFrom: 'ana' });
    assert.equal(agreed.status, 200);
    assert.equal(originates(), before + 1);
    assert.equal(await holderOf(ids.callback), 'bob');
    assert.deepEqual((await journal(ids.callback)).map((j) => [j.event, j.actor, j.ext, j.note]), [
      ['claimed', 'user:ana', '104', '15 min'],
      ['claim_taken_over', 'user:bob', '105', 'from user:ana'],
    ]);
  });

  async function loggedIn(user: string, locale = 'en-GB'): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ locale, viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('#smc-user', user);
    await page.fill('#smc-password', `${user}-pass`);
    await Promise.all([page.waitForURL(/\/dashboard/), page.click('button[type=submit]')]);
    return { context, page };
  }

  test('in two browsers: a claim shows live on the other page; a take-over warns naming the holder; release; journal and audit verify', { timeout: 120_000 }, async () => {
    const a = await loggedIn('ana');
    const b = await loggedIn('bob');
    try {
      const row = (p: Page) => p.locator(`tr[data-entry-id="${ids.takeover}"]`);
      for (const { page } of [a, b]) {
        await page.goto(`${base}/entries?status=open`);
        await row(page).locator('[data-action="claim"]').waitFor();
      }
      await row(a.page).locator('[data-action="claim"]').click();
      await row(a.page).locator('[data-action="release"]').waitFor();
      // Bob's page hears of it through the journal watch, with nothing clicked there.
      await row(b.page).locator('.smc-claim-holder', { hasText: 'ana is calling back since' }).waitFor();
      let warning = '';
      b.page.once('dialog', (dialog) => {
        warning = dialog.message();
        void dialog.accept();
      });
      await row(b.page).locator('[data-action="take-over"]').click();
      await row(b.page).locator('[data-action="release"]').waitFor();
      assert.match(warning, /^ana is already calling this caller back \(since .+\)\. Take the call-back over\?$/);
      await row(a.page).locator('.smc-claim-holder', { hasText: 'bob is calling back since' }).waitFor();
      // On the detail page too, and its release reaches the list.
      await b.page.goto(`${base}/entries/${ids.takeover}`);
      await b.page.locator('#smc-claim .smc-claim-holder', { hasText: 'bob is calling back' }).waitFor();
      await b.page.locator('#smc-claim [data-action="release"]').click();
      await b.page.locator('#smc-claim [data-action="claim"]').waitFor();
      await row(a.page).locator('[data-action="claim"]').waitFor();
      await b.page.reload();
      const events = await b.page.locator('#smc-journal tr[data-event^="claim"] td:nth-child(2)').allTextContents();
      assert.deepEqual(events, ['claimed (calling back)', 'claim taken over', 'claim released']);
    } finally {
      await a.context.close();
      await b.context.close();
    }
    assert.deepEqual((await journal(ids.takeover)).map((j) => `${j.event} ${j.actor}${j.note ? ` ${j.note}` : ''}`), [
      'claimed user:ana 15 min', 'claim_taken_over user:bob from user:ana', 'claim_released user:bob',
    ]);
    // A release by someone not holding the entry is refused naming the holder; by nobody, a no-op.
    assert.equal((await api('POST', `/api/entries/${ids.takeover}/release`, who('ana'))).json.released, false);
    const verified = await verifyAudit(db.pool, db.auditKey);
    assert.equal(verified.ok, true, JSON.stringify(verified.bad));
  });

  test('the wallboard: a revocable link, its figures equal to the API in English and Romanian (screenshots), live claims, revoked: 403 and its stream closed', { timeout: 120_000 }, async () => {
    const made = await api('POST', '/api/wallboards', who('ana'), { label: 'Support room TV' });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    const path = made.json.path as string;
    assert.match(path, /^\/wallboard\/[A-Za-z0-9_-]{43}$/);
    const [[stored]] = (await db.pool.query<RowDataPacket[]>('SELECT token_hash, label FROM smart_missed_calls_wallboards WHERE id = ?', [made.json.id])) as unknown as [[{ token_hash: string; label: string }]];
    assert.notEqual(stored.token_hash, path.split('/')[2], 'only the hash is stored');
    assert.equal((await api('GET', '/api/wallboards', who('ana'))).json.links.length, 1);
    assert.equal((await api('GET', '/api/wallboards', who('vic', 'viewer'))).status, 403, 'viewers do not see the links');
    assert.equal((await api('POST', `/api/wallboards/${made.json.id}/revoke`, who('zed', 'admin', 'other'))).status, 404, 'another tenant cannot revoke');

    // No session: the link alone opens it, and the answer has the pages' security headers.
    const raw = await fetch(base + path);
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(raw.headers.get('referrer-policy'), 'no-referrer');
    assert.equal((await fetch(`${base}/wallboard/${'x'.repeat(43)}`)).status, 403);

    const blocked: string[] = [];
    for (const [lang, locale] of [['en', 'en-GB'], ['ro', 'ro-RO']] as const) {
      const context = await browser.newContext({ locale, viewport: { width: 1920, height: 1080 } });
      context.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
      });
      try {
        const page = await context.newPage();
        await page.goto(base + path);
        const expected = (await api('GET', '/api/wallboard', who('ana', 'admin', 'default', lang))).json;
        const figures = async () => Object.fromEntries(await Promise.all(['openNow', 'oldestOpen', 'missedToday'].map(async (k) => [k, await page.locator(`[data-figure="${k}"]`).textContent()])));
        assert.deepEqual(await figures(), { openNow: expected.shown.openNow, oldestOpen: expected.shown.oldestOpen, missedToday: expected.shown.missedToday });
        assert.equal(expected.openNow, 5, 'the open entries of the tenant, no other tenant');
        const shownIds = await page.locator('#smc-wb-rows tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-entry-id'))));
        assert.deepEqual(shownIds, (expected.top as { id: number }[]).map((r) => r.id));
        assert.ok(!shownIds.includes(ids.other));
        const viaLink = (await (await fetch(`${base}${path}/data?lang=${lang}`)).json()) as { shown: unknown };
        assert.deepEqual(viaLink.shown, expected.shown, 'the link reads what the API reads');
        assert.equal(await page.locator('html').getAttribute('lang'), lang);
        assert.equal(await page.locator('.smc-wb-label').first().textContent(), lang === 'en' ? 'Open now' : 'Deschise acum');
        await page.screenshot({ path: join(SCREENS, `${lang}-wallboard.png`) });
      } finally {
        await context.close();
      }
    }
    assert.deepEqual(blocked, [], 'the Content-Security-Policy blocked nothing on the board');

    // Live: a claim made elsewhere shows on the board with its holder.
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1920, height: 1080 } });
    try {
      const page = await context.newPage();
      await page.goto(base + path);
      await page.locator(`tr[data-entry-id="${ids.board}"]`).waitFor();
      assert.equal((await api('POST', `/api/entries/${ids.board}/claim`, who('ana'), { ext: '104' })).status, 200);
      await page.locator(`tr[data-entry-id="${ids.board}"] .smc-wb-claim`, { hasText: 'ana (ext. 104)' }).waitFor();

      // A stream of the link, read here as it comes.
      const controller = new AbortController();
      const stream = await fetch(`${base}${path}/events`, { signal: controller.signal });
      assert.equal(stream.status, 200);
      const ended = (async () => {
        for await (const _chunk of stream.body!) { /* read until the service ends it */ }
        return 'ended';
      })();
      const revoked = await api('POST', `/api/wallboards/${made.json.id}/revoke`, who('ana'));
      assert.equal(revoked.status, 200);
      assert.equal(await ended, 'ended', 'revoking closed the open stream');
      controller.abort();
      assert.equal((await fetch(base + path)).status, 403);
      assert.equal((await fetch(`${base}${path}/data`)).status, 403);
      assert.equal((await fetch(`${base}${path}/events`)).status, 403);
      // The open board's own stream was closed too: it says the link is gone.
      await page.locator('#smc-wb-gone').waitFor({ state: 'visible' });
    } finally {
      await context.close();
    }
    assert.equal((await api('GET', '/api/wallboards', who('ana'))).json.links.length, 0);
  });
});
