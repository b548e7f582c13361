// The FreePBX package as Module Admin receives it: layout, size, module.xml as framework
// reads it (simplexml, hooks), PHP that loads on PHP 7.4 and 8.2, and install/uninstall run
// by real php against a real MariaDB with the FreePBX stand-in (test/php/freepbx-standin.php)
// in place of FreePBX itself. Also the separate VitalPBX package.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { LATEST_SCHEMA_VERSION, OWN_TABLES } from '../src/db/migrations.js';
import { ident } from '../src/db/pool.js';
import { freshDatabases, insertCdrRows, loadFixtureCdr, repoRoot, type FreshDatabases } from './harness/db.js';
import { renderChangelog } from '../tools/changelog.mjs';

const root = repoRoot();
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
let work: string;
let moduleDir: string;

function filesUnder(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, base));
    else out.push(relative(base, path));
  }
  return out;
}

let packages: string;
const freepbxPackage = () => join(packages, `smartmissedcalls-${version}.tgz`);
const vitalpbxPackage = () => join(packages, `smartmissedcalls-vitalpbx-${version}.tgz`);

before(() => {
  work = mkdtempSync(join(tmpdir(), 'smc-module-'));
  packages = mkdtempSync(join(tmpdir(), 'smc-packages-'));
  execFileSync(process.execPath, ['tools/package.mjs', '--out', packages], { cwd: root, stdio: 'pipe' });
  execFileSync('tar', ['-xzf', freepbxPackage(), '-C', work]);
  moduleDir = join(work, 'smartmissedcalls');
  // As under /var/www/html: other users (the web server's, pm2's) may walk to the module.
  chmodSync(work, 0o755);
});

