import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { result, type CheckResult } from '../health/check.js';

/**
 * `smc doctor --package FILE`: before an install, is FILE the tarball the project released?
 * Its sha256 against FILE.sha256 (sha256sum's format, written by tools/package.mjs), then the
 * detached Ed25519 signature FILE.sig against the release public key. Reads files only.
 */

/** The project's release public key (keys/smartmissedcalls-release.pub), put in the bundle at build time. */
declare const SMC_RELEASE_PUBLIC_KEY: string;
export const PROJECT_PUBLIC_KEY = SMC_RELEASE_PUBLIC_KEY;

export interface PublicKeySource {
  /** PEM text of an Ed25519 public key. */
  pem: string;
  /** How the key is named in messages: a path, or "the project's release key". */
  name: string;
}

const ED25519_SIGNATURE_BYTES = 64;


function readOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

export function checkPackageFile(file: string, key: PublicKeySource): CheckResult[] {
  const tarball = readOrNull(file);
  if (!tarball) return [result('package', 'fail', `cannot read ${file}`, 'give the path of the downloaded .tgz')];
  return [checkSha256(file, tarball), checkSignature(file, tarball, key)];
}

function checkSha256(file: string, tarball: Buffer): CheckResult {
  const actual = createHash('sha256').update(tarball).digest('hex');
  const sumFile = `${file}.sha256`;
  const text = readOrNull(sumFile);
  if (!text) return result('sha256', 'fail', `${sumFile} is missing (the package's sha256 is ${actual})`, 'download the .sha256 file published with the package and put it beside the package');
  const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$/.exec(text.toString('utf8').trim());
  if (!m) return result('sha256', 'fail', `${sumFile} is not "<64 hex digits>  <file name>" as sha256sum writes it`, 'download the .sha256 file again');
  if (m[2] !== basename(file)) return result('sha256', 'fail', `${sumFile} is the checksum of ${m[2]}, not of ${basename(file)}`, 'use the .sha256 file published with this package');
  if (m[1]!.toLowerCase() !== actual) {
    return result('sha256', 'fail', `${basename(file)} has sha256 ${actual}, but ${sumFile} says ${m[1]!.toLowerCase()}: the file is damaged or was changed`, 'download the package again; do not install this file');
  }
  return result('sha256', 'ok', `${actual} as ${basename(sumFile)} says`);
}

function checkSignature(file: string, tarball: Buffer, key: PublicKeySource): CheckResult {
  const sigFile = `${file}.sig`;
  const signature = readOrNull(sigFile);
  if (!signature) {
    return result('signature', 'fail', `${sigFile} is missing: the package is unsigned (built without SMC_RELEASE_KEY) or its signature was not downloaded`,
      'download the .sig file published with the package; install an unsigned package only if you built it yourself');
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(key.pem);
  } catch (err) {
    return result('signature', 'fail', `${key.name} is not a PEM public key (${(err as Error).message})`, 'give the release public key, keys/smartmissedcalls-release.pub');
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') return result('signature', 'fail', `${key.name} is a ${String(publicKey.asymmetricKeyType)} key; release signatures are Ed25519`);
  if (signature.length !== ED25519_SIGNATURE_BYTES) {
    return result('signature', 'fail', `${sigFile} holds ${signature.length} bytes; an Ed25519 signature is ${ED25519_SIGNATURE_BYTES}`, 'download the .sig file again');
  }
  if (!verify(null, tarball, publicKey, signature)) {
    return result('signature', 'fail', `${sigFile} does not match ${key.name}: the package was not signed with that key, or was changed after it was signed`,
      'do not install this file; download the package and its .sig from the project again');
  }
  return result('signature', 'ok', `signed with ${key.name}`);
}
