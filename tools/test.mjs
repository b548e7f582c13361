// Runs the compiled tests (build/test/**/*.test.js) against one private MariaDB that
// lives only as long as this run, two files at a time, each under a time limit. Arguments that do not start with '-' filter test files
// by path (`node tools/test.mjs config harness`); the others go to `node --test`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startMariadb } from './mariadb.mjs';
import { makeHermetic } from './hermetic.mjs';

makeHermetic();

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

/** A test file that has not finished by then is stopped and fails, naming itself. */
const FILE_TIMEOUT_MS = Number(process.env.SMC_TEST_FILE_TIMEOUT_MS) || (process.env.SMC_SOAK ? 60 : 10) * 60_000;
const CONCURRENCY = 2;

/** @type {Set<import('node:child_process').ChildProcess>} */
const running = new Set();

/** Each failure's name and cause, repeated after the last file: CI keeps only the end of a long log. */
/** @type {string[]} */
const failures = [];
const REPORT_LINES = 25;

/**
 * The failed tests of one file's TAP output with the lines that say why (error, failure type,
 * stack), leaving out the tests cancelled only because their suite failed: the suite's own
 * report names the cause once.
 * @param {string} file
 * @param {string} tap
 * @returns {string[]}
 */
function failureReports(file, tap) {
  /** @type {string[]} */
  const reports = [];
  const lines = tap.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const failed = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
    if (!failed) continue;
    const detail = [];
    if (lines[i + 1]?.trim() === '---') {
      for (let j = i + 2; j < lines.length && lines[j].trim() !== '...'; j++) detail.push(lines[j].trim());
    }
    if (detail.some((l) => l.includes("failureType: 'cancelledByParent'"))) continue;
    // Node's own stack frames say nothing about the test.
    const why = detail.filter((l) => !/^(duration_ms|location|type):/.test(l) && !/\(node:/.test(l)).slice(0, REPORT_LINES);
    reports.push([`${file}: ${failed[2]}`, ...why.map((l) => `    ${l}`)].join('\n'));
  }
  return reports;
}

/**
 * Runs one test file in its own process group, its output held back and printed whole when it
 * ends (two files at once would interleave); stopped with everything it started after FILE_TIMEOUT_MS.
 * @param {string} file
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ pass: number, fail: number, skipped: number }>}
 */
function runFile(file, env) {
  return new Promise((resolveFile) => {
    const child = spawn(process.execPath, ['--test', ...runnerArgs, file], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    /** @type {Buffer[]} */
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stopGroup(child);
    }, FILE_TIMEOUT_MS);
    const finish = (/** @type {string} */ problem) => {
      clearTimeout(timer);
      running.delete(child);
      const out = Buffer.concat(chunks).toString('utf8');
      process.stdout.write(`# ---- ${relative(BUILD_TESTS, file)}\n${out}`);
      const count = (/** @type {string} */ name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
      const counts = { pass: count('pass'), fail: count('fail') + count('cancelled'), skipped: count('skipped') };
      failures.push(...failureReports(relative(BUILD_TESTS, file), out));
      if (problem) {
        process.stdout.write(`not ok - ${relative(BUILD_TESTS, file)}: ${problem}\n`);
        failures.push(`${relative(BUILD_TESTS, file)}: ${problem}`);
        counts.fail += 1;
      }
      resolveFile(counts);
    };
    child.once('error', (err) => finish(`could not start node --test: ${err.message}`));
    child.once('close', (exitCode, signal) => {
      if (timedOut) finish(`did not finish within ${Math.round(FILE_TIMEOUT_MS / 1000)} s and was stopped with everything it started`);
      else if (exitCode !== 0 && !/^# (fail|cancelled) [1-9]/m.test(Buffer.concat(chunks).toString('utf8'))) finish(`exited with ${signal ?? exitCode} and no failing test`);
      else finish('');
    });
  });
}

/** @param {import('node:child_process').ChildProcess} child */
function stopGroup(child) {
  const kill = (/** @type {NodeJS.Signals} */ signal) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  setTimeout(() => kill('SIGKILL'), 5000).unref();
}

// Ctrl-C stops the tests, then the normal path below stops MariaDB and removes its
// directory; exiting from the handler would leave a half-started server behind.
/** @type {NodeJS.Signals | null} */
let interrupted = null;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    interrupted = signal;
    for (const child of running) stopGroup(child);
  });
}

let code = 1;
const totals = { pass: 0, fail: 0, skipped: 0 };
try {
  const started = Date.now();
  db = await startMariadb({ dir });
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
  console.log(`# private MariaDB ready in ${((Date.now() - started) / 1000).toFixed(1)}s on ${db.socket}`);
  const env = { ...process.env, SMC_TEST_MYSQL_SOCKET: db.socket, ...node18() };
  const queue = [...files];
  const worker = async () => {
    for (let file = queue.shift(); file && !interrupted; file = queue.shift()) {
      const counts = await runFile(file, env);
      totals.pass += counts.pass;
      totals.fail += counts.fail;
      totals.skipped += counts.skipped;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
  code = totals.fail === 0 && totals.pass > 0 ? 0 : 1;
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
if (failures.length) console.log(`# ---- why they failed\n${failures.join('\n')}`);
console.log(`# ${files.length} test files`);
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(interrupted ? 130 : code);
