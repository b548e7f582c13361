import type { Config } from '../config/schema.js';
import type { Level } from './check.js';
import type { ScopedResult } from './checks.js';

/**
 * Who sees what of the checks. Admins see each check with its fix. Viewers see only how
 * many need attention. On VitalPBX a tenant's admin sees their tenant's own checks in
 * full and the PBX-wide ones only counted: those name the PBX's database, its other
 * tenants and its configuration, which are the PBX administrator's (the superadmin's).
 */
export interface Tally {
  fail: number;
  warn: number;
  total: number;
}

export interface HealthView {
  /** Over every check the reader is concerned with, shown or counted. */
  worst: Level;
  tally: Tally;
  /** Shown in full; null for a viewer. */
  checks: ScopedResult[] | null;
  /** Counted only: the PBX-wide checks a VitalPBX tenant admin does not see. */
  pbxOnly: Tally | null;
}

export function tallyOf(results: readonly ScopedResult[]): Tally {
  return {
    fail: results.filter((r) => r.level === 'fail').length,
    warn: results.filter((r) => r.level === 'warn').length,
    total: results.length,
  };
}

export function worstOf(t: Tally): Level {
  return t.fail ? 'fail' : t.warn ? 'warn' : 'ok';
}

export function healthFor(results: readonly ScopedResult[], reader: { role: 'admin' | 'viewer' | 'superadmin'; pbx: Config['pbx'] }): HealthView {
  const tally = tallyOf(results);
  const worst = worstOf(tally);
  if (reader.role === 'viewer') return { worst, tally, checks: null, pbxOnly: null };
  if (reader.role === 'admin' && reader.pbx === 'vitalpbx') {
    return { worst, tally, checks: results.filter((r) => r.scope === 'tenant'), pbxOnly: tallyOf(results.filter((r) => r.scope === 'pbx')) };
  }
  return { worst, tally, checks: [...results], pbxOnly: null };
}
