// The PHP glue under real php (`php -S` with the FreePBX stand-in, test/php/router.php)
// forwarding to a Node HTTP server that checks the signed identity with the service's own
// verifyIdentity(): who may reach the service, what it is told, and what comes back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signIdentity, verifyIdentity, type Identity } from '../src/web/identity.js';
import { repoRoot } from './harness/db.js';
import { waitForPort } from './helpers/ports.js';

const root = repoRoot();
const SECRET = 'b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184';

interface Seen {
  identity: Identity;
  method: string;
  url: string;
  body: string;
  contentType: string | undefined;
  accept: string | undefined;
  csrf: string | undefined;
}

let dir: string;
let configPath: string;
let backend: Server;
let backendPort: number;
let php: ChildProcess;
let phpPort: number;
const seen: Seen[] = [];
let releaseSecondEvent: () => void = () => {};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function writeConfig(listen: string): void {
  writeFileSync(configPath, `pbx: freepbx\nserver:\n  listen: '${listen}'\n  secret: '${SECRET}'\n`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The service's side of the contract, with the real verification. */
function startBackend(): Promise<void> {
  backend = createServer(async (req, res) => {
    const check = verifyIdentity(
      SECRET,
      req.headers['x-smc-identity'] as string | undefined,
      req.headers['x-smc-signature'] as string | undefined,
      Math.floor(Date.now() / 1000),
    );
    if (!check.ok) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: check.reason }));
      return;
    }
    const entry: Seen = {
      identity: check.identity,
      method: req.method ?? '',
      url: req.url ?? '',
      body: await readBody(req),
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      csrf: req.headers['x-csrf-token'] as string | undefined,
    };
    seen.push(entry);
    // Routed as express routes by default: case-insensitive, trailing slash optional.
    if (/^\/api\/events\/?(\?|$)/i.test(entry.url) || entry.url.startsWith('/api/other-stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: entry\ndata: {"id":1}\n\n');
      // Any stream but the one test's stays open, as a real one does.
      if (entry.url !== '/api/events') return;
      await new Promise<void>((resolve) => {
        releaseSecondEvent = resolve;
      });
      res.end('event: entry\ndata: {"id":2}\n\n');
    } else if (entry.url.startsWith('/api/entries.csv')) {
      // As express's res.attachment() writes it, and one a hostile service might send.
      const name = entry.url.includes('hostile') ? '"../x\\y.csv"; size=1' : '"missed-calls.csv"';
      res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename=${name}` }).end('Caller\r\n');
    } else if (entry.url === '/api/trickle') {
      // Never done, never quiet: a byte every 100 ms.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('.'), 100);
      res.on('close', () => clearInterval(timer));
    } else if (entry.url.startsWith('/api/')) {
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(entry));
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<pre id="seen">${JSON.stringify(entry)}</pre>`);
    }
  });
  return new Promise((resolve) => backend.listen(0, '127.0.0.1', () => {
    backendPort = (backend.address() as { port: number }).port;
    resolve();
  }));
}


interface As {
  user?: string;
  sections?: string;
  lang?: string;
  /** The admin UI's language as FreePBX's View resolved it. */
  uiLang?: string;
}

function userHeaders(as: As): Record<string, string> {
  const h: Record<string, string> = {};
  // %-encoded: a header value loses its outer spaces and carries no UTF-8 of its own.
  if (as.user) h['X-Standin-User'] = encodeURIComponent(as.user);
  h['X-Standin-Sections'] = as.sections ?? 'smartmissedcalls';
  if (as.lang) h['X-Standin-Lang'] = as.lang;
  if (as.uiLang) h['X-Standin-UI-Lang'] = as.uiLang;
  return h;
}

function page(query: string, as: As, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${phpPort}/config.php?display=smartmissedcalls&${query}`, {
    ...init,
    headers: { ...userHeaders(as), ...(init.headers as Record<string, string> | undefined) },
  });
}

function ajax(command: string, path: string, as: As, init: RequestInit = {}): Promise<Response> {
  const url = `http://127.0.0.1:${phpPort}/ajax.php?module=smartmissedcalls&command=${command}&path=${encodeURIComponent(path)}`;
  return fetch(url, { ...init, headers: { ...userHeaders(as), ...(init.headers as Record<string, string> | undefined) } });
}

