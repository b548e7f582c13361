import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { signedGet } from '../helpers/signed-get.js';

const SECRET = 'serve-test-secret-0123456789abcdef';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function get(target: { socketPath: string } | { host: string; port: number }, path: string): Promise<{ status: number; body: string }> {
  return signedGet(target, path, SECRET);
}

/** Waits for the service to answer; a service that exits or never answers fails the test instead of hanging it. */
async function until<T>(probe: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > end) throw new Error(`the service did not answer within ${deadlineMs / 1000} s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Reads the service's log as it comes: a pipe nobody reads fills up and blocks the service's next log line. */
function drained(child: ChildProcess): ChildProcess {
  child.stderr!.resume();
  return child;
}

/** The exit code, or a sentence saying it did not exit: a service that hangs on a signal fails its test instead of the whole file. */
function exitOf(child: ChildProcess, withinMs = 30_000): Promise<number | null | string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(`still running ${withinMs / 1000} s later`), withinMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('smc serve', () => {
  let db: FreshDatabases;
  let dir: string;

  before(async () => {
    db = await freshDatabases('serve');
    dir = mkdtempSync(join(tmpdir(), 'smc-serve-'));
  });

  /** Every service a test started: one a failed test left running would keep this file from ending. */
  const children: ChildProcess[] = [];

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await db?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  function configFile(listen: string): string {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, stringify({
      pbx: 'freepbx',
      db: { socket: db.socket, user: 'root', database: db.names.own, cdr_database: db.names.cdr, pbx_database: db.names.pbx },
      server: { listen, secret: SECRET },
      sync: { interval_seconds: 1, settle_seconds: 1 },
    }));
    return path;
  }

  function serve(config: string): ChildProcess {
    const child = drained(spawn(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', config, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] }));
    children.push(child);
    return child;
  }

  test('serves the pages on a loopback port and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = serve(configFile(`127.0.0.1:${port}`));
    const exited = exitOf(child);
    const health = await until(() => get({ host: '127.0.0.1', port }, '/api/health'));
    assert.equal(health.status, 200);
    const page = await get({ host: '127.0.0.1', port }, '/dashboard');
    assert.equal(page.status, 200);
    assert.match(page.body, /data-chart="daily"/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  test('serves on a unix socket', async () => {
    const socketPath = join(dir, 'smc.sock');
    const child = serve(configFile(`unix:${socketPath}`));
    const exited = exitOf(child);
    const health = await until(() => get({ socketPath }, '/api/health'));
    assert.equal(health.status, 200);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });

  test("finds its views when another script loads the bundle, as pm2's ProcessContainerFork.js does (argv[1] is not the bundle)", async () => {
    // pm2 runs `node …/pm2/lib/ProcessContainerFork.js serve`, which imports the app.
    const loader = join(dir, 'elsewhere', 'ProcessContainerFork.mjs');
    mkdirSync(dirname(loader), { recursive: true });
    writeFileSync(loader, `await import(${JSON.stringify(pathToFileURL(join(repoRoot(), 'build', 'smc.js')).href)});\n`);
    const port = await freePort();
    const child = drained(spawn(process.execPath, [loader, '--config', configFile(`127.0.0.1:${port}`), 'serve'], { cwd: dirname(loader), stdio: ['ignore', 'ignore', 'pipe'] }));
    children.push(child);
    const exited = exitOf(child);
    await until(() => get({ host: '127.0.0.1', port }, '/api/health'));
    const page = await get({ host: '127.0.0.1', port }, '/dashboard');
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.match(page.body, /data-chart="daily"/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  function stderrOf(child: ChildProcess): () => string {
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    return () => stderr;
  }

  // A generous bound: before the fix the service ran on, listening nowhere, and never exited.
  test('exits non-zero naming the address when its port is taken, instead of running without listening', { timeout: 60_000 }, async () => {
    const holder = createServer();
    const port = await new Promise<number>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, () => resolve((holder.address() as AddressInfo).port)));
    try {
      const child = serve(configFile(`127.0.0.1:${port}`));
      const stderr = stderrOf(child);
      assert.equal(await exitOf(child), 1);
      assert.match(stderr(), new RegExp(`smc: cannot listen on 127\\.0\\.0\\.1:${port}: it is already in use`));
      assert.doesNotMatch(stderr(), /web listening/);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  test('leaves a unix socket another process answers on alone, and exits non-zero naming it', { timeout: 60_000 }, async () => {
    const socketPath = join(dir, 'taken.sock');
    const holder = createNetServer((c) => {
      // smc serve's probe hangs up at once.
      c.on('error', () => {});
      c.end('holder\n');
    });
    await new Promise<void>((resolve) => holder.listen(socketPath, () => resolve()));
    try {
      const child = serve(configFile(`unix:${socketPath}`));
      const stderr = stderrOf(child);
      assert.equal(await exitOf(child), 1);
      assert.match(stderr(), new RegExp(`smc: cannot listen on unix:${socketPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: it is already in use`));
      const answer = await new Promise<string>((resolve, reject) => {
        const c = connect(socketPath);
        let text = '';
        c.on('data', (d) => (text += d.toString()));
        c.on('end', () => resolve(text));
        c.on('error', reject);
      });
      assert.equal(answer, 'holder\n', 'the other process still owns its socket');
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  test('replaces a socket file nobody answers on (left by a killed instance)', async () => {
    const socketPath = join(dir, 'stale.sock');
    writeFileSync(socketPath, '');
    const child = serve(configFile(`unix:${socketPath}`));
    const exited = exitOf(child);
    const health = await until(() => get({ socketPath }, '/api/health'));
    assert.equal(health.status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  test('refuses to listen on a public address', async () => {
    const child = serve(configFile('0.0.0.0:8093'));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    assert.equal(await exitOf(child), 1);
    assert.match(stderr, /server\.listen: '0\.0\.0\.0:8093' must be a loopback host:port/);
  });
});
