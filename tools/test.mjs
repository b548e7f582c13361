// Runs the compiled tests (build/test/**/*.test.js) against one private MariaDB that
// lives only as long as this run. Arguments that do not start with '-' filter test files
// by path (`node tools/test.mjs config harness`); the others go to `node --test`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startMariadb } from './mariadb.mjs';

const BUILD_TESTS = 'build/test';

/**
 * @param {string} dir
 * @returns {string[]}
 */
function testFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

/** Debian's Node 18 (the Node FreePBX 17 runs), when `node tools/node18.mjs` fetched it. */
function node18() {
  const wrapper = join(process.cwd(), '.cache', 'node18', 'node18');
  return existsSync(wrapper) ? { SMC_NODE18: wrapper } : {};
}

const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('-'));
const runnerArgs = args.filter((a) => a.startsWith('-'));

let files;
try {
  files = testFiles(BUILD_TESTS);
} catch {
  console.error(`${BUILD_TESTS} is missing: run \`node tools/build.mjs\` first`);
  process.exit(1);
}
if (filters.length) files = files.filter((f) => filters.some((word) => relative(BUILD_TESTS, f).includes(word)));
if (files.length === 0) {
  console.error(`no test files in ${BUILD_TESTS} match ${filters.join(', ') || '(all)'}`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'smc-test-'));
/** @type {import('./mariadb.mjs').Mariadb | null} */
let db = null;
/** @type {import('node:child_process').ChildProcess | null} */
let runner = null;
// Ctrl-C stops the tests, then the normal path below stops MariaDB and removes its
// directory; exiting from the handler would leave a half-started server behind.
/** @type {NodeJS.Signals | null} */
let interrupted = null;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    interrupted = signal;
    runner?.kill(signal);
  });
}

let code = 1;
try {
  const started = Date.now();
  db = await startMariadb({ dir });
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
  console.log(`# private MariaDB ready in ${((Date.now() - started) / 1000).toFixed(1)}s on ${db.socket}`);
  const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...runnerArgs, ...files], {
    stdio: 'inherit',
    env: {
      ...process.env,
      SMC_TEST_MYSQL_SOCKET: db.socket,
      // A FreePBX built on this machine has a real /etc/freepbx.conf and amportal.conf: a
      // service started by a test with pbx: freepbx would take its credentials from them.
      SMC_FREEPBX_CONF: join(dir, 'no-freepbx.conf'),
      SMC_AMPORTAL_CONF: join(dir, 'no-amportal.conf'),
      ...node18(),
    },
  });
  runner = child;
  code = await new Promise((resolve) => {
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  code = 1;
} finally {
  try {
    await db?.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(interrupted ? 130 : code);
