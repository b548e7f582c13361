/**
 * On a PBX with /etc/freepbx.conf, a config.yaml naming its own database user must connect as
 * that user with the password it gives (none), never with FreePBX's: through the real CLI,
 * against a real MariaDB user whose password is the one freepbx.conf holds, so borrowing it
 * would connect.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freshDatabases, repoRoot, type FreshDatabases } from './harness/db.js';
import { ident } from '../src/db/pool.js';

const PASSWORD = 'freepbx-Secret-42';
let db: FreshDatabases;
let dir: string;
let user: string;

before(async () => {
  db = await freshDatabases('precedence');
  dir = mkdtempSync(join(tmpdir(), 'smc-precedence-'));
  user = `smc_${process.pid}`;
  const root = await mysql.createConnection({ socketPath: db.socket, user: 'root' });
  try {
    await root.query(`CREATE OR REPLACE USER ?@'localhost' IDENTIFIED BY ?`, [user, PASSWORD]);
    for (const name of [db.names.pbx, db.names.cdr]) await root.query(`GRANT ALL ON ${ident(name)}.* TO ?@'localhost'`, [user]);
  } finally {
    await root.end();
  }
});

after(async () => {
  const root = await mysql.createConnection({ socketPath: db.socket, user: 'root' });
  await root.query(`DROP USER IF EXISTS ?@'localhost'`, [user]).finally(() => root.end());
  await db.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** freepbx.conf as FreePBX's installer writes it, for our test user on the private MariaDB. */
function freepbxConf(): string {
  const path = join(dir, 'freepbx.conf');
  writeFileSync(path, `<?php
$amp_conf['AMPDBUSER'] = '${user}';
$amp_conf['AMPDBPASS'] = '${PASSWORD}';
$amp_conf['AMPDBHOST'] = 'localhost';
$amp_conf['AMPDBSOCK'] = '${db.socket}';
$amp_conf['AMPDBNAME'] = '${db.names.pbx}';
`);
  return path;
}

function smc(configYaml: string, ...args: string[]) {
  const config = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(config, configYaml);
  const run = spawnSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', config, ...args], {
    env: { PATH: process.env.PATH, SMC_FREEPBX_CONF: freepbxConf(), SMC_AMPORTAL_CONF: join(dir, 'absent'), SMC_PHP: 'php' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ...run, config, out: run.stdout + run.stderr };
}

const names = () => `  database: ${db.names.pbx}\n  pbx_database: ${db.names.pbx}\n  cdr_database: ${db.names.cdr}\n`;

test('a config naming its user without a password is refused as such, not let in with FreePBX\'s', () => {
  const run = smc(`db:\n  socket: '${db.socket}'\n  user: ${user}\n${names()}`, 'migrate');
  assert.equal(run.status, 1, run.out);
  assert.match(run.stderr, new RegExp(`access denied for ${user} at socket .* \\(no password given; connection settings from ${run.config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
  assert.ok(!run.out.includes(PASSWORD), 'the password is never printed');
});

test('a config silent about the connection uses FreePBX\'s credentials whole, and doctor says so', () => {
  const migrate = smc(`db:\n${names()}`, 'migrate');
  assert.equal(migrate.status, 0, migrate.out);
  const doctor = smc(`db:\n${names()}mail:\n  transport: none\n`, 'doctor');
  assert.match(doctor.stdout, new RegExp(`^ok\\s+database: connected to socket .* as ${user} .*connection settings from .*freepbx\\.conf\\)`, 'm'));
  assert.ok(!doctor.out.includes(PASSWORD), 'the password is never printed');
});
