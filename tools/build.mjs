// Bundles the service into one file (build/smc.js) that runs on the PBX's own Node
// without node_modules, and compiles the tests next to it for Node's test runner.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const nodeTarget = 'node18';
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
// The release public key goes into the bundle: `smc doctor --package` checks a new
// package with the key of the version already installed, not with one the package brings.
const define = { SMC_VERSION: JSON.stringify(version), SMC_RELEASE_PUBLIC_KEY: JSON.stringify(readFileSync('keys/smartmissedcalls-release.pub', 'utf8')) };
const banner = {
  // Bundled CommonJS dependencies (mysql2, express) call require(); give them one.
  js: [
    "import { createRequire as __smcCreateRequire } from 'node:module';",
    "import { fileURLToPath as __smcFileURLToPath } from 'node:url';",
    "import { dirname as __smcDirname } from 'node:path';",
    'const require = __smcCreateRequire(import.meta.url);',
    'const __filename = __smcFileURLToPath(import.meta.url);',
    'const __dirname = __smcDirname(__filename);',
  ].join(' '),
};

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'build/smc.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: nodeTarget,
  define,
  sourcemap: 'linked',
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node\n' + banner.js },
  logLevel: 'warning',
});

// The PBX is offline and has no node_modules: the pages' chart library ships in build/vendor/.
mkdirSync('build/vendor', { recursive: true });
copyFileSync('node_modules/chart.js/dist/chart.umd.js', 'build/vendor/chart.umd.js');

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

rmSync('build/test', { recursive: true, force: true });
await build({
  entryPoints: testFiles('test'),
  outdir: 'build/test',
  outbase: 'test',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  define,
  sourcemap: 'inline',
  packages: 'external',
  banner,
  logLevel: 'warning',
});
