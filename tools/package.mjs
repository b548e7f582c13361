// Builds the two packages, in build/ or in the folder after --out:
//   smartmissedcalls-<version>.tgz           FreePBX Module Admin → Upload
//   smartmissedcalls-vitalpbx-<version>.tgz  VitalPBX, unpacked then ./vitalpbx/install.sh
// Both hold one top folder smartmissedcalls/ (what Module Admin expects): module.xml with
// the package.json version, the PHP glue, install.php (version + bundle checksum), the
// bundle, the Node launcher build/smc-node.sh, the chart library the bundle serves
// (build/vendor/), and whatever views/, assets/, i18n/, LICENSE and README.md exist. No
// node_modules: the bundle carries its dependencies. The FreePBX one leaves out the source
// map and vitalpbx/ to stay under PHP's default 2 MB upload_max_filesize, which FreePBX 17
// does not raise. module.xml's <changelog> is made from CHANGELOG.md. Beside each tarball:
// <tarball>.sha256 (sha256sum's format) and, when SMC_RELEASE_KEY names the project's
// Ed25519 private key (PEM), the detached signature <tarball>.sig over the tarball's bytes,
// which `smc doctor --package` and openssl check against keys/smartmissedcalls-release.pub.
// Run after `node tools/build.mjs` (npm run package does).
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { escapeXml, parseChangelog, renderChangelog } from './changelog.mjs';

const RAWNAME = 'smartmissedcalls';
const PUBLIC_KEY = 'keys/smartmissedcalls-release.pub';
const PHP_FILES = ['Smartmissedcalls.class.php', 'SmcProxy.php', 'SmcInstaller.php', 'page.smartmissedcalls.php', 'Backup.php', 'Restore.php'];
const OPTIONAL = ['views', 'assets', 'i18n', 'LICENSE', 'README.md'];

const { values: options } = parseArgs({
  // --version X.Y.Z packages this tree as another version (the FreePBX e2e's upgrade step).
  options: { out: { type: 'string', default: 'build' }, version: { type: 'string' } },
});
const version = options.version ?? JSON.parse(readFileSync('package.json', 'utf8')).version;
if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`package.json version '${version}' is not x.y.z`);
const changelogText = readFileSync('CHANGELOG.md', 'utf8');
const newest = parseChangelog(changelogText)[0]?.version;
if (!options.version && newest !== version) throw new Error(`CHANGELOG.md's newest section is ${newest ?? 'missing'}, not ${version}: add "## ${version}" at the top`);
const changelog = renderChangelog(changelogText);
const bundle = 'build/smc.js';
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`node tools/build.mjs\` first`);

const sha256 = createHash('sha256').update(readFileSync(bundle)).digest('hex');
mkdirSync(options.out, { recursive: true });
const freepbx = pack(`${RAWNAME}-${version}.tgz`, []);
const vitalpbx = pack(`${RAWNAME}-vitalpbx-${version}.tgz`, ['vitalpbx']);
console.log(`${freepbx}\n${vitalpbx}\n(bundle sha256 ${sha256})`);
const signingKey = readSigningKey();
for (const tarball of [freepbx, vitalpbx]) {
  const bytes = readFileSync(tarball);
  writeFileSync(`${tarball}.sha256`, `${createHash('sha256').update(bytes).digest('hex')}  ${basename(tarball)}\n`);
  if (signingKey) writeFileSync(`${tarball}.sig`, sign(null, bytes, signingKey));
  else rmSync(`${tarball}.sig`, { force: true });
}
if (signingKey) {
  const own = verify(null, readFileSync(freepbx), createPublicKey(readFileSync(PUBLIC_KEY)), readFileSync(`${freepbx}.sig`));
  console.log(own
    ? `signed with SMC_RELEASE_KEY: ${freepbx}.sig, ${vitalpbx}.sig (and .sha256 files)`
    : `signed with SMC_RELEASE_KEY, which is NOT the key of ${PUBLIC_KEY}: "smc doctor --package" refuses these signatures unless given that key's public half with --public-key`);
} else {
  console.log(`UNSIGNED: SMC_RELEASE_KEY is not set, so only ${freepbx}.sha256 and ${vitalpbx}.sha256 were written; "smc doctor --package" reports these packages as unsigned`);
}