function seenIn(html: string): Seen {
  const m = /<pre id="seen">(.*?)<\/pre>/s.exec(html);
  assert.ok(m, `the service's page is in the answer: ${html}`);
  return JSON.parse(m[1]!) as Seen;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-glue-'));
  configPath = join(dir, 'config.yaml');
  await startBackend();
  writeConfig(`127.0.0.1:${backendPort}`);
  mkdirSync(join(dir, 'sessions'));
  phpPort = await freePort();
  php = spawn('php', ['-S', `127.0.0.1:${phpPort}`, join(root, 'test/php/router.php')], {
    env: {
      PATH: process.env.PATH,
      PHP_CLI_SERVER_WORKERS: '4',
      SMC_MODULE_DIR: root,
      SMC_CONFIG: configPath,
      SMC_STANDIN_KVSTORE: join(dir, 'kvstore.json'),
      SMC_STANDIN_SETTINGS: '{}',
      SMC_STANDIN_SESSIONS: join(dir, 'sessions'),
      SMC_STANDIN_AMPUSERS: JSON.stringify(['alice', 'bob', 'dave', 'carol']),
    },
    // Its own process group: php -S runs one process per worker, and all must go.
    detached: true,
    stdio: 'ignore',
  });
  await waitForPort(phpPort, 'php -S');
});