/** module.xml read the way framework reads it (_process_archive, Hooks): simplexml_load_file. */
function readModuleXml(path: string): Record<string, unknown> {
  const php = `$x = simplexml_load_file($argv[1]);
if ($x === false) { fwrite(STDERR, "not well-formed XML\n"); exit(1); }
$list = function ($node) { $out = array(); foreach ($node->children() as $name => $child) { $out[] = array($name, trim((string)$child)); } return $out; };
echo json_encode(array(
  'rawname' => (string)$x->rawname, 'name' => (string)$x->name, 'version' => (string)$x->version,
  'category' => (string)$x->category, 'license' => (string)$x->license,
  'menuitems' => $list($x->menuitems), 'depends' => $list($x->depends), 'supported' => $list($x->supported),
  'database' => isset($x->database), 'changelog' => trim((string)$x->changelog),
));`;
  const run = spawnSync('php', ['-r', php, path], { encoding: 'utf8' });
  assert.equal(run.status, 0, `${path}: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

after(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(packages, { recursive: true, force: true });
});

describe('the package', () => {
  test('has one top folder named after the module, with the glue, the bundle and no node_modules', () => {
    assert.deepEqual(readdirSync(work), ['smartmissedcalls']);
    const files = filesUnder(moduleDir);
    for (const needed of [
      'module.xml', 'Smartmissedcalls.class.php', 'SmcProxy.php', 'SmcInstaller.php', 'page.smartmissedcalls.php',
      'install.php', 'build/smc.js', 'build/package.json', 'build/smc-node.sh', 'build/vendor/chart.umd.js', 'Backup.php', 'Restore.php',
      'views/dashboard.ejs', 'views/mail/digest.html.ejs', 'assets/js/smartmissedcalls.js', 'i18n/ro/LC_MESSAGES/smartmissedcalls.po',
    ]) {
      assert.ok(files.includes(needed), `${needed} is in the package`);
    }
    assert.ok(!files.some((f) => f.includes('node_modules') || f.startsWith('src/') || f.startsWith('test/')), files.join(', '));
  });

  test("FreePBX's _() finds a compiled Romanian catalogue with the glue's messages", () => {
    const mo = join(moduleDir, 'i18n', 'ro_RO', 'LC_MESSAGES', 'smartmissedcalls.mo');
    const catalogue = execFileSync('msgunfmt', ['--no-wrap', mo], { encoding: 'utf8' });
    assert.match(catalogue, /msgid "You do not have permission to use Smart Missed Calls\."\nmsgstr "Nu aveți permisiunea de a folosi Smart Missed Calls\."/);
    const php = readFileSync(join(moduleDir, 'page.smartmissedcalls.php'), 'utf8') + readFileSync(join(moduleDir, 'Smartmissedcalls.class.php'), 'utf8');
    for (const m of php.matchAll(/_\('((?:[^'\\]|\\.)*)'\)/g)) {
      const msgid = m[1]!.replace(/\\'/g, "'").replace(/"/g, '\\"');
      assert.ok(catalogue.includes(`msgid "${msgid}"`), `"${msgid}" is translated`);
    }
  });

  test('is under PHP\'s default 2 MB upload limit: no source map, no VitalPBX files', () => {
    const bytes = statSync(freepbxPackage()).size;
    assert.ok(bytes < 2_000_000, `${bytes} bytes: Module Admin's upload refuses more than upload_max_filesize (2M by default)`);
    const files = filesUnder(moduleDir);
    assert.ok(!files.some((f) => f.endsWith('.map') || f.startsWith('vitalpbx/')), files.join(', '));
    assert.equal(statSync(join(moduleDir, 'build/smc-node.sh')).mode & 0o111, 0o111, 'the Node launcher is executable');
  });

  test('the VitalPBX package holds what vitalpbx/install.sh copies', () => {
    const vital = mkdtempSync(join(tmpdir(), 'smc-vitalpbx-'));
    try {
      execFileSync('tar', ['-xzf', vitalpbxPackage(), '-C', vital]);
      const top = join(vital, 'smartmissedcalls');
      const install = readFileSync(join(top, 'vitalpbx/install.sh'), 'utf8');
      const copied = /cp -a ((?:"\$SRC\/[\w.]+" ?)+)/.exec(install);
      assert.ok(copied, 'install.sh copies from $SRC');
      for (const m of copied[1]!.matchAll(/"\$SRC\/([\w.]+)"/g)) assert.ok(existsSync(join(top, m[1]!)), `${m[1]} is in the VitalPBX package`);
      for (const file of ['build/smc.js', 'build/package.json', 'build/vendor/chart.umd.js', 'vitalpbx/www/ajax.php', 'vitalpbx/register.sql']) {
        assert.ok(existsSync(join(top, file)), `${file} is in the VitalPBX package`);
      }
    } finally {
      rmSync(vital, { recursive: true, force: true });
    }
  });

  test('module.xml is XML to framework (simplexml_load_file), here and in the package, with the module\'s name, menu under Reports and this version', () => {
    for (const path of [join(root, 'module.xml'), join(moduleDir, 'module.xml')]) {
      const xml = readModuleXml(path);
      assert.equal(xml.rawname, 'smartmissedcalls', path);
      assert.equal(xml.name, 'Smart Missed Calls');
      assert.equal(xml.category, 'Reports');
      assert.equal(xml.license, 'GPLv3+');
      assert.deepEqual(xml.menuitems, [['smartmissedcalls', 'Smart Missed Calls']]);
      assert.deepEqual(xml.supported, [['version', '14.0'], ['version', '15.0'], ['version', '16.0'], ['version', '17.0']]);
      assert.deepEqual((xml.depends as string[][]).map(([tag]) => tag), ['version', 'module']);
      assert.match((xml.depends as string[][])[1]![1]!, /^pm2 ge [\d.]+$/);
      assert.equal(xml.database, false, 'our tables come from smc migrate, not module.xml');
    }
    assert.equal(readModuleXml(join(moduleDir, 'module.xml')).version, version);
  });

  test("the packaged module.xml's changelog is CHANGELOG.md's, newest version first, this version at the top", () => {
    const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
    const packaged = readModuleXml(join(moduleDir, 'module.xml')).changelog as string;
    assert.equal(packaged, renderChangelog(changelog));
    assert.ok(packaged.startsWith(`*${version}*\n- `), packaged.slice(0, 80));
    const versions = [...packaged.matchAll(/^\*(\d+\.\d+\.\d+)\*$/gm)].map((m) => m[1]!);
    assert.deepEqual(versions, [...changelog.matchAll(/^## (\d+\.\d+\.\d+)$/gm)].map((m) => m[1]!));
    assert.ok(versions.includes('0.1.0') && versions.indexOf(version) < versions.indexOf('0.1.0'));
  });

  test("every hook resolves the way framework's Hooks class resolves it (else the Dashboard's System Overview fails for everyone)", () => {
    const run = spawnSync('php', [join(root, 'test/php/resolve-hooks.php'), moduleDir], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const hooks = JSON.parse(run.stdout) as { caller: string; callingMethod: string; target: string; method: string }[];
    for (const expected of [
      { caller: 'FreePBX\\Console\\Command\\Start', callingMethod: 'postAsteriskHooks', target: 'FreePBX\\modules\\Smartmissedcalls', method: 'startFreepbx' },
      { caller: 'FreePBX\\Console\\Command\\Stop', callingMethod: 'preAsteriskHooks', target: 'FreePBX\\modules\\Smartmissedcalls', method: 'stopFreepbx' },
      { caller: 'FreePBX\\modules\\Dashboard\\Sections\\Overview', callingMethod: 'getSummary', target: 'FreePBX\\modules\\Smartmissedcalls', method: 'dashboardService' },
    ]) {
      assert.ok(hooks.some((h) => JSON.stringify(h) === JSON.stringify(expected)), `${JSON.stringify(expected)} in ${run.stdout}`);
    }
  });

  test('the hook resolution refuses what framework refuses: a module.xml that is not XML, a method without its namespace', () => {
    const broken = join(work, 'broken');
    cpSync(moduleDir, broken, { recursive: true });
    const xml = readFileSync(join(moduleDir, 'module.xml'), 'utf8');
    writeFileSync(join(broken, 'module.xml'), xml.replace('<depends>', '<!-- smc uninstall --yes -->\n\t<depends>'));
    assert.match(spawnSync('php', [join(root, 'test/php/resolve-hooks.php'), broken], { encoding: 'utf8' }).stderr, /not well-formed XML/);
    writeFileSync(join(broken, 'module.xml'), xml.replaceAll(' namespace="FreePBX\\modules"', ''));
    assert.match(spawnSync('php', [join(root, 'test/php/resolve-hooks.php'), broken], { encoding: 'utf8' }).stderr, /Cant find Smartmissedcalls/);
  });

  test('install.php carries the version and the checksum of the bundle beside it', () => {
    const manifest = JSON.parse(
      execFileSync('php', ['-r', 'echo json_encode(include $argv[1]);', join(moduleDir, 'install.php')], { encoding: 'utf8' }),
    ) as { version: string; bundle_sha256: string };
    assert.equal(manifest.version, version);
    assert.equal(manifest.bundle_sha256, createHash('sha256').update(readFileSync(join(moduleDir, 'build/smc.js'))).digest('hex'));
  });

  test('the bundle runs from the unpacked folder alone, as an ES module', () => {
    const help = execFileSync(process.execPath, [join(moduleDir, 'build/smc.js'), '--help'], { cwd: work, encoding: 'utf8' });
    for (const command of ['migrate', 'uninstall', 'export-state', 'import-state']) assert.match(help, new RegExp(`\\b${command}\\b`));
  });

  test('every PHP file passes php -l', () => {
    const php = [
      ...filesUnder(moduleDir).filter((f) => f.endsWith('.php')).map((f) => join(moduleDir, f)),
      ...readdirSync(join(root, 'test/php')).map((f) => join(root, 'test/php', f)),
      join(root, 'tools/php74-compat.php'),
      join(root, 'tools/php56-compat.php'),
    ];
    for (const file of php) {
      const lint = spawnSync('php', ['-l', file], { encoding: 'utf8' });
      assert.equal(lint.status, 0, `${file}: ${lint.stdout}${lint.stderr}`);
    }
  });

  test('the PHP uses no syntax PHP 7.4 lacks (FreePBX 16)', () => {
    const php = filesUnder(moduleDir).filter((f) => f.endsWith('.php')).map((f) => join(moduleDir, f));
    const check = spawnSync('php', [join(root, 'tools/php74-compat.php'), ...php], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  test('the PHP uses no syntax or function PHP 5.6 lacks (FreePBX 14, and 15 on its PHP 5.6)', () => {
    const php = filesUnder(moduleDir).filter((f) => f.endsWith('.php')).map((f) => join(moduleDir, f));
    const check = spawnSync('php', [join(root, 'tools/php56-compat.php'), ...php], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  test('the PHP 5.6 check refuses each PHP 7 construct it knows, and what the 7.4 check refuses', () => {
    const samples: Record<string, string> = {
      coalesce: '$a = $b ?? 1;',
      coalesceAssign: '$a ??= 1;',
      spaceship: '$a = $b <=> $c;',
      arrow: '$f = fn($x) => $x;',
      scalarParam: 'function f(int $a) {}',
      stringParam: 'class A { public function f($a, string $b = "x") {} }',
      nullable: 'function f(?array $a) {}',
      returnType: 'function f() : array { return array(); }',
      closureReturnType: '$f = function ($a) use ($b): bool { return true; };',
      anonymousClass: '$a = new class { };',
      groupUse: 'use A\\{B, C};',
      constVisibility: 'class A { private const X = 1; }',
      typedProperty: 'class A { private array $x; }',
      multiCatch: 'try { f(); } catch (A | B $e) { }',
      shortList: '[$a, $b] = f();',
      keyedList: 'list("a" => $a) = f();',
      spreadInArray: '$a = [...$b];',
      strictTypes: 'declare(strict_types=1);',
      separator: '$a = 1_000;',
      unicodeEscape: '$a = "\\u{1F600}";',
      trailingCallComma: 'f($a, $b,);',
      randomBytes: '$a = random_bytes(16);',
      intdiv: '$a = intdiv(7, 2);',
      getenvAll: '$env = getenv();',
      procOpenArray: '$p = proc_open(array("ls"), $spec, $pipes);',
      php8: '$a = $b?->c;',
      yieldFrom: 'function g() { yield from h(); }',
    };
    for (const [name, code] of Object.entries(samples)) {
      const file = join(work, `php56-${name}.php`);
      writeFileSync(file, `<?php\n${code}\n`);
      const check = spawnSync('php', [join(root, 'tools/php56-compat.php'), file], { encoding: 'utf8' });
      assert.equal(check.status, 1, `${name} is refused: ${check.stdout}${check.stderr}`);
    }
    const fine = join(work, 'php56-fine.php');
    writeFileSync(fine, `<?php
namespace A;
use B\\C;
use D\\E as F;
class G extends C implements \\H {
    const X = 1;
    private static $cache = array(1, 2,);
    public function __construct(array $a, callable $b = null, F $c = null, &$d = null, ...$rest) { $this->f = function ($x) use ($a) { return $x ? $a : array(); }; }
    public static function f($x = self::X) { list($a, $b) = $x; return array($a, $b)[0] . C::class; }
}
$a = $b ? $c : $d;
$e = isset($f['g']) ? $f['g'] : null;
$h = getenv('HOME');
$p = proc_open('exec ls', array(), $pipes);
try { f(); } catch (\\Exception $e) { }
`);
    const check = spawnSync('php', [join(root, 'tools/php56-compat.php'), fine], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  test('the PHP 7.4 check refuses each PHP 8 construct it knows', () => {
    const samples: Record<string, string> = {
      match: '$a = match($b) { 1 => 2, default => 3 };',
      nullsafe: '$a = $b?->c;',
      named: 'foo(name: 1);',
      promotion: 'class A { public function __construct(private $x) {} }',
      union: 'function f(int|string $a) {}',
      mixed: 'function f(): mixed { return 1; }',
      static: 'class A { public function f(): static { return $this; } }',
      enum: 'enum Suit { case Hearts; }',
      readonly: 'class A { public readonly int $x; }',
      firstClassCallable: '$f = strlen(...);',
      str_contains: 'if (str_contains($a, "b")) {}',
    };
    for (const [name, code] of Object.entries(samples)) {
      const file = join(work, `${name}.php`);
      writeFileSync(file, `<?php\n${code}\n`);
      const check = spawnSync('php', [join(root, 'tools/php74-compat.php'), file], { encoding: 'utf8' });
      assert.equal(check.status, 1, `${name} is refused: ${check.stdout}`);
    }
    const fine = join(work, 'fine.php');
    writeFileSync(fine, '<?php\n$a = $b ? $c : $d;\nswitch ($x) { case 1: throw new Exception(); }\nfunction f($flags = A | B): ?array { return array(); }\n$g = fn($x) => $x ?? 1;\n');
    assert.equal(spawnSync('php', [join(root, 'tools/php74-compat.php'), fine]).status, 0);
  });
});

describe('install and uninstall on a PBX database', () => {
  let db: FreshDatabases;
  let etc: string;
  let configPath: string;
  let env: NodeJS.ProcessEnv;
  let cdrCount: number;
  let logDir: string;
  const asRoot = process.getuid?.() === 0;

  async function ownTables(): Promise<string[]> {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
       WHERE TABLE_SCHEMA IN (?, ?) AND TABLE_NAME LIKE 'smart\\_missed\\_calls%'`,
      [db.names.pbx, db.names.cdr],
    );
    return rows.map((r) => `${r.s}.${r.t}`).sort();
  }

  async function cdrRows(): Promise<number> {
    const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${ident(db.names.cdr)}.cdr`);
    return Number(rows[0]!.n);
  }

  /** Every row of every table a backup carries, in key order: equal snapshots, equal data. */
  async function snapshot(): Promise<Record<string, unknown[]>> {
    const out: Record<string, unknown[]> = {};
    for (const table of OWN_TABLES.filter((t) => t !== 'smart_missed_calls_migrations')) {
      const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT * FROM ${ident(table)}`);
      out[table] = rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  }

  function smc(...args: string[]) {
    return spawnSync(process.execPath, [join(moduleDir, 'build/smc.js'), ...args], { env: { ...env, SMC_CONFIG: configPath }, encoding: 'utf8' });
  }

  function backupModule(action: 'backup' | 'restore', tree: string, extraEnv: NodeJS.ProcessEnv = {}) {
    return spawnSync('php', [join(root, 'test/php/run-backup.php'), action, tree], { env: { ...env, ...extraEnv }, encoding: 'utf8' });
  }

  function bmo(method: string, extraEnv: NodeJS.ProcessEnv = {}, input?: string) {
    return spawnSync('php', [join(root, 'test/php/run-bmo.php'), method], {
      env: { ...env, ...extraEnv },
      input,
      encoding: 'utf8',
    });
  }

  before(async () => {
    db = await freshDatabases('module');
    // A PBX before our install: its own tables and calls, none of ours.
    for (const table of OWN_TABLES) await db.pool.query(`DROP TABLE IF EXISTS ${ident(table)}`);
    await insertCdrRows(db.pool, db.names.cdr, loadFixtureCdr().slice(0, 200));
    cdrCount = await cdrRows();
    etc = mkdtempSync(join(tmpdir(), 'smc-etc-'));
    configPath = join(etc, 'smartmissedcalls', 'config.yaml');
    logDir = join(etc, 'log');
    mkdirSync(logDir);
    // /etc/freepbx.conf as FreePBX writes it; the bootstrap it requires does not exist here,
    // so install must read it without including it.
    writeFileSync(join(etc, 'freepbx.conf'), `<?php
$amp_conf['AMPDBUSER'] = 'root';
$amp_conf['AMPDBPASS'] = '';
$amp_conf['AMPDBHOST'] = 'localhost';
$amp_conf['AMPDBSOCK'] = '${db.socket}';
$amp_conf['AMPDBNAME'] = '${db.names.pbx}';
$amp_conf['AMPDBENGINE'] = 'mysql';
$amp_conf['datasource'] = '';
require_once('/nonexistent/admin/bootstrap.php');
?>
`);
    env = {
      PATH: process.env.PATH,
      SMC_MODULE_DIR: moduleDir,
      SMC_CONFIG: configPath,
      SMC_FREEPBX_CONF: join(etc, 'freepbx.conf'),
      SMC_NODE: process.execPath,
      SMC_STANDIN_KVSTORE: join(etc, 'kvstore.json'),
      SMC_STANDIN_PM2_LOG: join(etc, 'pm2.log'),
      SMC_STANDIN_MODULE_STATUS: join(etc, 'module-status'),
      SMC_STANDIN_SETTINGS: JSON.stringify({
        CDRDBNAME: db.names.cdr, AMPMGRUSER: 'admin', AMPMGRPASS: 'amp111', ASTETCDIR: etc, ASTLOGDIR: logDir,
        // As root (a shell install), the stand-in's pm2 runs as this user, as FreePBX's does.
        ...(asRoot ? { AMPASTERISKWEBUSER: 'nobody', AMPASTERISKWEBGROUP: 'nogroup' } : {}),
      }),
      SMC_STANDIN_AMP_CONF: JSON.stringify({ AMPDBHOST: 'localhost', AMPDBSOCK: db.socket, AMPDBUSER: 'root', AMPDBPASS: '', AMPDBNAME: db.names.pbx }),
    };
  });

  after(async () => {
    await db.cleanup();
    rmSync(etc, { recursive: true, force: true });
  });

  test('refuses a PBX whose Node is older than 18 and says how to get one, creating nothing', () => {
    const oldNode = join(etc, 'old-node');
    writeFileSync(oldNode, '#!/bin/sh\necho v16.20.2\n');
    chmodSync(oldNode, 0o755);
    const run = bmo('install', { SMC_NODE: oldNode });
    assert.equal(run.status, 1);
    // A message and false, as framework reports a failed install; not an exception, which
    // framework shows as a raw error page.
    assert.match(run.stdout, /Smart Missed Calls was not installed: .*v16\.20\.2.*needs Node\.js 18 or newer.*apt-get install nodejs/s);
    assert.doesNotMatch(run.stderr, /InstallError|Exception/);
    assert.ok(!existsSync(configPath));
  });

  test('refuses a package whose bundle was changed after packaging', () => {
    const damaged = join(work, 'damaged');
    cpSync(moduleDir, damaged, { recursive: true });
    appendFileSync(join(damaged, 'build/smc.js'), '\n// changed\n');
    const run = bmo('install', { SMC_MODULE_DIR: damaged });
    assert.equal(run.status, 1);
    assert.match(run.stdout, /Smart Missed Calls was not installed: .*does not match this package/);
  });

  test('a first install that fails after creating the tables leaves no table, no configuration and no pm2 app behind', async () => {
    const run = bmo('install', { SMC_STANDIN_PM2_START_FAILS: 'pm2 could not start the process' });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /pm2 could not start the process/);
    assert.match(run.stdout, /removed the tables it had created/);
    assert.deepEqual(await ownTables(), []);
    assert.ok(!existsSync(configPath), 'the configuration written by this install is gone');
    assert.ok(!existsSync(join(etc, 'smartmissedcalls')), 'and its folder');
    const kvstore = JSON.parse(readFileSync(join(etc, 'kvstore.json'), 'utf8')) as { noid?: Record<string, unknown> };
    assert.equal(kvstore.noid?.config_path, undefined);
  });

  test('install writes a private config with a fresh secret, creates our tables and starts the service under pm2', async () => {
    assert.deepEqual(await ownTables(), []);
    // Unpacked by root, as "tar -xzf … -C /var/www/html/admin/modules/" leaves it: the
    // stand-in's pm2, like FreePBX's, runs "mkdir -p build/logs" as the web server's user.
    const run = bmo('install');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    if (asRoot) assert.equal(statSync(join(moduleDir, 'build/logs')).uid, 65534, 'build/logs belongs to the web server\'s user (nobody here)');

    const yaml = readFileSync(configPath, 'utf8');
    assert.equal(statSync(configPath).mode & 0o777, 0o640);
    assert.match(yaml, /^ {2}secret: '[0-9a-f]{64}'$/m);
    assert.match(yaml, new RegExp(`^  socket: '${db.socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'$`, 'm'));
    assert.match(yaml, new RegExp(`^  cdr_database: '${db.names.cdr}'$`, 'm'));
    assert.match(yaml, /^ami:\n {2}host: '127\.0\.0\.1'\n {2}port: 5038\n {2}user: 'admin'\n {2}secret: 'amp111'$/m);

    assert.deepEqual(await ownTables(), OWN_TABLES.map((t) => `${db.names.pbx}.${t}`).sort());

    const pm2 = readFileSync(join(etc, 'pm2.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // The launcher, in build/ (Pm2::start runs it in dirname() of the whole string), with the
    // Node given at install for every later start.
    assert.deepEqual(pm2.at(-1), {
      call: 'start',
      name: 'smartmissedcalls',
      process: `${moduleDir}/build/smc-node.sh smc.js serve`,
      environment: { SMC_CONFIG: configPath, SMC_NODE: process.execPath },
      force: true,
    });
  });

  test('installing again keeps the config and its secret, and the tables', async () => {
    const before = readFileSync(configPath, 'utf8');
    const run = bmo('install');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.equal(readFileSync(configPath, 'utf8'), before);
    assert.equal((await ownTables()).length, OWN_TABLES.length);
  });

  test('without the pm2 module install fails saying so, and installs no systemd unit to fight pm2 for the port later', () => {
    // Where the removed systemd fallback wrote its unit, with systemctl made harmless.
    const units = mkdtempSync(join(tmpdir(), 'smc-units-'));
    try {
      const run = bmo('install', { SMC_STANDIN_PM2_LOG: '', SMC_SYSTEMD_DIR: units, SMC_SYSTEMCTL: 'true' });
      assert.equal(run.status, 1, run.stdout + run.stderr);
      assert.match(run.stdout, /Smart Missed Calls was not installed: The pm2 module is not installed or not enabled/);
      assert.deepEqual(readdirSync(units), []);
    } finally {
      rmSync(units, { recursive: true, force: true });
    }
  });

  test('fwconsole start leaves a running service alone; stop stops it and start brings it back', () => {
    const calls = () => readFileSync(join(etc, 'pm2.log'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { call: string }).call);
    const before = calls().length;
    const start = bmo('start');
    assert.equal(start.status, 0, start.stderr);
    assert.match(start.stdout, /already running/);
    assert.equal(calls().length, before);
    assert.equal(bmo('stop').status, 0);
    assert.equal(bmo('start').status, 0);
    assert.deepEqual(calls().slice(before), ['stop', 'start']);
  });

  test('fwconsole chown leaves the configuration and its secrets readable by the service alone (Chown hook)', () => {
    const run = spawnSync('php', [join(root, 'test/php/run-chown.php')], { env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const hook = (JSON.parse(run.stdout) as { hook: Record<string, unknown>[] }).hook;
    assert.deepEqual(hook.find((f) => f.path === configPath), {
      type: 'file', path: configPath, perms: 0o640, owner: asRoot ? 'nobody' : 'asterisk', group: asRoot ? 'nogroup' : 'asterisk',
    });
    assert.equal(statSync(configPath).mode & 0o777, 0o640);
    assert.equal(statSync(join(etc, 'freepbx.conf')).mode & 0o777, 0o664, 'framework\'s own pass did run');
  });

  test("the Dashboard's System Overview line comes from the Dashboard's own genStatusIcon() and says whether the service runs", () => {
    const run = bmo('dashboard');
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [
      { type: 'ok', tooltip: 'Running', 'glyph-class': 'fa-check text-success', title: 'Smart Missed Calls', order: 999 },
    ]);
  });

  test('when pm2 fails to answer, the Dashboard says so and fwconsole start/stop go on', () => {
    const failing = { SMC_STANDIN_PM2_FAIL: 'pm2 jlist: connect EACCES' };
    const dashboard = bmo('dashboard', failing);
    assert.equal(dashboard.status, 0, dashboard.stderr);
    const [line] = JSON.parse(dashboard.stdout) as { type: string; tooltip: string }[];
    assert.equal(line!.type, 'unknown');
    assert.match(line!.tooltip, /pm2 did not say whether the service runs: pm2 jlist: connect EACCES/);
    for (const hook of ['start', 'stop']) {
      const run = bmo(hook, failing);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /The Smart Missed Calls service was not (started|stopped): pm2 jlist: connect EACCES/);
    }
  });

  test('backup carries the settings and restore puts them back', async () => {
    await db.pool.query(
      `INSERT INTO smart_missed_calls_settings (tenant, settings, updated_at, updated_by) VALUES ('default', '{"cadence":"weekly"}', '2026-01-02 03:04:05', 'user:alice')`,
    );
    const backup = bmo('backup');
    assert.equal(backup.status, 0, backup.stderr);
    await db.pool.query('DELETE FROM smart_missed_calls_settings');
    const restore = bmo('restore', {}, backup.stdout);
    assert.equal(restore.status, 0, restore.stdout + restore.stderr);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT tenant, settings, updated_by FROM smart_missed_calls_settings');
    assert.deepEqual(rows.map((r) => ({ ...r })), [{ tenant: 'default', settings: '{"cadence":"weekly"}', updated_by: 'user:alice' }]);
  });

  test("Backup & Restore 15, which cannot dump tables: backup carries the settings and viewers and says so, restore puts them back; a 16+ backup's dump is refused by name", async () => {
    const fifteen = { SMC_STANDIN_BACKUP_VERSION: '15' };
    await db.pool.query('DELETE FROM smart_missed_calls_settings');
    await db.pool.query(
      `INSERT INTO smart_missed_calls_settings (tenant, settings, updated_at, updated_by) VALUES ('default', '{"cadence":"monthly"}', '2026-02-03 04:05:06', 'user:bob')`,
    );
    const tree = mkdtempSync(join(tmpdir(), 'smc-backup15-'));
    try {
      const backup = backupModule('backup', tree, fifteen);
      assert.equal(backup.status, 0, backup.stdout + backup.stderr);
      assert.match(backup.stderr, /\[backup WARNING\] This Backup module cannot dump tables \(FreePBX 15\)/);
      const manifest = JSON.parse(readFileSync(join(tree, 'modulejson/Smartmissedcalls.json'), 'utf8')) as { configs: Record<string, unknown>; files: unknown[] };
      assert.deepEqual(Object.keys(manifest.configs).sort(), ['state', 'viewers']);
      assert.deepEqual(manifest.files, []);
      await db.pool.query('DELETE FROM smart_missed_calls_settings');
      const restore = backupModule('restore', tree, fifteen);
      assert.equal(restore.status, 0, restore.stdout + restore.stderr);
      const [rows] = await db.pool.query<RowDataPacket[]>('SELECT tenant, settings, updated_by FROM smart_missed_calls_settings');
      assert.deepEqual(rows.map((r) => ({ ...r })), [{ tenant: 'default', settings: '{"cadence":"monthly"}', updated_by: 'user:bob' }]);

      const dumped = mkdtempSync(join(tmpdir(), 'smc-backup17-'));
      try {
        assert.equal(backupModule('backup', dumped).status, 0);
        const on15 = backupModule('restore', dumped, fifteen);
        assert.equal(on15.status, 1, on15.stdout + on15.stderr);
        assert.match(on15.stderr, /which this Backup module \(FreePBX 15\) cannot load: restore it on FreePBX 16 or newer/);
        assert.deepEqual((await db.pool.query<RowDataPacket[]>('SELECT tenant FROM smart_missed_calls_settings'))[0].length, 1);
      } finally {
        rmSync(dumped, { recursive: true, force: true });
      }
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });

  describe('through FreePBX Backup & Restore', () => {
    let tree: string;
    let before: Record<string, unknown[]>;

    test('backup dumps every table of ours, taken while the service has entries, calls and a chain of audit rows', async () => {
      const [first] = await db.pool.query<RowDataPacket[]>(`SELECT DATE_FORMAT(MIN(calldate), '%Y-%m-%d') AS day FROM ${ident(db.names.cdr)}.cdr`);
      const sync = smc('backfill', '--since', String(first[0]!.day));
      assert.equal(sync.status, 0, sync.stdout + sync.stderr);
      before = await snapshot();
      const counts = Object.fromEntries(Object.entries(before).map(([t, rows]) => [t, rows.length]));
      for (const table of ['smart_missed_calls', 'smart_missed_calls_calls', 'smart_missed_calls_audit']) {
        assert.ok(counts[table]! > 0, `${table} has rows: ${JSON.stringify(counts)} ${sync.stdout}`);
      }
      tree = mkdtempSync(join(tmpdir(), 'smc-backup-'));
      const run = backupModule('backup', tree);
      assert.equal(run.status, 0, run.stdout + run.stderr);
      const manifest = JSON.parse(readFileSync(join(tree, 'modulejson/Smartmissedcalls.json'), 'utf8')) as { configs: { schema_version: number; tables: string[] }; files: { filename: string }[] };
      assert.equal(manifest.configs.schema_version, LATEST_SCHEMA_VERSION);
      assert.deepEqual([...manifest.configs.tables].sort(), OWN_TABLES.filter((t) => t !== 'smart_missed_calls_migrations').sort());
      assert.deepEqual(manifest.files.map((f) => f.filename), ['smartmissedcalls.sql']);
    });

    test('restore over the same data keeps every row once, without a reset, and the audit chain verifies', async () => {
      const pm2Calls = readFileSync(join(etc, 'pm2.log'), 'utf8').trim().split('\n').length;
      const run = backupModule('restore', tree);
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.doesNotMatch(run.stdout, /Resetting/);
      assert.deepEqual(await snapshot(), before);
      const verify = smc('audit', 'verify');
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /audit ok/);
      const calls = readFileSync(join(etc, 'pm2.log'), 'utf8').trim().split('\n').slice(pm2Calls).map((l) => (JSON.parse(l) as { call: string }).call);
      assert.deepEqual(calls, ['stop', 'start'], 'the service was paused while its tables were replaced');
    });

    test('restore brings back what was lost since the backup, and a backup whose rows cannot be loaded changes nothing', async () => {
      await db.pool.query('DELETE FROM smart_missed_calls');
      await db.pool.query('TRUNCATE smart_missed_calls_audit');
      assert.equal(backupModule('restore', tree).status, 0);
      assert.deepEqual(await snapshot(), before);

      const damaged = mkdtempSync(join(tmpdir(), 'smc-backup-damaged-'));
      cpSync(tree, damaged, { recursive: true });
      const dump = execFileSync('find', [damaged, '-name', 'smartmissedcalls.sql'], { encoding: 'utf8' }).trim();
      appendFileSync(dump, '\nINSERT INTO smart_missed_calls_audit (id) VALUES (1);\n');
      const run = backupModule('restore', damaged);
      assert.equal(run.status, 1, run.stdout + run.stderr);
      assert.match(run.stderr, /could not be loaded/);
      assert.deepEqual(await snapshot(), before);
      assert.equal(smc('audit', 'verify').status, 0);
      rmSync(damaged, { recursive: true, force: true });
    });

    test('restore on a PBX where the module is not installed installs it (FreePBX\'s reset), then loads every row', async () => {
      const uninstall = bmo('uninstall');
      assert.equal(uninstall.status, 0, uninstall.stdout + uninstall.stderr);
      assert.deepEqual(await ownTables(), []);
      const run = backupModule('restore', tree);
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /Resetting/);
      assert.deepEqual(await snapshot(), before);
      assert.equal(smc('audit', 'verify').status, 0);
      rmSync(tree, { recursive: true, force: true });
    });
  });

  test('uninstall goes on past a folder it may not remove, and says what was left', {
    skip: !asRoot && 'needs root to act as the asterisk user',
  }, () => {
    // As the asterisk user on a real PBX: the folder is its own, the folder above is root's.
    const parent = mkdtempSync(join(tmpdir(), 'smc-etc-root-'));
    chmodSync(parent, 0o755);
    // PHP runs as nobody, who may not read this checkout (a clone under mktemp -d or /root):
    // it gets its own readable copy of the two files it runs.
    const glue = join(parent, 'glue');
    mkdirSync(glue);
    for (const file of [join(root, 'test/php/freepbx-standin.php'), join(moduleDir, 'SmcInstaller.php')]) {
      copyFileSync(file, join(glue, basename(file)));
      chmodSync(join(glue, basename(file)), 0o644);
    }
    const folder = join(parent, 'smartmissedcalls');
    mkdirSync(folder);
    writeFileSync(join(folder, 'config.yaml'), 'pbx: freepbx\n');
    chownSync(folder, 65534, 65534);
    chownSync(join(folder, 'config.yaml'), 65534, 65534);
    const script = `require '${join(glue, 'freepbx-standin.php')}'; require '${join(glue, 'SmcInstaller.php')}';
      $installer = new FreePBX\\modules\\Smartmissedcalls\\SmcInstaller('${moduleDir}', 'node', function ($line) { echo $line, "\\n"; });
      echo json_encode($installer->removeConfig($argv[1]), JSON_UNESCAPED_SLASHES), "\\n";`;
    const run = spawnSync('runuser', ['-u', 'nobody', '--', 'php', '-r', script, join(folder, 'config.yaml')], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.ok(!existsSync(join(folder, 'config.yaml')));
    assert.match(run.stdout, new RegExp(`Could not remove ${folder}: remove it as root`));
    assert.equal(run.stdout.trim().split('\n').at(-1), JSON.stringify([folder]));
    rmSync(parent, { recursive: true, force: true });
  });

  test('uninstall stops the service, drops every table of ours, keeps every cdr row and removes the config', async () => {
    for (const log of ['smartmissedcalls_out.log', 'smartmissedcalls_err.log']) writeFileSync(join(logDir, log), 'what pm2 wrote\n');
    const run = bmo('uninstall');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.deepEqual(await ownTables(), []);
    assert.equal(await cdrRows(), cdrCount);
    assert.ok(!existsSync(configPath));
    assert.ok(!existsSync(join(etc, 'smartmissedcalls')), 'its folder is gone too');
    assert.deepEqual(readdirSync(logDir), [], 'and the service\'s pm2 logs');
    const pm2 = readFileSync(join(etc, 'pm2.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(pm2.at(-1), { call: 'delete', name: 'smartmissedcalls' });
  });
});