/** The Ed25519 private key named by SMC_RELEASE_KEY (a PEM file), or null when unset. */
function readSigningKey() {
  const path = process.env.SMC_RELEASE_KEY;
  if (!path) return null;
  let key;
  try {
    key = createPrivateKey(readFileSync(path));
  } catch (err) {
    throw new Error(`SMC_RELEASE_KEY=${path}: not a readable PEM private key (${err.message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`SMC_RELEASE_KEY=${path} is a ${key.asymmetricKeyType} key; the release key is Ed25519`);
  return key;
}

/** Stages the module folder with `extra` folders added and writes it as one tarball; returns its path. */
function pack(name, extra) {
  const stage = mkdtempSync(join(tmpdir(), 'smc-package-'));
  const top = join(stage, RAWNAME);
  try {
    mkdirSync(join(top, 'build'), { recursive: true });

    const moduleXml = readFileSync('module.xml', 'utf8');
    if (!/<version>[^<]*<\/version>/.test(moduleXml)) throw new Error('module.xml has no <version>');
    if (!/<changelog>[^<]*<\/changelog>/.test(moduleXml)) throw new Error('module.xml has no <changelog>');
    writeFileSync(join(top, 'module.xml'), moduleXml
      .replace(/<version>[^<]*<\/version>/, `<version>${version}</version>`)
      .replace(/<changelog>[^<]*<\/changelog>/, () => `<changelog>\n${escapeXml(changelog)}\n\t</changelog>`));

    for (const file of PHP_FILES) cpSync(file, join(top, file));
    cpSync(bundle, join(top, bundle));
    cpSync('build/vendor', join(top, 'build/vendor'), { recursive: true });
    // Node (and pm2's loader) read the bundle as an ES module only with this beside it.
    writeFileSync(join(top, 'build/package.json'), JSON.stringify({ type: 'module' }) + '\n');
    cpSync('smc-node.sh', join(top, 'build/smc-node.sh'));
    chmodSync(join(top, 'build/smc-node.sh'), 0o755);

    writeFileSync(
      join(top, 'install.php'),
      readFileSync('install.php.tpl', 'utf8').replaceAll('@VERSION@', version).replaceAll('@BUNDLE_SHA256@', sha256),
    );

    for (const item of [...OPTIONAL, ...extra]) if (existsSync(item)) cpSync(item, join(top, item), { recursive: true });
    compileFreepbxCatalogues(top);

    const out = join(options.out, name);
    rmSync(out, { force: true });
    execFileSync('tar', ['-czf', out, '--owner=0', '--group=0', '-C', stage, RAWNAME], { stdio: 'inherit' });
    return out;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * FreePBX's _() reads i18n/<ll_CC>/LC_MESSAGES/<rawname>.mo in the module folder; the service
 * reads the .po files of i18n/<ll>/. Each translated catalogue is compiled for FreePBX.
 */
function compileFreepbxCatalogues(top) {
  const locales = { ro: 'ro_RO' };
  for (const [lang, locale] of Object.entries(locales)) {
    const po = join('i18n', lang, 'LC_MESSAGES', `${RAWNAME}.po`);
    if (!existsSync(po)) continue;
    const dir = join(top, 'i18n', locale, 'LC_MESSAGES');
    mkdirSync(dir, { recursive: true });
    cpSync(po, join(dir, `${RAWNAME}.po`));
    try {
      execFileSync('msgfmt', ['--check-format', '-o', join(dir, `${RAWNAME}.mo`), po], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (err) {
      throw new Error(`msgfmt could not compile ${po} (Debian package gettext): ${err.message}`);
    }
  }
}