after(async () => {
  process.kill(-php.pid!, 'SIGTERM');
  releaseSecondEvent();
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('the page', () => {
  test('shows the service\'s view for an administrator, who is told to the service as admin', async () => {
    const res = await page('view=entries&status=open', { user: 'alice' });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /^<div class="smartmissedcalls" data-ajax="ajax\.php\?module=smartmissedcalls">/);
    const s = seenIn(html);
    assert.equal(s.method, 'GET');
    assert.equal(s.url, '/entries?status=open');
    assert.deepEqual({ ...s.identity, ts: 0 }, { user: 'alice', tenant: 'default', role: 'admin', lang: 'en', ts: 0 });
  });

  test("carries the group view's PBX choice to the service, on pages, an entry and the export", async () => {
    assert.equal(seenIn(await (await page('view=entries&status=all&pbx=all', { user: 'alice' })).text()).url, '/entries?status=all&pbx=all');
    assert.equal(seenIn(await (await page('view=dashboard&pbx=cluj', { user: 'alice' })).text()).url, '/dashboard?pbx=cluj');
    assert.equal(seenIn(await (await page('view=entry&id=42&pbx=all', { user: 'alice' })).text()).url, '/entries/42?pbx=all');
    assert.equal((await ajax('api', '/api/entries.csv?pbx=all&status=all', { user: 'alice' })).status, 200);
    assert.equal(seen.at(-1)!.url, '/api/entries.csv?pbx=all&status=all');
  });

  test('asks for one entry by its number, and refuses anything else as an id', async () => {
    assert.equal(seenIn(await (await page('view=entry&id=42', { user: 'alice' })).text()).url, '/entries/42');
    const count = seen.length;
    const html = await (await page(`view=entry&id=${encodeURIComponent('../settings')}`, { user: 'alice' })).text();
    assert.match(html, /This entry does not exist/);
    assert.equal(seen.length, count);
  });

  test('passes the user\'s language', async () => {
    assert.equal(seenIn(await (await page('view=dashboard', { user: 'alice', lang: 'ro_RO' })).text()).identity.lang, 'ro');
  });

  test('speaks the language FreePBX\'s own pages speak, whatever the user setting or cookie say', async () => {
    assert.equal(seenIn(await (await page('view=dashboard', { user: 'alice', lang: 'en_US', uiLang: 'ro_RO' })).text()).identity.lang, 'ro');
    assert.equal(seenIn(await (await page('view=dashboard', { user: 'alice', lang: 'ro_RO', uiLang: 'en_US' })).text()).identity.lang, 'en');
  });

  /** The settings page in a fresh FreePBX session: its cookie, the form's token, the HTML. */
  async function settingsForm(as: As): Promise<{ cookie: string; token: string; html: string }> {
    const res = await page('view=settings', as);
    const cookie = /PHPSESSID=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const html = await res.text();
    return { cookie, token: /name="smc_token" value="([0-9a-f]*)"/.exec(html)?.[1] ?? '', html };
  }

  function postViewers(as: As, fields: Record<string, string>, cookie: string): Promise<Response> {
    return page('view=settings', as, {
      method: 'POST',
      body: new URLSearchParams({ action: 'smc_viewers', ...fields }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}) },
    });
  }

  test('an administrator names read-only users; they reach the service as viewers and cannot change the list', async () => {
    const form = await settingsForm({ user: 'alice' });
    await postViewers({ user: 'alice' }, { viewers: 'bob, dave', smc_token: form.token }, form.cookie);
    const settings = await (await page('view=settings', { user: 'alice' })).text();
    assert.match(settings, /name="viewers" value="bob, dave"/);
    assert.equal(seenIn(await (await page('view=dashboard', { user: 'bob' })).text()).identity.role, 'viewer');

    const bobs = await settingsForm({ user: 'bob' });
    assert.doesNotMatch(bobs.html, /name="viewers"/, 'a viewer is not offered the form');
    await postViewers({ user: 'bob' }, { viewers: '', smc_token: bobs.token }, bobs.cookie);
    assert.match(await (await page('view=settings', { user: 'alice' })).text(), /value="bob, dave"/);
  });

  test('the read-only users form is saved only with its session\'s token (no cross-site post)', async () => {
    const mine = await settingsForm({ user: 'alice' });
    const other = await settingsForm({ user: 'alice' });
    assert.match(mine.token, /^[0-9a-f]{64}$/);
    assert.notEqual(mine.token, other.token);
    for (const [fields, cookie] of [
      [{ viewers: 'mallory' }, mine.cookie],
      [{ viewers: 'mallory', smc_token: '' }, mine.cookie],
      [{ viewers: 'mallory', smc_token: other.token }, mine.cookie],
      [{ viewers: 'mallory', smc_token: mine.token }, ''],
    ] as const) {
      const html = await (await postViewers({ user: 'alice' }, fields, cookie)).text();
      assert.match(html, /The form expired before it was sent; nothing was saved/, JSON.stringify(fields));
      assert.match(html, /name="viewers" value="bob, dave"/);
    }
    const saved = await (await postViewers({ user: 'alice' }, { viewers: 'bob, dave, erin', smc_token: mine.token }, mine.cookie)).text();
    assert.match(saved, /name="viewers" value="bob, dave, erin"/);
    assert.doesNotMatch(saved, /form expired/);
    await postViewers({ user: 'alice' }, { viewers: 'bob, dave', smc_token: mine.token }, mine.cookie);
  });

  test('a read-only user stays read-only however the name is typed at login (FreePBX finds "BOB " as bob)', async () => {
    for (const typed of ['Bob', 'BOB', 'bob ', 'bób']) {
      const identity = seenIn(await (await page('view=dashboard', { user: typed })).text()).identity;
      assert.deepEqual([identity.user, identity.role], ['bob', 'viewer'], JSON.stringify(typed));
      const form = await settingsForm({ user: typed });
      assert.doesNotMatch(form.html, /name="viewers"/, `${JSON.stringify(typed)} is not offered the form`);
      await postViewers({ user: typed }, { viewers: '', smc_token: form.token }, form.cookie);
    }
    assert.match(await (await page('view=settings', { user: 'alice' })).text(), /value="bob, dave"/);
  });

  test('a user without the Smart Missed Calls section gets a refusal and the service is not asked', async () => {
    const count = seen.length;
    const html = await (await page('view=dashboard', { user: 'carol', sections: 'cdr,reports' })).text();
    assert.match(html, /do not have permission to use Smart Missed Calls/);
    assert.equal(seen.length, count);
  });
});

