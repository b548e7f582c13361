import type { RowDataPacket } from 'mysql2/promise';
import { naiveDatetime, naiveSeconds, toCdrRow } from '../../src/cdr/row.js';
import { readTsv, type TsvRecord } from '../../src/cdr/tsv.js';
import { ident } from '../../src/db/pool.js';
import type { Entry } from '../../src/ledger/entries.js';
import { entryFromRow } from '../../src/ledger/store.js';
import { Syncer, type CycleReport } from '../../src/sync/cycle.js';
import { fixtureText, insertCdrRows, type FreshDatabases, type LabSet } from '../harness/db.js';

/**
 * The live path for a recorded lab set: its rows in the harness MariaDB's cdr (and, with CEL
 * on, cel) tables in the order the PBX wrote them, moved so the set starts ten minutes ago,
 * and one sync cycle with no settle wait.
 */
export async function syncLabSet(db: FreshDatabases, set: LabSet, withCel: boolean): Promise<CycleReport> {
  const [[{ now }]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const cdr = readTsv(fixtureText('cdr.tsv', set));
  const first = Math.min(...cdr.map((r) => naiveSeconds(String(r.calldate))));
  const shift = (at: string) => naiveDatetime(naiveSeconds(at) - first + naiveSeconds(now) - 600);
  await insertCdrRows(db.pool, db.names.cdr, cdr.map((r) => toCdrRow({ ...r, calldate: shift(String(r.calldate)) })));
  if (withCel) {
    const cel = readTsv(fixtureText('cel.tsv', set)).sort((a, b) => Number(a.id) - Number(b.id));
    const columns = Object.keys(cel[0]!).filter((c) => c !== 'id');
    await db.pool.query(
      `INSERT INTO ${ident(db.names.cdr)}.cel (${columns.map(ident).join(', ')}) VALUES ?`,
      [cel.map((r: TsvRecord) => columns.map((c) => (c === 'eventtime' ? shift(String(r[c])) : r[c] ?? '')))],
    );
  }
  return new Syncer(db.pool, { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 } }).cycle();
}

/** What the sync stored: each call's verdict, the default tenant's entries and their journal. */
export async function ledgerOf(db: FreshDatabases) {
  const [calls] = await db.pool.query<RowDataPacket[]>('SELECT linkedid, verdict, answered_by, rang, reasons FROM smart_missed_calls_calls');
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT * FROM smart_missed_calls WHERE tenant = 'default' ORDER BY id");
  const [audit] = await db.pool.query<RowDataPacket[]>('SELECT entry_id, event, reason, ext FROM smart_missed_calls_audit ORDER BY id');
  return {
    calls: new Map(calls.map((c) => [String(c.linkedid), { verdict: c.verdict, answeredBy: c.answered_by, rang: JSON.parse(c.rang), reasons: JSON.parse(c.reasons) as string[] }])),
    entries: rows.map(entryFromRow),
    history: (entry: Entry) => audit.filter((a) => Number(a.entry_id) === entry.id).map((a) => ({ event: String(a.event), reason: a.reason as string | null, ext: a.ext as string | null })),
  };
}
