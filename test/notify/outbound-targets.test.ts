/**
 * SSRF (issue 15, item 5): webhooks and the caller-name lookup reach only public addresses
 * unless config.yaml's notify.allow_private_networks lists the internal network. The test
 * servers listen on 127.0.0.1 and 127.0.0.2 — exactly the kind of target that is refused —
 * so each case shows both sides: refused by default, reached when the administrator allows.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { httpLookup, lookupProblemOf, resolveCallerName } from '../../src/notify/caller-names.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { parseNetworks } from '../../src/config/networks.js';
import { postWebhook } from '../../src/notify/webhook.js';
import { Notifier } from '../../src/notify/worker.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { csrfToken } from '../../src/web/csrf.js';
import { signIdentity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';

const HOOK_SECRET = 'a-webhook-secret-of-some-length';
const IDENTITY_SECRET = 'ssrf-test-identity-secret-0123456789';
const INTERNAL = /an internal address \(127\.0\.0\.0\/8\); the PBX administrator can allow it in config\.yaml \(notify\.allow_private_networks\)/;

interface TestServer {
  server: Server;
  base: string;
  port: number;
  hits: string[];
}

async function serve(host: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as AddressInfo).port;
  return { server, base: `http://${host}:${port}`, port, hits };
}

let db: FreshDatabases;
/** A CRM stand-in on 127.0.0.1, and an "internal service" on 127.0.0.2 it redirects to. */
let crm: TestServer;
let internal: TestServer;
const servers: Server[] = [];
const allowing = (...networks: string[]): Config => ({ ...db.config, notify: { allowPrivateNetworks: networks } });

before(async () => {
  db = await freshDatabases('ssrf');
  internal = await serve('127.0.0.2', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('root:x:0:0:internal secret\n'));
  crm = await serve('127.0.0.1', (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/hook') res.writeHead(200).end();
    else if (path === '/name') res.writeHead(200, { 'content-type': 'text/plain' }).end('Ana Lookup\nsecond line\n');
    else if (path === '/to-internal') res.writeHead(302, { location: `${internal.base}/etc/passwd` }).end();
    else if (path === '/to-ftp') res.writeHead(302, { location: `ftp://files.invalid/?n=${new URL(req.url ?? '/', 'http://x').searchParams.get('n')}` }).end();
    else if (path === '/moved') res.writeHead(301, { location: '/name' }).end();
    else if (path === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else if (path === '/silent') return; // never answers
    else if (path === '/trickle') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const drip = setInterval(() => res.write('a'), 100);
      res.on('close', () => clearInterval(drip));
    } else if (path === '/big') res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(64 * 1024));
    else res.writeHead(404).end();
  });
  servers.push(crm.server, internal.server);
});

after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await db?.cleanup();
});

async function drain(n: Notifier, tenant: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    await n.pass();
    const { recent } = await recentDeliveries(db.pool, tenant, 200);
    if (recent.length && recent.every((d) => d.status !== 'pending' && d.status !== 'sending')) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('deliveries still pending');
}

test('a webhook to loopback is refused by default with the reason where delivery failures show, and delivered once config.yaml allows it', async () => {
  const retry = { baseMs: 10, maxMs: 20, maxAttempts: 2 };
  await saveSettings(db.pool, 'hooks-default', { cadence: 'off', webhooks: [{ url: `${crm.base}/hook`, secret: HOOK_SECRET }] }, 'test');
  await record(db.pool, 'hooks-default', [callVerdict('missed', { caller: '0733000001', at: '2025-05-07 09:00:00' })]);
  const refusing = new Notifier({ pool: db.pool, config: db.config, mailer: null, webhookRetry: retry });
  await drain(refusing, 'hooks-default');
  await refusing.close();
  assert.deepEqual(crm.hits.filter((h) => h.startsWith('POST')), [], 'nothing reached the loopback receiver');
  const { failures } = await recentDeliveries(db.pool, 'hooks-default');
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.status, 'dead');
  assert.match(failures[0]!.lastError ?? '', /^127\.0\.0\.1 is 127\.0\.0\.1, /);
  assert.match(failures[0]!.lastError ?? '', INTERNAL);

  await saveSettings(db.pool, 'hooks-allowed', { cadence: 'off', webhooks: [{ url: `${crm.base}/hook`, secret: HOOK_SECRET }] }, 'test');
  await record(db.pool, 'hooks-allowed', [callVerdict('missed', { caller: '0733000002', at: '2025-05-07 09:00:00' })]);
  const allowed = new Notifier({ pool: db.pool, config: allowing('127.0.0.1/32'), mailer: null, webhookRetry: retry });
  await drain(allowed, 'hooks-allowed');
  await allowed.close();
  assert.deepEqual(crm.hits.filter((h) => h.startsWith('POST')), ['POST /hook']);
  const { recent } = await recentDeliveries(db.pool, 'hooks-allowed');
  assert.deepEqual(recent.map((d) => d.status), ['sent']);
});

