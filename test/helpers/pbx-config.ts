import { naiveDatetime, naiveSeconds, toCdrRow, type CdrRow } from '../../src/cdr/row.js';
import { routesFromTables, type FreepbxRouteTables, type PbxRoutes } from '../../src/cdr/pbx-routes.js';
import { readTsv } from '../../src/cdr/tsv.js';
import { ident, type Pool } from '../../src/db/pool.js';
import { fixtureText, type LabSet } from '../harness/db.js';

const SET = 'freepbx17-lab';

/** A fixture set's config.json: the lab's routing tables when the set was recorded. */
export function labConfigTables(set: LabSet = SET): FreepbxRouteTables {
  return JSON.parse(fixtureText('config.json', set)) as FreepbxRouteTables;
}

export function labRoutes(): PbxRoutes {
  return routesFromTables(labConfigTables());
}

/** Writes routing tables into the harness's FreePBX `asterisk` database, as FreePBX stores them. */
export async function writeConfigTables(pool: Pool, pbxDb: string, tables: FreepbxRouteTables): Promise<void> {
  for (const [table, rows] of Object.entries(tables) as [string, Record<string, unknown>[] | string][]) {
    if (!Array.isArray(rows) || rows.length === 0) continue;
    const columns = Object.keys(rows[0]!);
    await pool.query(
      `INSERT INTO ${ident(pbxDb)}.${ident(table)} (${columns.map(ident).join(', ')}) VALUES ?`,
      [rows.map((r) => columns.map((c) => r[c] ?? null))],
    );
  }
}

/** The real S03 call (queue 400, agents rang, maxwait 20 s → voicemail 104): its 5 CDR rows. */
export function labS03Rows(): CdrRow[] {
  return readTsv(fixtureText('cdr.tsv', SET)).map((r) => toCdrRow(r)).filter((r) => r.linkedid === '1796243743.57');
}

/**
 * S03 as FreePBX records it when Queue() dials no agent (none logged in, all unavailable):
 * the caller's channel keeps one CDR row, and it names the last application — the failover —
 * not the queue. Made from S03's own caller row (PJSIP/carrier, DID 5551000): it starts when
 * the call did and lasts the 20 s in the queue plus the voicemail; or, for a failover to a
 * hang-up (`app-blackhole`), exactly the wait.
 */
export function failoverOnlyRow(failover: 'voicemail' | 'hangup', linkedid = '1796243743.57'): CdrRow {
  const caller = labS03Rows().find((r) => r.lastapp === 'VoiceMail')!;
  const start = Math.min(...labS03Rows().map((r) => naiveSeconds(r.calldate)));
  const common = { ...caller, calldate: naiveDatetime(start), uniqueid: linkedid, linkedid, dstchannel: '', disposition: 'ANSWERED', sequence: 66 };
  return failover === 'voicemail'
    ? { ...common, duration: 41, billsec: 41 }
    : { ...common, dst: 'hangup', dcontext: 'app-blackhole', lastapp: 'Hangup', lastdata: '', duration: 20, billsec: 20 };
}
