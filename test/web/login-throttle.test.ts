// The login throttle: unit behaviour with a clock the test moves, then the standalone login
// form of a real service app (config.server.users) behind it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { addressKey, LoginThrottle } from '../../src/web/login-throttle.js';
import { createApp } from '../../src/web/app.js';
import { SyncService } from '../../src/sync/service.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { listenOnLoopback } from '../helpers/listen.js';

/** A clock that moves only when told. */
function clock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const wrong = () => null;
const right = () => ({ user: 'ana' });

describe('LoginThrottle', () => {
  test('after the free failures a user waits, the wait doubles, and even the right password is refused meanwhile', async () => {
    const c = clock();
    const throttle = new LoginThrottle({ now: c.now });
    for (let i = 0; i < 5; i++) assert.equal((await throttle.attempt('ana', '10.0.0.1', wrong)).outcome, 'refused');
    assert.equal((await throttle.attempt('ana', '10.0.0.2', wrong)).outcome, 'refused', 'the sixth failure is counted, then the wait starts');
    assert.deepEqual(await throttle.attempt('ana', '10.0.0.3', right), { outcome: 'wait', retryAfterSeconds: 1 });
    c.advance(1_000);
    assert.equal((await throttle.attempt('ana', '10.0.0.4', wrong)).outcome, 'refused');
    assert.deepEqual(await throttle.attempt('ANA ', '10.0.0.5', right), { outcome: 'wait', retryAfterSeconds: 2 }, 'the same user however typed');
    c.advance(2_000);
    assert.deepEqual(await throttle.attempt('ana', '10.0.0.6', right), { outcome: 'accepted', value: { user: 'ana' } });
    assert.equal((await throttle.attempt('ana', '10.0.0.6', wrong)).outcome, 'refused', 'a success starts the user over');
  });

  test('an address spraying many names waits too, and a valid login from it does not clear that', async () => {
    const c = clock();
    const throttle = new LoginThrottle({ now: c.now });
    for (let i = 0; i < 21; i++) assert.equal((await throttle.attempt(`user${i}`, '192.0.2.7', wrong)).outcome, 'refused');
    assert.equal((await throttle.attempt('ana', '192.0.2.7', right)).outcome, 'wait');
    assert.equal((await throttle.attempt('ana', '::ffff:192.0.2.7', right)).outcome, 'wait', 'IPv4-mapped is the same address');
    assert.equal((await throttle.attempt('ana', '192.0.2.8', right)).outcome, 'accepted', 'other addresses are not held up');
  });

  test('the wait has a ceiling and is forgotten after a quiet hour', async () => {
    const c = clock();
    const throttle = new LoginThrottle({ now: c.now });
    let last = 0;
    for (let i = 0; i < 30; i++) {
      const r = await throttle.attempt('bob', `10.1.${i}.1`, wrong);
      if (r.outcome === 'wait') {
        last = r.retryAfterSeconds;
        c.advance(r.retryAfterSeconds * 1000);
      }
    }
    assert.equal(last, 300);
    c.advance(61 * 60_000);
    assert.equal((await throttle.attempt('bob', '10.2.0.1', wrong)).outcome, 'refused');
    assert.equal((await throttle.attempt('bob', '10.2.0.1', right)).outcome, 'accepted');
  });

  test('no more than maxConcurrent checks run at once; the others are told to come back', async () => {
    const throttle = new LoginThrottle({ now: clock().now, maxConcurrent: 2 });
    const gates: Array<() => void> = [];
    const slow = () => new Promise<{ user: string }>((resolve) => gates.push(() => resolve({ user: 'x' })));
    const first = throttle.attempt('a', '10.0.0.1', slow);
    const second = throttle.attempt('b', '10.0.0.2', slow);
    assert.deepEqual(await throttle.attempt('c', '10.0.0.3', right), { outcome: 'busy' });
    gates[0]!();
    assert.equal((await first).outcome, 'accepted');
    assert.equal((await throttle.attempt('c', '10.0.0.3', right)).outcome, 'accepted', 'a freed slot is used again');
    gates[1]!();
    assert.equal((await second).outcome, 'accepted');
    const failing = throttle.attempt('d', '10.0.0.4', () => Promise.reject(new Error('database away')));
    await assert.rejects(failing, /database away/);
    assert.equal((await throttle.attempt('e', '10.0.0.5', right)).outcome, 'accepted', 'a check that threw gave its slot back');
  });

  test('the remembered keys are bounded', async () => {
    const throttle = new LoginThrottle({ now: clock().now, maxKeys: 50 });
    for (let i = 0; i < 30; i++) await throttle.attempt('x', `10.9.0.${i}`, wrong);
    // 'x' waits now; once pushed out of the table by newer keys it is forgotten.
    assert.equal((await throttle.attempt('x', '10.9.1.1', right)).outcome, 'wait');
    for (let i = 0; i < 60; i++) await throttle.attempt(`m${i}`, `10.9.3.${i}`, wrong);
    assert.equal((await throttle.attempt('x', '10.9.4.1', right)).outcome, 'accepted');
  });

  test('IPv6 addresses count by their /64', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    assert.equal(addressKey('2001:0db8:0001:0002::9'), 'addr:2001:db8:1:2::/64');
    assert.notEqual(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'));
    assert.equal(addressKey('::1'), 'addr:0:0:0:0::/64');
    assert.equal(addressKey('127.0.0.1'), 'addr:127.0.0.1');
  });
});

describe('the standalone login form', () => {
  let db: FreshDatabases;
  let server: Server;
  let base: string;
  const c = clock(Date.now());

  before(async () => {
    db = await freshDatabases('throttle');
    const config = {
      ...db.config,
      server: { ...db.config.server, secret: 'throttle-secret-0123456789abcdef', users: [{ user: 'ana', password: 'ana-password', tenant: 'default', role: 'admin' as const }] },
    };
    const app = createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot(), now: c.now });
    ({ server, base } = await listenOnLoopback(app));
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.cleanup();
  });

  const login = (password: string) => fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ user: 'ana', password, next: '/entries' }),
  });

  test('N wrong passwords, then the right one is refused until the wait is over', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await login(`guess-${i}`)).status, 401);
    const refused = await login('ana-password');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(await refused.text(), /Too many failed logins\. Try again in 1 seconds\./);
    assert.equal(refused.headers.get('set-cookie'), null);
    c.advance(1_000);
    const accepted = await login('ana-password');
    assert.equal(accepted.status, 303);
    assert.equal(accepted.headers.get('location'), '/entries');
    assert.match(accepted.headers.get('set-cookie') ?? '', /^smc_session=/);
  });
});
