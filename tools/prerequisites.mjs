// What `npm test` and `npm run demo` need on the machine, installed when missing. Node built-ins
// only: this runs before `npm ci` has put anything in node_modules.
//   node tools/prerequisites.mjs test   → everything the test suite needs
//   (tools/demo.mjs imports the pieces it needs)
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Each binary the tests run, and the Debian package that brings it. */
const TEST_BINARIES = [
  ['mariadbd', 'mariadb-server-core'],
  ['mariadb-install-db', 'mariadb-server-core'],
  ['my_print_defaults', 'mariadb-client-core'],
  // The backup stand-in dumps our tables as FreePBX's Backup module does.
  ['mysqldump', 'mariadb-client'],
  ['php', 'php-cli'],
  // What FreePBX's PHP always has and our glue uses: simplexml (module.xml), mb_* (user names).
  ['php-ext:SimpleXML', 'php-xml'],
  ['php-ext:mbstring', 'php-mbstring'],
  // The FreePBX stand-in compares user names as MariaDB's accent-insensitive collation does.
  ['php-ext:intl', 'php-intl'],
  // The 3-node Galera cluster of test/galera.test.ts (tools/galera.mjs): its rsync SST script,
  // rsync, and the socket lister the script waits for rsync's port with.
  ['wsrep_sst_rsync', 'mariadb-server'],
  ['rsync', 'rsync'],
  ['ss', 'iproute2'],
  ['chromium', 'chromium'],
  ['msgfmt', 'gettext'],
];
/** Not binaries: a font, and the wsrep provider of the Galera cluster's nodes. */
const TEST_FILES = [
  // Without a font Chromium draws charts and text as nothing.
  ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 'fonts-dejavu-core'],
  ['/usr/lib/galera/libgalera_smm.so', 'galera-4'],
];

/** A private MariaDB server: mariadbd, mariadb-install-db and the my_print_defaults it runs. */
export const MARIADB_BINARIES = TEST_BINARIES.filter(([, pkg]) => pkg === 'mariadb-server-core' || pkg === 'mariadb-client-core');

/**
 * @param {string} who  prefix of every line we print
 * @param {string} command
 * @param {string[]} args
 */
function run(who, command, args) {
  process.stderr.write(`${who}: ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) throw new Error(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.signal ?? `exit ${result.status}`})`);
}

/**
 * @param {string} name
 * @returns {string | null}
 */
export function findBinary(name) {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path)) ?? null;
}

/** A binary on the PATH, an absolute path, or `php-ext:<name>` (a module `php -m` lists). */
function present(what) {
  if (what.startsWith('/')) return existsSync(what);
  if (!what.startsWith('php-ext:')) return findBinary(what) !== null;
  const php = findBinary('php');
  if (!php) return false;
  const modules = spawnSync(php, ['-m'], { encoding: 'utf8' }).stdout ?? '';
  return modules.split('\n').some((line) => line.trim().toLowerCase() === what.slice('php-ext:'.length).toLowerCase());
}

/** npm ci when node_modules is missing or older than package-lock.json. */
export function ensureDependencies(who) {
  const installed = join(ROOT, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(join(ROOT, 'package-lock.json')).mtimeMs) return;
  run(who, 'npm', ['ci', '--no-audit', '--no-fund']);
}

/**
 * Installs the Debian packages behind whatever of `needs` ([binary or absolute path, package])
 * is missing; not root (or no apt-get): exits at once with the one command to run.
 * @param {string} who
 * @param {string[][]} needs
 */
export function ensureDebianPackages(who, needs) {
  const missing = needs.filter(([what]) => !present(what));
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  if (packages.length === 0) return;
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...packages];
  if (process.getuid?.() !== 0 || !findBinary('apt-get')) {
    process.stderr.write(`${who}: missing ${missing.map(([what]) => what).join(', ')}; install them, then run again:\n`);
    process.stderr.write(`  sudo apt-get update && sudo ${install.join(' ')}\n`);
    process.exit(1);
  }
  process.env.DEBIAN_FRONTEND = 'noninteractive';
  run(who, 'apt-get', ['update']);
  run(who, install[0], install.slice(1));
  const still = needs.filter(([what]) => !present(what));
  if (still.length) throw new Error(`apt-get did not bring ${still.map(([what, pkg]) => `${what} (${pkg})`).join(', ')}`);
}

async function forTests() {
  const who = 'npm test';
  ensureDebianPackages(who, [...TEST_BINARIES, ...TEST_FILES]);
  ensureDependencies(who);
  // Debian 12's own Node 18 (the Node FreePBX 17 runs) for test/node18.test.ts: fetched, not
  // installed, and only where we may (root); elsewhere that test says it was skipped.
  if (process.getuid?.() === 0) {
    const { ensureNode18 } = await import('./node18.mjs');
    ensureNode18(join(ROOT, '.cache', 'node18'));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv[2];
  if (what !== 'test') {
    process.stderr.write('usage: node tools/prerequisites.mjs test\n');
    process.exit(2);
  }
  try {
    await forTests();
  } catch (err) {
    process.stderr.write(`npm test: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
