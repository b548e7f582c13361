// The packaged service under a real pm2, started the way FreePBX's pm2 module starts apps
// (Pm2::start in pm2 17: `cd <dirname of the process string> && SMC_CONFIG=… pm2 start
// <script> -f --update-env --name … -e … -o … --log /dev/null --merge-logs -- <args>`, with
// PM2_HOME set), then its pages fetched. Two apps: what the module starts now (the Node
// launcher build/smc-node.sh, run by pm2 with bash) and the bundle itself as the module
// used to start it, where pm2 loads it through its ProcessContainerFork.js (so argv[1] is
// not the bundle: the service must find views/ from its own file, or every page is a 503).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { signIdentity } from '../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from './harness/db.js';

const root = repoRoot();
const pm2Bin = join(root, 'node_modules', 'pm2', 'bin', 'pm2');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const SECRET = 'pm2-test-secret-0123456789abcdef0123';

let dir: string;
let moduleDir: string;
let pm2Home: string;
let db: FreshDatabases;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function writeConfig(name: string, port: number): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, stringify({
    pbx: 'freepbx',
    db: { socket: db.socket, user: 'root', password: '', database: db.names.own, cdr_database: db.names.cdr, pbx_database: db.names.pbx },
    server: { listen: `127.0.0.1:${port}`, secret: SECRET },
    sync: { interval_seconds: 1, settle_seconds: 1 },
    mail: { transport: 'none' },
    voicemail_spool: join(dir, 'no-voicemail-spool'),
  }));
  return path;
}

function pm2(args: string[], cwd: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [pm2Bin, ...args], {
    cwd,
    env: { ...process.env, PM2_HOME: pm2Home, HOME: dir, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `pm2 start` as Pm2::start() builds it from its process string "<script> <args>". */
function startLikeFreepbx(name: string, processString: string, environment: Record<string, string>): void {
  const [script, args] = [processString.split(' ')[0]!, processString.split(' ').slice(1)];
  const logs = join(dir, 'asterisk-log');
  mkdirSync(logs, { recursive: true });
  pm2(
    ['start', script, '-f', '--update-env', '--name', name, '-e', join(logs, `${name}_err.log`), '-o', join(logs, `${name}_out.log`),
      '--log', '/dev/null', '--merge-logs', '--log-date-format', 'YYYY-MM-DD HH:mm Z', ...(args.length ? ['--', ...args] : [])],
    // Pm2::start runs pm2 in dirname() of the whole process string.
    processString.slice(0, processString.lastIndexOf('/')),
    environment,
  );
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const signed = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature } });
  return { status: res.status, body: await res.text() };
}

/** Polls the service's health until it answers 200; fails with pm2's error log after `ms`. */
async function healthy(name: string, port: number, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = await get(port, '/api/health').then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) {
      const errLog = join(dir, 'asterisk-log', `${name}_err.log`);
      throw new Error(`${name} never answered /api/health with 200 (last ${status}); its log:\n${existsSync(errLog) ? readFileSync(errLog, 'utf8').slice(-3000) : '(none)'}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Pm2Process {
  name: string;
  pm2_env: { status: string; exec_interpreter: string; pm_cwd: string };
}

before(async () => {
  // Fail fast and say why: pm2 is a devDependency for this test only.
  if (!existsSync(pm2Bin)) {
    throw new Error(`pm2 is not installed in node_modules (${pm2Bin}): add the devDependency "pm2" (FreePBX 17's pm2 module runs pm2 5.2.2): npm install --save-dev pm2@5.2.2`);
  }
  dir = mkdtempSync(join(tmpdir(), 'smc-pm2-'));
  pm2Home = join(dir, 'pm2-home');
  db = await freshDatabases('pm2');
  const packages = join(dir, 'packages');
  execFileSync(process.execPath, ['tools/package.mjs', '--out', packages], { cwd: root, stdio: 'pipe' });
  const modules = join(dir, 'modules');
  mkdirSync(modules);
  execFileSync('tar', ['-xzf', join(packages, `smartmissedcalls-${version}.tgz`), '-C', modules]);
  moduleDir = join(modules, 'smartmissedcalls');
});

after(async () => {
  if (dir) {
    if (existsSync(pm2Bin)) spawnSync(process.execPath, [pm2Bin, 'kill'], { env: { ...process.env, PM2_HOME: pm2Home, HOME: dir }, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
  await db?.cleanup();
});

describe('under a real pm2, as the FreePBX pm2 module starts it', () => {
  test('the launcher the module starts (build/smc-node.sh smc.js serve) serves the dashboard', { timeout: 180_000 }, async () => {
    const port = await freePort();
    startLikeFreepbx('smartmissedcalls', `${moduleDir}/build/smc-node.sh smc.js serve`, {
      SMC_CONFIG: writeConfig('launcher', port),
      SMC_NODE: process.execPath,
    });
    await healthy('smartmissedcalls', port);
    const page = await get(port, '/dashboard');
    assert.equal(page.status, 200, page.body.slice(0, 500));
    assert.match(page.body, /data-chart="daily"/);
    assert.equal((await get(port, '/assets/vendor/chart.umd.js')).status, 200);

    const listed = JSON.parse(pm2(['jlist'], dir)) as Pm2Process[];
    const app = listed.find((p) => p.name === 'smartmissedcalls');
    assert.equal(app?.pm2_env.status, 'online');
    assert.equal(app?.pm2_env.exec_interpreter, 'bash');
    assert.equal(app?.pm2_env.pm_cwd, join(moduleDir, 'build'));
  });

  test('the bundle started directly, loaded through pm2\'s ProcessContainerFork.js, finds its views (no HTTP 503)', { timeout: 180_000 }, async () => {
    const port = await freePort();
    startLikeFreepbx('smc-direct', `${moduleDir}/build/smc.js serve`, { SMC_CONFIG: writeConfig('direct', port) });
    await healthy('smc-direct', port);
    const page = await get(port, '/dashboard');
    assert.equal(page.status, 200, page.body.slice(0, 500));
    assert.match(page.body, /data-chart="daily"/);
  });
});
