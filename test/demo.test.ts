import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { parse as parseYaml } from 'yaml';
import { ident } from '../src/db/pool.js';
import { repoRoot, testSocket } from './harness/db.js';

const WAIT_MS = 180_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, output: () => string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}; smc demo said:\n${output()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const tag = `demo_${process.pid}`;
const names = { cdr: `${tag}_cdr`, pbx: `${tag}_pbx` };
const dir = mkdtempSync(join(tmpdir(), 'smc-demo-'));
const root = await mysql.createConnection({ socketPath: testSocket(), user: 'root', dateStrings: true });
let child: ChildProcess | null = null;

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const db of Object.values(names)) await root.query(`DROP DATABASE IF EXISTS ${ident(db)}`);
  await root.end();
  rmSync(dir, { recursive: true, force: true });
});

function startDemo(port: number): { process: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const args = [
    join(repoRoot(), 'build', 'smc.js'), 'demo', '--socket', testSocket(), '--dir', dir, '--port', String(port),
    '--history-days', '2', '--calls-per-minute', '30', '--cdr-database', names.cdr, '--pbx-database', names.pbx,
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  proc.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { process: proc, output: () => text, exited };
}

test('`smc demo` fills a month-like history, serves the pages with demo logins, keeps live calls coming, and stops on Ctrl-C', { timeout: 2 * WAIT_MS }, async () => {
  const port = await freePort();
  const [[{ now: beforeStart }]] = (await root.query('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const demo = startDemo(port);
  child = demo.process;
  let gone = false;
  void demo.exited.then(() => (gone = true));

  const url = await until('the URL', async () => {
    if (gone) assert.fail(`smc demo exited before printing the URL:\n${demo.output()}`);
    return /Smart Missed Calls demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.output())?.[1];
  }, demo.output);
  assert.equal(url, `http://127.0.0.1:${port}/`);
  assert.match(demo.output(), /admin \/ admin/);
  assert.match(demo.output(), /Ctrl-C stops the demo/);

  const config = parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8'));
  assert.equal(config.server.listen, `127.0.0.1:${port}`);
  assert.equal(config.mail.transport, 'none');

  const wrong = await fetch(`${url}login`, { method: 'POST', body: new URLSearchParams({ user: 'admin', password: 'nope' }), redirect: 'manual' });
  assert.equal(wrong.status, 401);
  const login = await fetch(`${url}login`, {
    method: 'POST', body: new URLSearchParams({ user: 'admin', password: 'admin', next: '/entries' }), redirect: 'manual',
  });
  assert.equal(login.status, 303);
  assert.equal(login.headers.get('location'), '/entries');
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

  const list = (await (await fetch(`${url}api/entries?status=all`, { headers: { cookie } })).json()) as {
    total: number; entries: { caller: string; route: string; href: string; pastTarget: string }[];
  };
  assert.ok(list.total > 10, `a couple of days of history leave a list of missed calls (got ${list.total})`);
  // Route names come from the FreePBX tables the demo filled, not bare numbers.
  assert.ok(list.entries.some((e) => /Sales|Support|Billing|Office|Service desk|Reception|\(.+\)/.test(e.route)), JSON.stringify(list.entries.slice(0, 5)));
  const page = await fetch(`${url}entries?status=all`, { headers: { cookie } });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.ok(html.includes(list.entries[0]!.caller), 'the list page shows the entries');
  const detail = await fetch(new URL(list.entries[0]!.href, url), { headers: { cookie } });
  assert.equal(detail.status, 200);
  // The demo tenant's callback target: late entries are marked and escalated (journalled; the demo mails nobody).
  assert.ok(list.entries.some((e) => /^Past target by /.test(e.pastTarget)), 'open entries past the demo target are marked');
  await until('an escalation in the journal', async () => {
    const [rows] = await root.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${ident(names.pbx)}.smart_missed_calls_audit WHERE event = 'escalated'`);
    return Number(rows[0]!.n) > 0;
  }, demo.output);

  const live = async () => {
    const [rows] = await root.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${ident(names.pbx)}.smart_missed_calls_calls WHERE started_at >= ?`, [beforeStart],
    );
    return Number(rows[0]!.n);
  };
  await until('a live call to be classified', async () => (await live()) > 0, demo.output);
  // The demo's agents claim entries as a team would (working the list, calling back): claims show with the live traffic.
  const agentClaims = async () => {
    const [rows] = await root.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${ident(names.pbx)}.smart_missed_calls_audit WHERE event = 'claimed' AND actor LIKE 'user:%' AND ext IS NOT NULL AND created_at >= ?`, [beforeStart],
    );
    return Number(rows[0]!.n);
  };
  await until('a demo agent to claim an entry', async () => (await agentClaims()) > 0, demo.output);

  demo.process.kill('SIGINT');
  assert.equal(await demo.exited, 0, demo.output());
  assert.equal(await portAnswers(port), false, 'the service no longer listens');
  assert.match(demo.output(), /stopping \(SIGINT\)/);
});

test('a second `smc demo` reuses the data: no second history, the live calls go on', { timeout: 2 * WAIT_MS }, async () => {
  assert.ok(existsSync(join(dir, 'config.yaml')));
  const [[{ n: before }]] = (await root.query(`SELECT COUNT(*) AS n FROM ${ident(names.cdr)}.cdr`)) as unknown as [[{ n: number }]];
  const port = await freePort();
  const demo = startDemo(port);
  child = demo.process;
  await until('the URL', async () => demo.output().includes(`http://127.0.0.1:${port}/`), demo.output);
  assert.match(demo.output(), /reusing the demo's calls/);
  assert.doesNotMatch(demo.output(), /history:/);
  await until('new live CDR rows', async () => {
    const [[{ n }]] = (await root.query(`SELECT COUNT(*) AS n FROM ${ident(names.cdr)}.cdr`)) as unknown as [[{ n: number }]];
    return Number(n) > Number(before);
  }, demo.output);
  demo.process.kill('SIGINT');
  assert.equal(await demo.exited, 0, demo.output());
});
