import { findCdrTables, recentTenants } from '../cdr/discover.js';
import { readVitalpbxDirectory } from '../cdr/vitalpbx-directory.js';
import { result, text, type CheckResult, type DoctorContext } from './check.js';

/**
 * VitalPBX: where the CDR really is (field reports disagree: one asterisk.cdr stamped
 * with a tenant column, or a database per tenant), which tenants ombutel has, and how
 * the last day's rows will be given to them.
 */
export async function checkVitalpbx(ctx: DoctorContext): Promise<CheckResult[]> {
  const { db } = ctx.config;
  const out: CheckResult[] = [];
  const add = (...args: Parameters<typeof result>) => out.push(result(...args));

  const tables = await findCdrTables(ctx.cdrPool ?? ctx.pool);
  const where = tables.map((t) => `${t.database}.${t.table}${t.vitalpbxColumns.length ? ` (${t.vitalpbxColumns.join(', ')})` : ''}`);
  const configured = tables.find((t) => t.database === db.cdrDatabase && t.table === db.cdrTable);
  const others = tables.filter((t) => t !== configured && t.vitalpbxColumns.includes('tenant'));
  add('cdr location', configured ? (others.length ? 'warn' : 'ok') : 'fail',
    tables.length ? text('CDR tables found: {tables}', { tables: where.join(', ') }) : text('no CDR-shaped table (calldate, uniqueid, linkedid) is visible to {user}', { user: db.user }),
    !configured ? 'set db.cdr_database / db.cdr_table in config.yaml to the table above that holds every tenant\'s calls'
      : others.length ? text('only {table} is read; per-tenant tables are not', { table: `${db.cdrDatabase}.${db.cdrTable}` }) : '');

  let directory;
  try {
    directory = await readVitalpbxDirectory(ctx.cdrPool ?? ctx.pool, db);
  } catch (err) {
    add('vitalpbx tenants', 'fail', text('cannot read {table}: {error}', { table: `${db.pbxDatabase}.ombu_tenants`, error: (err as Error).message }),
      text('GRANT SELECT ON {database}.* TO the service\'s user (vitalpbx/install.sh does)', { database: db.pbxDatabase }));
    return out;
  }
  add('vitalpbx tenants', directory.tenants.length ? 'ok' : 'fail',
    text('{count} tenant(s): {tenants}; {dids} DID(s) in ombu_inbound_routes', {
      count: directory.tenants.length,
      tenants: directory.tenants.map((t) => `${t.key} (id ${t.id}, prefix ${t.prefix}${t.main ? ', main' : ''})`).join('; '),
      dids: directory.dids.length,
    }));

  if (!configured?.vitalpbxColumns.includes('tenant')) {
    add('cdr tenant column', 'warn', text('{table} has no tenant column: calls are placed by channel/context prefix, then DID, then the main tenant', { table: `${db.cdrDatabase}.${db.cdrTable}` }));
    return out;
  }
  const known = new Set(directory.tenants.flatMap((t) => [t.key, t.name]));
  const seen = await recentTenants(ctx.cdrPool ?? ctx.pool, db);
  const strangers = seen.filter((s) => s.tenant !== '' && !known.has(s.tenant));
  const blank = seen.find((s) => s.tenant === '');
  add('cdr tenant column', strangers.length ? 'warn' : 'ok',
    seen.length === 0 ? 'last 24 h by tenant column: no rows'
      : text(blank ? 'last 24 h by tenant column: {counts}; rows without a tenant are placed by prefix, then DID, then the main tenant' : 'last 24 h by tenant column: {counts}',
        { counts: seen.map((s) => `'${s.tenant}' ${s.rows}`).join(', ') }),
    strangers.length ? text('{tenants} is not in ombu_tenants: those rows are placed by prefix/DID instead', { tenants: strangers.map((s) => s.tenant).join(', ') }) : '');
  return out;
}
