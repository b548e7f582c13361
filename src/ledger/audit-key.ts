import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { ConfigError } from '../config/schema.js';
import { inTransaction } from '../db/pool.js';
import { lockChainHead, type AuditKey, type ChainPoint } from './audit.js';

export type { AuditKey, ChainPoint };

const FIELD = 'audit_key_file';

export function parseChainPoint(text: string): ChainPoint | null {
  const m = /^(\d{1,19}):([0-9a-f]{64})$/.exec(text.trim());
  return m ? { id: Number(m[1]), hash: m[2]! } : null;
}

export function parseAuditKey(text: string, path: string): AuditKey {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_]+)\s*=\s*(\S*)\s*$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!);
  }
  const secret = fields.get('key') ?? '';
  if (!/^[0-9a-f]{64}$/.test(secret)) throw new ConfigError(FIELD, '{path} holds no key (a line key=<64 hex digits>)', { path });
  const until = fields.get('unkeyed_until') ?? 'none';
  const unkeyedUntil = until === 'none' ? null : parseChainPoint(until);
  if (until !== 'none' && !unkeyedUntil) throw new ConfigError(FIELD, "{path}: unkeyed_until must be none or <id>:<hash>, not '{value}'", { path, value: until });
  return { secret: Buffer.from(secret, 'hex'), unkeyedUntil };
}

/** Reads the key file named by config.auditKeyFile; a missing or unreadable file names the field. */
export function readAuditKey(path: string): AuditKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(FIELD, 'cannot read {path}: {reason} (smc migrate creates it; restore it from a backup if the journal was keyed with it)', {
      path, reason: (err as Error).message,
    });
  }
  return parseAuditKey(text, path);
}

function keyFileText(secret: Buffer, unkeyedUntil: ChainPoint | null): string {
  return [
    '# Smart Missed Calls: the key of the audit journal (smc audit verify) and of the erasure',
    '# proofs `smc forget` journals. Keep it, with the database backup but not inside it:',
    '# without it the journal cannot be verified; with it, whoever can write the database can',
    '# forge the journal. Rows up to unkeyed_until were written before the key existed.',
    `key=${secret.toString('hex')}`,
    `unkeyed_until=${unkeyedUntil ? `${unkeyedUntil.id}:${unkeyedUntil.hash}` : 'none'}`,
    '',
  ].join('\n');
}

/**
 * `smc migrate` (install, upgrade, every `smc serve` start): creates the key file when it is
 * missing, under the chain head's lock so that no row is appended between reading the
 * newest unkeyed row and the switch. Mode 0640; when root creates it, it gets the owner and
 * group of its directory (the service's, as install sets them). Returns whether it created it.
 */
export async function ensureAuditKey(pool: Pool, path: string): Promise<boolean> {
  if (existsSync(path)) {
    readAuditKey(path);
    return false;
  }
  return inTransaction(pool, async (conn) => {
    await lockChainHead(conn);
    // Another `smc migrate` may have created it while this one waited for the lock.
    if (existsSync(path)) return false;
    const [last] = await conn.query<RowDataPacket[]>('SELECT id, hash FROM smart_missed_calls_audit ORDER BY id DESC LIMIT 1');
    const unkeyedUntil = last[0] ? { id: Number(last[0].id), hash: String(last[0].hash) } : null;
    writeKeyFile(path, keyFileText(randomBytes(32), unkeyedUntil));
    return true;
  });
}

function writeKeyFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o640);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (process.getuid?.() === 0) {
      const dir = statSync(dirname(path));
      chownSync(tmp, dir.uid, dir.gid);
    }
    renameSync(tmp, path);
  } catch (err) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw new ConfigError(FIELD, 'cannot create {path}: {reason}', { path, reason: (err as Error).message });
  }
}

/**
 * A restore brings the journal of another moment, keyed with the key of that moment, which
 * the backup carries: it becomes the key, and the one it replaces waits beside it until the
 * restore is finished (dropped) or aborted (put back).
 */
export function restoreAuditKey(path: string, text: string): void {
  parseAuditKey(text, 'the backup\'s audit key');
  const aside = `${path}.before-restore`;
  if (existsSync(path) && !existsSync(aside)) renameSync(path, aside);
  writeKeyFile(path, text);
}

export function endAuditKeyRestore(path: string, outcome: 'finished' | 'aborted'): void {
  const aside = `${path}.before-restore`;
  if (!existsSync(aside)) return;
  if (outcome === 'aborted') renameSync(aside, path);
  else unlinkSync(aside);
}

/** The key file's text for a backup, or null where there is none yet. */
export function auditKeyText(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}