test('a webhook receiver that answers with a redirect is not followed, even to an allowed address', async () => {
  const before = crm.hits.length;
  const result = await postWebhook({ url: `${crm.base}/moved`, secret: HOOK_SECRET, allowedNetworks: parseNetworks(['127.0.0.0/8']) }, 'k1', '{}', 5_000);
  assert.equal(result.ok, false);
  assert.match(result.error, /^answered with a redirect \(HTTP 301\) to \/name, which is not followed$/);
  assert.deepEqual(crm.hits.slice(before), ['POST /moved'], 'the redirect target was not asked');
});

test('the name lookup: loopback refused by default in every spelling, reached when allowed, and a redirect to a refused address is refused', async () => {
  const none = parseNetworks([]);
  const onlyCrm = parseNetworks(['127.0.0.1/32']);
  const askedBefore = crm.hits.length;
  for (const template of [
    `${crm.base}/name?n={number}`,
    `http://localhost:${crm.port}/name?n={number}`, // a name: refused after DNS resolution
    `http://2130706433:${crm.port}/name?n={number}`,
    `http://0x7f.1:${crm.port}/name?n={number}`,
    `http://127.1:${crm.port}/name?n={number}`,
    `http://[::ffff:127.0.0.1]:${crm.port}/name?n={number}`,
    `http://0.0.0.0:${crm.port}/name?n={number}`,
  ]) {
    const outcome = await httpLookup(template, '0744000001', none);
    assert.ok('problem' in outcome && outcome.problem.kind === 'refused', `${template}: ${JSON.stringify(outcome)}`);
  }
  assert.equal(crm.hits.length, askedBefore, 'no refused lookup reached the server');

  assert.deepEqual(await httpLookup(`${crm.base}/name?n={number}`, '0744000001', onlyCrm), { name: 'Ana Lookup' });
  assert.deepEqual(await httpLookup(`${crm.base}/moved?n={number}`, '0744000001', onlyCrm), { name: 'Ana Lookup' }, 'a redirect to an allowed address is followed');

  const redirected = await httpLookup(`${crm.base}/to-internal?n={number}`, '0744000001', onlyCrm);
  assert.ok('problem' in redirected && redirected.problem.kind === 'refused');
  assert.match(redirected.problem.message, /^127\.0\.0\.2 is 127\.0\.0\.2, an internal address \(127\.0\.0\.0\/8\)/);
  assert.deepEqual(internal.hits, [], 'the internal service was never asked');
  // The same redirect with 127.0.0.2 allowed reaches it: the refusal above was the policy's.
  assert.deepEqual(await httpLookup(`${crm.base}/to-internal?n={number}`, '0744000001', parseNetworks(['127.0.0.0/8'])), { name: 'root:x:0:0:internal secret' });

  const loop = await httpLookup(`${crm.base}/loop?n={number}`, '0744000001', onlyCrm);
  assert.ok('problem' in loop && /^more than 3 redirects$/.test(loop.problem.message), JSON.stringify(loop));
  const big = await httpLookup(`${crm.base}/big?n={number}`, '0744000001', onlyCrm);
  assert.ok('problem' in big && big.problem.kind === 'too-large', JSON.stringify(big));
});