describe('ajax', () => {
  test('forwards an API call with its method, body, Content-Type and CSRF token, and returns status and type', async () => {
    const res = await ajax('api', '/api/entries/7/resolve?x=1', { user: 'alice' }, {
      method: 'POST',
      body: JSON.stringify({ note: 'called back' }),
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'tok123', Accept: 'application/json' },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const s = (await res.json()) as Seen;
    assert.equal(s.method, 'POST');
    assert.equal(s.url, '/api/entries/7/resolve?x=1');
    assert.equal(s.body, '{"note":"called back"}');
    assert.equal(s.contentType, 'application/json');
    assert.equal(s.csrf, 'tok123');
    assert.equal(s.accept, 'application/json');
    assert.equal(s.identity.user, 'alice');
  });

  test('passes the service\'s Content-Disposition on, so the CSV export is saved as missed-calls.csv and not as "ajax.php"', async () => {
    const res = await ajax('api', '/api/entries.csv?status=open', { user: 'alice' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="missed-calls.csv"');
    const hostile = await ajax('api', '/api/entries.csv?hostile=1', { user: 'alice' });
    assert.equal(hostile.headers.get('content-disposition'), 'attachment; filename="_x_y.csv"');
    const json = await ajax('api', '/api/entries', { user: 'alice' });
    assert.equal(json.headers.get('content-disposition'), null);
  });

  test('refuses a user without the section with 403 before forwarding', async () => {
    const count = seen.length;
    const res = await ajax('api', '/api/entries', { user: 'carol', sections: 'cdr' });
    assert.equal(res.status, 403);
    assert.equal(seen.length, count);
  });

  test('knows only its own commands', async () => {
    assert.equal((await ajax('shell', '/api/entries', { user: 'alice' })).status, 403);
  });

  test('refuses paths that do not fit the command or leave the service\'s tree', async () => {
    const count = seen.length;
    for (const [command, path] of [
      ['page', '/api/entries'],
      ['api', '/dashboard'],
      ['api', '/api/events'],
      ['api', '/api/../../etc/passwd'],
      ['api', '/api/%2e%2e/x'],
      ['page', '//evil.example/x'],
      ['page', '/entries\r\nX-Injected: 1'],
    ] as const) {
      assert.equal((await ajax(command, path, { user: 'alice' })).status, 400, `${command} ${JSON.stringify(path)}`);
    }
    assert.equal((await ajax('page', '/dashboard', { user: 'alice' }, { method: 'DELETE' })).status, 405);
    assert.equal(seen.length, count);
  });

  test('an event stream under another spelling is refused at once, not held open by a PHP worker', async () => {
    const count = seen.length;
    for (const [command, path] of [
      ['api', '/api/events/'],
      ['api', '/api/Events'],
      ['api', '/API/EVENTS?x=1'],
      ['api', '/api//events'],
      ['api', '/api/%65vents'],
      ['page', '/API/EVENTS'],
      ['page', '/Api/Events/'],
    ] as const) {
      const res = await ajax(command, path, { user: 'alice' }, { signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 400, `${command} ${path}`);
    }
    assert.equal(seen.length, count, 'the service was not asked');
  });

  test('an event stream where a whole answer was expected is refused (502), not read for ever', async () => {
    const res = await ajax('api', '/api/other-stream', { user: 'alice' }, { signal: AbortSignal.timeout(15_000) });
    assert.equal(res.status, 502);
  });

  test('forward() gives up at its overall deadline when the answer never ends', async () => {
    const script = `
      require $argv[1];
      $p = new FreePBX\\modules\\Smartmissedcalls\\SmcProxy($argv[2], $argv[3], 2);
      try {
        $p->forward('GET', '/api/trickle', array('user' => 'alice', 'tenant' => 'default', 'role' => 'admin', 'lang' => 'en'));
        echo 'answered';
      } catch (Exception $e) {
        echo get_class($e), ': ', $e->getMessage();
      }`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile('php', ['-r', script, join(root, 'SmcProxy.php'), `127.0.0.1:${backendPort}`, SECRET], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    assert.equal(out, 'FreePBX\\modules\\Smartmissedcalls\\ServiceUnavailable: the service did not finish its answer within 2 s');
  });

  test('streams server-sent events as they come, not when the stream ends', async () => {
    const res = await ajax('events', '/api/events', { user: 'alice' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      while (!text.includes('"id":1')) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'the first event arrives while the service still holds the stream open');
        text += decoder.decode(value, { stream: true });
      }
      assert.doesNotMatch(text, /"id":2/);
    } finally {
      releaseSecondEvent();
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.match(text, /event: entry\ndata: \{"id":1\}\n\nevent: entry\ndata: \{"id":2\}\n\n/);
  });
});

describe('when the service is down', () => {
  test('the page says so and how to start it; ajax answers 503', async () => {
    writeConfig(`127.0.0.1:${await freePort()}`);
    try {
      const html = await (await page('view=dashboard', { user: 'alice' })).text();
      assert.match(html, /service is not running/);
      assert.match(html, /fwconsole start smartmissedcalls/);
      assert.match(html, /fwconsole pm2 --restart smartmissedcalls/);
      const res = await ajax('api', '/api/entries', { user: 'alice' });
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { error: string }).error, /service is not running/);
    } finally {
      writeConfig(`127.0.0.1:${backendPort}`);
    }
  });
});

describe('the signed identity', () => {
  const identity = { user: 'alice', tenant: 'default', role: 'admin', lang: 'en' } as const;

  /** Headers signed by the PHP glue's own code. */
  function phpSigned(secret: string, ts: number): { header: string; signature: string } {
    const out = execFileSync('php', ['-r', `
      require $argv[1];
      $p = new FreePBX\\modules\\Smartmissedcalls\\SmcProxy('127.0.0.1:1', $argv[2]);
      echo json_encode($p->identityHeaders(json_decode($argv[3], true), (int)$argv[4]));
    `, join(root, 'SmcProxy.php'), secret, JSON.stringify(identity), String(ts)], { encoding: 'utf8' });
    const h = JSON.parse(out) as Record<string, string>;
    return { header: h['X-SMC-Identity']!, signature: h['X-SMC-Signature']! };
  }

  async function sendToService(header: string, signature: string): Promise<{ status: number; reason?: string }> {
    const res = await fetch(`http://127.0.0.1:${backendPort}/dashboard`, {
      headers: { 'X-SMC-Identity': header, 'X-SMC-Signature': signature },
    });
    return { status: res.status, reason: res.status === 401 ? ((await res.json()) as { reason: string }).reason : undefined };
  }

  test('what PHP signs, the service accepts, as the same identity', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { header, signature } = phpSigned(SECRET, now);
    assert.deepEqual(verifyIdentity(SECRET, header, signature, now), { ok: true, identity: { ...identity, ts: now } });
    assert.equal(header, signIdentity(SECRET, { ...identity, ts: now }).header);
    assert.equal((await sendToService(header, signature)).status, 200);
  });

  test('a header signed with another secret is refused', async () => {
    const { header, signature } = phpSigned('not-the-secret', Math.floor(Date.now() / 1000));
    assert.deepEqual(await sendToService(header, signature), { status: 401, reason: 'bad signature' });
  });

  test('a header more than 60 s old or ahead is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const ts of [now - 120, now + 120]) {
      const { header, signature } = phpSigned(SECRET, ts);
      const answer = await sendToService(header, signature);
      assert.equal(answer.status, 401);
      assert.match(answer.reason!, /timestamp/);
    }
    const edge = phpSigned(SECRET, now - 30);
    assert.equal(verifyIdentity(SECRET, edge.header, edge.signature, now).ok, true);
  });

  test('a payload changed after signing (viewer made admin) is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { signature } = phpSigned(SECRET, now);
    const forged = Buffer.from(JSON.stringify({ ...identity, role: 'admin', user: 'mallory', ts: now })).toString('base64url');
    assert.deepEqual(await sendToService(forged, signature), { status: 401, reason: 'bad signature' });
  });

  test('missing headers, an empty secret and malformed payloads are refused', () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal(verifyIdentity(SECRET, undefined, undefined, now).ok, false);
    const good = signIdentity(SECRET, { ...identity, ts: now });
    assert.deepEqual(verifyIdentity('', good.header, good.signature, now), { ok: false, reason: 'server.secret is not configured' });
    const badRole = signIdentity(SECRET, { ...identity, role: 'root' as 'admin', ts: now });
    assert.equal(verifyIdentity(SECRET, badRole.header, badRole.signature, now).ok, false);
    assert.throws(() => signIdentity('', { ...identity, ts: now }));
  });
});
