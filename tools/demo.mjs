// `npm run demo`: from a fresh clone to the service running on a demo PBX. The machine's
// part lives here (npm ci, build, MariaDB binaries, a private MariaDB in .demo/mariadb,
// signals); `smc demo` does the rest (databases, history, live calls, the service).
// Arguments go to `smc demo`: `npm run demo -- --port 9000 --calls-per-minute 10`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeHermetic } from './hermetic.mjs';
import { ensureDebianPackages, ensureDependencies, MARIADB_BINARIES } from './prerequisites.mjs';

makeHermetic();

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEMO_DIR = join(ROOT, '.demo');
const BUNDLE = join(ROOT, 'build', 'smc.js');
/** npm forwards a terminal's Ctrl-C to us although the terminal sent it to us too: one press arrives twice. */
const SAME_PRESS_MS = 1500;

const say = (line) => process.stderr.write(`demo: ${line}\n`);

/**
 * Newest modification time of a file or of any file under a folder.
 * @param {string} path
 * @returns {number}
 */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs);
}

function ensureBuild() {
  // tools/mariadb.mjs is bundled too (smc demo loads the PBX schemas with it).
  const sources = ['src', 'tools/build.mjs', 'tools/mariadb.mjs', 'package-lock.json'].map((p) => join(ROOT, p));
  if (existsSync(BUNDLE) && newest(BUNDLE) >= Math.max(...sources.map(newest))) return;
  say('npm run build');
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`npm run build failed (${build.signal ?? `exit ${build.status}`})`);
}

/**
 * A mariadbd of an earlier run that lost its parent still holds the data directory (and
 * answers on the socket, which would fool the start-up check): stop it first.
 * @param {string} dir
 */
async function stopLeftoverMariadb(dir) {
  const pidFile = join(dir, 'mariadb.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!cmdline.includes('mariadbd') || !cmdline.includes(join(dir, 'data'))) return;
  say(`stopping the demo MariaDB an earlier run left behind (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  while (existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 200));
}

/** @type {import('node:child_process').ChildProcess | null} */
let smc = null;
/** @type {NodeJS.Signals | null} */
let interrupted = null;
let firstSignalAt = 0;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(signal, () => {
    const now = Date.now();
    if (!interrupted) {
      interrupted = signal;
      firstSignalAt = now;
      // SIGHUP (terminal closed) stops the service the same way as Ctrl-C.
      smc?.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
    } else if (now - firstSignalAt > SAME_PRESS_MS && smc) {
      say('stopping at once');
      smc.kill('SIGKILL');
    }
  });
}

let code = 1;
/** @type {import('./mariadb.mjs').Mariadb | null} */
let db = null;
try {
  ensureDependencies('demo');
  ensureBuild();
  ensureDebianPackages('demo', MARIADB_BINARIES);
  // Only now: it imports mysql2, which npm ci may just have installed.
  const { startMariadb } = await import('./mariadb.mjs');
  const dataDir = join(DEMO_DIR, 'mariadb');
  await stopLeftoverMariadb(dataDir);
  db = await startMariadb({ dir: dataDir, log: say });
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
  // Its own process group: the terminal's Ctrl-C reaches it once, through us, and mariadbd
  // (which ignores SIGINT) is stopped by us after the service has let go of it.
  const child = spawn(process.execPath, [BUNDLE, 'demo', '--socket', db.socket, '--dir', DEMO_DIR, ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: 'inherit',
    detached: true,
  });
  smc = child;
  code = await new Promise((resolveExit) => {
    child.once('error', (err) => {
      say(`could not start smc demo: ${err.message}`);
      resolveExit(1);
    });
    child.once('exit', (exitCode, signal) => resolveExit(exitCode ?? (signal ? 1 : 0)));
  });
} catch (err) {
  say(err instanceof Error ? err.message : String(err));
  code = 1;
} finally {
  if (db) {
    say('stopping MariaDB');
    await db.stop();
  }
}
say(code === 0 ? 'stopped' : `stopped (exit ${code})`);
process.exit(code);
