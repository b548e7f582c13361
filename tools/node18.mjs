// Debian 12's own Node 18.20.4 is the Node FreePBX 17 runs. This fetches it (apt-get
// download + dpkg -x, nothing installed: the machine's Node stays) into .cache/node18 and
// writes a wrapper that runs it. Debian's node loads some builtins from /usr/share/nodejs,
// so the wrapper bind-mounts the extracted copy there in a private mount namespace
// (needs root, as CI is).
// Usage: node tools/node18.mjs  → prints the wrapper's path.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const PACKAGES = [
  'nodejs=18.20.4+dfsg-1~deb12u2', 'libnode108', 'libc-ares2', 'libuv1', 'libnghttp2-14', 'libbrotli1', 'libicu72',
  'node-acorn', 'node-cjs-module-lexer', 'node-undici',
];

export function ensureNode18(cacheDir = resolve('.cache/node18')) {
  const wrapper = join(cacheDir, 'node18');
  if (existsSync(wrapper)) return wrapper;
  if (process.getuid?.() !== 0) throw new Error('fetching Debian Node 18 needs root (apt-get download, a private mount namespace)');
  const debs = join(cacheDir, 'debs');
  const root = join(cacheDir, 'root');
  mkdirSync(debs, { recursive: true });
  execFileSync('apt-get', ['download', ...PACKAGES], { cwd: debs, stdio: ['ignore', 'ignore', 'inherit'] });
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) execFileSync('dpkg', ['-x', join(debs, deb), root]);
  if (!existsSync('/usr/share/nodejs')) mkdirSync('/usr/share/nodejs', { recursive: true });
  writeFileSync(
    wrapper,
    `#!/bin/sh
# Runs Debian 12's Node 18 from ${root} without installing it.
exec unshare -m sh -c 'mount --bind "$0/usr/share/nodejs" /usr/share/nodejs && LD_LIBRARY_PATH="$0/usr/lib/x86_64-linux-gnu" exec "$0/usr/bin/node" "$@"' "${root}" "$@"
`,
  );
  chmodSync(wrapper, 0o755);
  const version = execFileSync(wrapper, ['--version'], { encoding: 'utf8' }).trim();
  if (!version.startsWith('v18.')) throw new Error(`expected Node 18 from Debian, got ${version}`);
  return wrapper;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(ensureNode18() + '\n');
