import { findCdrTables, recentTenants } from '../cdr/discover.js';
import { readVitalpbxDirectory } from '../cdr/vitalpbx-directory.js';
import { result, type CheckResult, type DoctorContext } from './doctor-check.js';

/**
 * VitalPBX: where the CDR really is (field reports disagree: one asterisk.cdr stamped
 * with a tenant column, or a database per tenant), which tenants ombutel has, and how
 * the last day's rows will be given to them.
 */
export async function checkVitalpbx(ctx: DoctorContext): Promise<CheckResult[]> {
  const { db } = ctx.config;
  const out: CheckResult[] = [];
  const add = (...args: Parameters<typeof result>) => out.push(result(...args));

  const tables = await findCdrTables(ctx.pool);
  const where = tables.map((t) => `${t.database}.${t.table}${t.vitalpbxColumns.length ? ` (${t.vitalpbxColumns.join(', ')})` : ''}`);
  const configured = tables.find((t) => t.database === db.cdrDatabase && t.table === db.cdrTable);
  const others = tables.filter((t) => t !== configured && t.vitalpbxColumns.includes('tenant'));
  add('cdr location', configured ? (others.length ? 'warn' : 'ok') : 'fail',
    tables.length ? `CDR tables found: ${where.join(', ')}` : `no CDR-shaped table (calldate, uniqueid, linkedid) is visible to ${db.user}`,
    !configured ? 'set db.cdr_database / db.cdr_table in config.yaml to the table above that holds every tenant\'s calls'
      : others.length ? `only ${db.cdrDatabase}.${db.cdrTable} is read; per-tenant tables are not` : '');

  let directory;
  try {
    directory = await readVitalpbxDirectory(ctx.pool, db);
  } catch (err) {
    add('vitalpbx tenants', 'fail', `cannot read ${db.pbxDatabase}.ombu_tenants: ${(err as Error).message}`,
      `GRANT SELECT ON ${db.pbxDatabase}.* TO the service's user (vitalpbx/install.sh does)`);
    return out;
  }
  add('vitalpbx tenants', directory.tenants.length ? 'ok' : 'fail',
    `${directory.tenants.length} tenant(s): ${directory.tenants.map((t) => `${t.key} (id ${t.id}, prefix ${t.prefix}${t.main ? ', main' : ''})`).join('; ')}; ${directory.dids.length} DID(s) in ombu_inbound_routes`);

  if (!configured?.vitalpbxColumns.includes('tenant')) {
    add('cdr tenant column', 'warn', `${db.cdrDatabase}.${db.cdrTable} has no tenant column: calls are placed by channel/context prefix, then DID, then the main tenant`);
    return out;
  }
  const known = new Set(directory.tenants.flatMap((t) => [t.key, t.name]));
  const seen = await recentTenants(ctx.pool, db);
  const strangers = seen.filter((s) => s.tenant !== '' && !known.has(s.tenant));
  const blank = seen.find((s) => s.tenant === '');
  add('cdr tenant column', strangers.length ? 'warn' : 'ok',
    `last 24 h by tenant column: ${seen.map((s) => `'${s.tenant}' ${s.rows}`).join(', ') || 'no rows'}`
      + (blank ? `; rows without a tenant are placed by prefix, then DID, then the main tenant` : ''),
    strangers.length ? `${strangers.map((s) => s.tenant).join(', ')} is not in ombu_tenants: those rows are placed by prefix/DID instead` : '');
  return out;
}
