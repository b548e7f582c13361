import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { applyConfig, ConfigError, DEFAULT_CONFIG, type Config, type IdentityUser } from '../../src/config/schema.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';

const SECRET = 'session-test-secret-0123456789abc';

describe('standalone sessions', () => {
  let db: FreshDatabases;
  const servers: Server[] = [];

  before(async () => {
    db = await freshDatabases('websession');
  });

  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await db?.cleanup();
  });

  function users(): IdentityUser[] {
    return [
      { user: 'ana', password: 'ana-password', tenant: 'default', role: 'admin' },
      { user: 'bob', password: 'bob-password', tenant: 'default', role: 'admin' },
    ];
  }

  /** A service as `smc serve` starts it; a second call with the same secret is a restart. */
  async function serve(server: Partial<Config['server']> = {}): Promise<{ base: string; config: Config }> {
    const config: Config = { ...db.config, server: { ...db.config.server, secret: SECRET, users: users(), ...server } };
    const s = await new Promise<Server>((resolve) => {
      const app = createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot() });
      const listening = app.listen({ host: '127.0.0.1', port: 0 }, () => resolve(listening));
    });
    servers.push(s);
    return { base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, config };
  }

  async function login(base: string, user: string, headers: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string }> {
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ user, password: `${user}-password`, next: '/dashboard' }).toString(),
    });
    assert.equal(res.status, 303);
    const setCookie = res.headers.get('set-cookie') ?? '';
    return { cookie: setCookie.split(';')[0]!, setCookie };
  }

  async function status(base: string, cookie: string, path = '/api/entries'): Promise<number> {
    return (await fetch(`${base}${path}`, { headers: { cookie }, redirect: 'manual' })).status;
  }

  async function csrfOf(base: string, cookie: string): Promise<string> {
    const html = await (await fetch(`${base}/dashboard`, { headers: { cookie } })).text();
    return /data-csrf="([0-9a-f]{64})"/.exec(html)![1]!;
  }

  test('after logout the old cookie opens nothing, even sent again by hand', async () => {
    const { base } = await serve();
    const { cookie } = await login(base, 'ana');
    assert.equal(await status(base, cookie), 200);
    const out = await fetch(`${base}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: `_csrf=${await csrfOf(base, cookie)}`,
    });
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal(await status(base, cookie), 401);
    assert.equal(await status(base, cookie, '/dashboard'), 303, 'a page sends the logged-out browser to the login form');
  });

  test('a session ends when its user leaves the configuration, and follows a role change', async () => {
    const { base, config } = await serve();
    const ana = await login(base, 'ana');
    const bob = await login(base, 'bob');
    const csrf = await csrfOf(base, bob.cookie);
    const save = () =>
      fetch(`${base}/api/settings`, {
        method: 'POST',
        headers: { cookie: bob.cookie, 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify({ cadence: 'daily' }),
      });
    assert.equal((await save()).status, 200);
    config.server.users[1] = { ...config.server.users[1]!, role: 'viewer' };
    assert.equal((await save()).status, 403, 'bob was made a viewer: the session has his new role');
    config.server.users.splice(1, 1);
    assert.equal(await status(base, bob.cookie), 401, 'bob was removed from server.users');
    config.server.users[0] = { ...config.server.users[0]!, password: 'a-new-password' };
    assert.equal(await status(base, ana.cookie), 401, "ana's password was changed");

    // Restarted with the same secret and ana left out of config.yaml: her cookie is still
    // signed with that secret, and still refused.
    const before = await serve();
    const session = await login(before.base, 'ana');
    assert.equal(await status(before.base, session.cookie), 200);
    const restarted = await serve({ users: users().filter((u) => u.user !== 'ana') });
    assert.equal(await status(restarted.base, session.cookie), 401);
  });

  test('the cookie is Secure behind a TLS proxy that server.trust_proxy names, and only then', async () => {
    const https = { 'x-forwarded-proto': 'https' };
    const trusting = await serve({ trustProxy: ['loopback'] });
    assert.match((await login(trusting.base, 'ana', https)).setCookie, /;\s*Secure/);
    assert.doesNotMatch((await login(trusting.base, 'ana')).setCookie, /Secure/, 'plain HTTP from the proxy');
    const other = await serve({ trustProxy: ['10.1.2.3'] });
    assert.doesNotMatch((await login(other.base, 'ana', https)).setCookie, /Secure/, 'a proxy not in the list is not believed');
    const none = await serve();
    assert.doesNotMatch((await login(none.base, 'ana', https)).setCookie, /Secure/, 'no proxy is trusted by default');
  });
});

describe('server.trust_proxy', () => {
  const trustOf = (value: unknown) => applyConfig(DEFAULT_CONFIG, { server: { trust_proxy: value } }).server.trustProxy;

  test('accepts true/false, addresses, networks and loopback', () => {
    assert.equal(trustOf(true), true);
    assert.equal(trustOf('false'), false);
    assert.deepEqual(trustOf('127.0.0.1, ::1'), ['127.0.0.1', '::1']);
    assert.deepEqual(trustOf(['loopback', '10.0.0.0/8', 'fd00::/8']), ['loopback', '10.0.0.0/8', 'fd00::/8']);
  });

  test('names the field and the entry of a value that is no address', () => {
    for (const [value, field] of [[['10.0.0.0/8', 'proxy.lan'], 'server.trust_proxy[1]'], ['10.0.0.0/33', 'server.trust_proxy[0]'], [{ a: 1 }, 'server.trust_proxy']] as const) {
      assert.throws(() => trustOf(value), (err: unknown) => err instanceof ConfigError && err.field === field, JSON.stringify(value));
    }
  });
});
