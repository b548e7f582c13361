/**
 * The previous release (package.json previousRelease), built from its commit in git history
 * as it was packaged then: the upgrade tests install it, then this release over it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/db.js';

export interface Release {
  version: string;
  commit: string;
}

export interface PackageJson {
  version: string;
  previousRelease: Release;
}

export function packageJson(): PackageJson {
  return JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as PackageJson;
}

/**
 * The previous release's package, built from its commit: git archive into a folder, the
 * current node_modules linked in, its own build and package scripts. Fails saying what to
 * do when the commit is not in this clone (a shallow clone). That release made one
 * tarball, vitalpbx/ included.
 */
export function buildPreviousPackage(into: string): string {
  const root = repoRoot();
  const previous = packageJson().previousRelease;
  const has = spawnSync('git', ['-C', root, 'cat-file', '-e', `${previous.commit}^{commit}`], { encoding: 'utf8' });
  if (has.status !== 0) {
    throw new Error(
      `the previous release ${previous.version} (commit ${previous.commit}, package.json previousRelease) is not in this clone's git history` +
        ` (${(has.stderr || has.error?.message || '').trim() || 'git failed'}): the upgrade test builds that release from it. In a shallow clone run "git fetch --unshallow"; CI clones fully.`,
    );
  }
  const tree = join(into, `smartmissedcalls-${previous.version}-source`);
  mkdirSync(tree);
  const archive = join(into, 'previous.tar');
  execFileSync('git', ['-C', root, 'archive', '--format=tar', '-o', archive, previous.commit]);
  execFileSync('tar', ['-xf', archive, '-C', tree]);
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  execFileSync(process.execPath, ['tools/build.mjs'], { cwd: tree, stdio: 'pipe' });
  // That release's package script knows no --out: it writes to its build/.
  execFileSync(process.execPath, ['tools/package.mjs'], { cwd: tree, stdio: 'pipe' });
  const built = join(tree, 'build', `smartmissedcalls-${previous.version}.tgz`);
  assert.ok(existsSync(built), `${built} was built`);
  return built;
}