test('one deadline covers the whole request: a receiver that never answers, a name that trickles in', async () => {
  const onlyCrm = parseNetworks(['127.0.0.1/32']);
  const silent = await postWebhook({ url: `${crm.base}/silent`, secret: HOOK_SECRET, allowedNetworks: onlyCrm }, 'k2', '{}', 300);
  assert.deepEqual(silent, { ok: false, status: null, error: 'no answer within 300 ms' });
  const started = Date.now();
  const trickle = await httpLookup(`${crm.base}/trickle?n={number}`, '0744000001', onlyCrm);
  assert.ok('problem' in trickle && trickle.problem.kind === 'timeout', JSON.stringify(trickle));
  assert.ok(Date.now() - started < 30_000, 'the lookup gave up (2 s deadline; generous budget)');
});

test('a refused lookup is shown on the settings page, and the page refuses internal URLs typed into it, unless config.yaml allows them', async () => {
  await saveSettings(db.pool, 'default', { lookupUrlTemplate: `${crm.base}/to-ftp?n={number}` }, 'test');
  assert.equal(await resolveCallerName(db.pool, allowing('127.0.0.1/32'), 'default', '0745000003'), null);
  assert.deepEqual(await lookupProblemOf(db.pool, 'default'), {
    template: '{url} is not an http or https URL', params: { url: 'ftp://files.invalid/?n={number}' },
  }, 'the stored problem keeps no caller number (it would outlive smc forget)');

  await saveSettings(db.pool, 'default', { lookupUrlTemplate: `${crm.base}/to-internal?n={number}` }, 'test');
  assert.equal(await resolveCallerName(db.pool, allowing('127.0.0.1/32'), 'default', '0745000001'), null, 'the redirect is refused: no name');
  const problem = await lookupProblemOf(db.pool, 'default');
  assert.match(problem?.template ?? '', /an internal address/);
  assert.equal(problem?.params.address, '127.0.0.2');

  const page = async (config: Config) => {
    const app = createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot() });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const headers = (): Record<string, string> => {
    const signed = signIdentity(IDENTITY_SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
    return {
      'x-smc-identity': signed.header, 'x-smc-signature': signed.signature, 'content-type': 'application/json',
      'x-csrf-token': csrfToken(IDENTITY_SECRET, 'pbx\nana\ndefault\nadmin'),
    };
  };
  const withSecret = (config: Config): Config => ({ ...config, server: { ...config.server, secret: IDENTITY_SECRET } });
  const refusing = await page(withSecret(db.config));
  const html = await (await fetch(`${refusing}/settings`, { headers: headers() })).text();
  assert.match(html, /id="smc-lookup-problem"[^>]*>The last caller name lookup failed: 127\.0\.0\.2 is 127\.0\.0\.2, an internal address \(127\.0\.0\.0\/8\)/);

  const post = (base: string, change: Record<string, unknown>) => fetch(`${base}/api/settings`, { method: 'POST', headers: headers(), body: JSON.stringify(change) });
  const hook = { url: 'http://0x7f.1:8080/hook', secret: HOOK_SECRET, events: ['entry.created'] };
  const refused = await post(refusing, { webhooks: [hook], lookupUrlTemplate: 'http://[::ffff:169.254.169.254]/latest?n={number}' });
  assert.equal(refused.status, 422);
  const { errors } = (await refused.json()) as { errors: Record<string, string> };
  assert.match(errors['webhooks.0.url'] ?? '', /^127\.0\.0\.1 is an internal address \(127\.0\.0\.0\/8\); the PBX administrator can allow it/);
  assert.match(errors.lookupUrlTemplate ?? '', /^::ffff:a9fe:a9fe is an internal address \(169\.254\.0\.0\/16\)/);

  const allowingPage = await page(withSecret(allowing('127.0.0.0/8', '169.254.169.254')));
  const accepted = await post(allowingPage, { webhooks: [hook], lookupUrlTemplate: `${crm.base}/name?n={number}` });
  assert.equal(accepted.status, 200, await accepted.clone().text());
  assert.deepEqual(await resolveCallerName(db.pool, allowing('127.0.0.1/32'), 'default', '0745000002'), { name: 'Ana Lookup', source: 'http' });
  assert.equal(await lookupProblemOf(db.pool, 'default'), null, 'a lookup that worked clears the problem');
  const after = await (await fetch(`${allowingPage}/settings`, { headers: headers() })).text();
  assert.doesNotMatch(after, /smc-lookup-problem/);
});
