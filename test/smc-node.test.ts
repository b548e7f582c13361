// smc-node.sh, the launcher pm2 and install run smc with: which Node it picks (the
// configured one, else the first Node 18+ in the known places, else on the PATH) and how it
// fails when there is none. Stand-in "node" binaries are small sh scripts that answer
// --version like Node and otherwise print what they were given.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from './harness/db.js';

const launcher = join(repoRoot(), 'smc-node.sh');
let dir: string;

/** A "node" at `path` that reports `version`, or exits 1 for --version when version is null (a binary that does not run). */
function fakeNode(path: string, version: string | null): string {
  mkdirSync(dirname(path), { recursive: true });
  const versionLine = version === null ? 'exit 1' : `echo ${version}; exit 0`;
  writeFileSync(path, `#!/bin/sh\nif [ "$1" = --version ]; then ${versionLine}; fi\necho "ran ${path} in $(pwd) with: $*"\n`);
  chmodSync(path, 0o755);
  return path;
}

function launch(env: Record<string, string>, args = ['smc.js', 'serve']) {
  // PATH only as given: no real node may be found by accident.
  return spawnSync('/bin/sh', [launcher, ...args], { env: { PATH: join(dir, 'empty'), ...env }, cwd: dir, encoding: 'utf8' });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'smc-node-'));
  mkdirSync(join(dir, 'empty'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('smc-node.sh', () => {
  test('runs the configured SMC_NODE with the arguments, in the caller\'s folder', () => {
    const node = fakeNode(join(dir, 'configured/bin/node'), 'v18.20.4');
    fakeNode(join(dir, 'opt/bin/node'), 'v20.11.0');
    const run = launch({ SMC_NODE: node, SMC_NODE_SEARCH: join(dir, 'opt/bin/node') });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `ran ${node} in ${dir} with: smc.js serve\n`);
  });

  test('fails clearly when the configured SMC_NODE is not there, without falling back', () => {
    fakeNode(join(dir, 'opt/bin/node'), 'v20.11.0');
    const missing = join(dir, 'nowhere/bin/node');
    const run = launch({ SMC_NODE: missing, SMC_NODE_SEARCH: join(dir, 'opt/bin/node') });
    assert.equal(run.status, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, new RegExp(`SMC_NODE=${missing} is not an executable file`));
  });

  test('without SMC_NODE takes the first known place holding a Node 18 or newer, skipping older ones and ones that do not run', () => {
    fakeNode(join(dir, 'search1/bin/node'), null);
    fakeNode(join(dir, 'lib/node-v16.20.2/bin/node'), 'v16.20.2');
    const good = fakeNode(join(dir, 'lib/node-v18.20.4/bin/node'), 'v18.20.4');
    const onPath = fakeNode(join(dir, 'path1/node'), 'v22.1.0');
    const run = launch({ SMC_NODE_SEARCH: `${join(dir, 'search1/bin/node')} ${join(dir, 'lib/*/bin/node')}`, PATH: join(dir, 'path1') });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `ran ${good} in ${dir} with: smc.js serve\n`, `not ${onPath}`);
  });

  test('falls back to a node on the PATH when it is 18 or newer', () => {
    const onPath = fakeNode(join(dir, 'path2/node'), 'v18.19.0');
    const run = launch({ SMC_NODE_SEARCH: join(dir, 'absent/*/bin/node'), PATH: join(dir, 'path2') }, ['--version']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'v18.19.0\n');
    const args = launch({ SMC_NODE_SEARCH: join(dir, 'absent/*/bin/node'), PATH: join(dir, 'path2') }, ['build/smc.js', 'doctor']);
    assert.equal(args.stdout, `ran ${onPath} in ${dir} with: build/smc.js doctor\n`);
  });

  test('with no Node 18 anywhere, exits 1 saying what it tried and where to install one', () => {
    const old = fakeNode(join(dir, 'path3/node'), 'v10.24.1');
    const broken = fakeNode(join(dir, 'opt3/bin/node'), null);
    const run = launch({ SMC_NODE_SEARCH: `${broken} ${join(dir, 'absent/*/bin/node')}`, PATH: join(dir, 'path3') });
    assert.equal(run.status, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /found no Node\.js 18 or newer/);
    assert.match(run.stderr, new RegExp(`Tried: ${broken} \\(does not run\\), ${old} \\(Node 10\\)\\.`));
    assert.match(run.stderr, /\/opt\/smc-node .*docs\/install-freepbx\.md.*SMC_NODE/);
  });
});
