// A verifiable package: tools/package.mjs writes <tarball>.sha256 and, with SMC_RELEASE_KEY,
// a detached Ed25519 <tarball>.sig; `smc doctor --package` checks both before an install and
// says what is wrong; openssl checks the same signature as docs/install-freepbx.md shows.
// A throwaway key pair stands in for the project's (whose private half is not in the tree).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './harness/db.js';

const root = repoRoot();
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
let dir: string;
let signed: string;
let unsigned: string;
let publicKey: string;
let packageOutput: { signed: string; unsigned: string };

function packageInto(out: string, env: NodeJS.ProcessEnv): string {
  return execFileSync(process.execPath, ['tools/package.mjs', '--out', out], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
}

function doctor(...args: string[]) {
  return spawnSync(process.execPath, [join(root, 'build/smc.js'), 'doctor', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'smc-signed-'));
  const pair = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'release.key'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  publicKey = join(dir, 'release.pub');
  writeFileSync(publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  const signedDir = join(dir, 'signed');
  const unsignedDir = join(dir, 'unsigned');
  packageOutput = {
    signed: packageInto(signedDir, { SMC_RELEASE_KEY: join(dir, 'release.key') }),
    unsigned: packageInto(unsignedDir, { SMC_RELEASE_KEY: '' }),
  };
  signed = join(signedDir, `smartmissedcalls-${version}.tgz`);
  unsigned = join(unsignedDir, `smartmissedcalls-${version}.tgz`);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run package', () => {
  test('writes a .sha256 in sha256sum\'s format and a .sig beside each tarball when SMC_RELEASE_KEY is set', () => {
    for (const name of [`smartmissedcalls-${version}.tgz`, `smartmissedcalls-vitalpbx-${version}.tgz`]) {
      const check = spawnSync('sha256sum', ['-c', `${name}.sha256`], { cwd: join(dir, 'signed'), encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
      assert.equal(readFileSync(join(dir, 'signed', `${name}.sig`)).length, 64);
    }
    // The throwaway key is not the project's: the script says the signatures will not pass as the project's.
    assert.match(packageOutput.signed, /NOT the key of keys\/smartmissedcalls-release\.pub/);
  });

  test('without SMC_RELEASE_KEY writes the .sha256 only and says the package is unsigned', () => {
    assert.ok(existsSync(`${unsigned}.sha256`));
    assert.ok(!existsSync(`${unsigned}.sig`));
    assert.match(packageOutput.unsigned, /UNSIGNED: SMC_RELEASE_KEY is not set/);
  });

  test('the committed release key is an Ed25519 public key in PEM', () => {
    const text = execFileSync('openssl', ['pkey', '-pubin', '-in', join(root, 'keys/smartmissedcalls-release.pub'), '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /ED25519 Public-Key/);
  });
});

describe('smc doctor --package', () => {
  test('accepts a package whose sha256 and signature match the given public key', () => {
    const run = doctor('--package', signed, '--public-key', publicKey);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^ok {4}sha256: [0-9a-f]{64} as smartmissedcalls-[\d.]+\.tgz\.sha256 says$/m);
    assert.match(run.stdout, new RegExp(`^ok {4}signature: signed with ${publicKey.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });

  test('refuses a signature by another key than the project\'s release key built into smc', () => {
    const run = doctor('--package', signed);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /fail {2}signature: .*\.sig does not match the project's release key \(keys\/smartmissedcalls-release\.pub\)/);
  });

  test('says the package is unsigned when there is no .sig', () => {
    const run = doctor('--package', unsigned, '--public-key', publicKey);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /^ok {4}sha256:/m);
    assert.match(run.stdout, /fail {2}signature: .*\.sig is missing: the package is unsigned/);
  });

  test('a changed byte fails both checks, each saying what it found', () => {
    const changed = join(dir, 'changed');
    cpSync(join(dir, 'signed'), changed, { recursive: true });
    const file = join(changed, `smartmissedcalls-${version}.tgz`);
    appendFileSync(file, Buffer.from([0]));
    const run = doctor('--package', file, '--public-key', publicKey);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /fail {2}sha256: smartmissedcalls-[\d.]+\.tgz has sha256 [0-9a-f]{64}, but .*\.sha256 says [0-9a-f]{64}: the file is damaged or was changed/);
    assert.match(run.stdout, /fail {2}signature: .* does not match .*release\.pub: the package was not signed with that key, or was changed after it was signed/);
  });

  test('names a missing .sha256 and a .sha256 of another file', () => {
    const other = join(dir, 'other');
    cpSync(join(dir, 'signed'), other, { recursive: true });
    const file = join(other, `smartmissedcalls-${version}.tgz`);
    writeFileSync(`${file}.sha256`, readFileSync(join(other, `smartmissedcalls-vitalpbx-${version}.tgz.sha256`)));
    assert.match(doctor('--package', file, '--public-key', publicKey).stdout, /\.sha256 is the checksum of smartmissedcalls-vitalpbx-[\d.]+\.tgz, not of smartmissedcalls-[\d.]+\.tgz/);
    rmSync(`${file}.sha256`);
    assert.match(doctor('--package', file, '--public-key', publicKey).stdout, /fail {2}sha256: .*\.sha256 is missing/);
  });

  test('openssl verifies the same signature, as docs/install-freepbx.md shows', () => {
    const run = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', publicKey, '-rawin', '-in', signed, '-sigfile', `${signed}.sig`], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /Signature Verified Successfully/);
    const docs = readFileSync(join(root, 'docs/install-freepbx.md'), 'utf8');
    assert.match(docs, /openssl pkeyutl -verify -pubin -inkey smartmissedcalls-release\.pub -rawin -in smartmissedcalls-[\dx.]+\.tgz -sigfile smartmissedcalls-[\dx.]+\.tgz\.sig/);
    assert.match(docs, /smc\.js doctor --package /);
  });
});
