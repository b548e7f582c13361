import type { Pool, RowDataPacket } from 'mysql2/promise';
import { ALL_PBXS, type Config } from '../config/schema.js';
import type { Translate } from '../detect/explain.js';
import type { Mode } from './links.js';
import { THIS_PBX, type PbxSelection } from './tenant-scope.js';

/**
 * Which PBXs of a group the pages show (docs/group.md, "The group view"). Only in group
 * mode (`group.nodes` set); a single PBX has one list and no PBX filter.
 *
 * The request's `pbx` parameter: `all` is the whole group, a pbx id is that PBX alone.
 * Without it, the FreePBX (or VitalPBX) page on a PBX shows that PBX's list, and `smc serve`
 * with its own logins (the group's dashboard, often on a host of its own) shows the group.
 */
const PBX_ID = /^[\w.-]{1,64}$/;

export interface PbxView {
  /** This service's pbx id. */
  thisPbx: string;
  /** The select's options: the whole group, then each PBX the tenant's rows carry. */
  choices: { value: string; label: string }[];
  /** The selected option's value. */
  selected: string;
  /** The `pbx` parameter links carry to keep this view, or null for the default. */
  param: string | null;
  /** More than one PBX on the page: the lists show each row's PBX. */
  several: boolean;
  /** The request named a PBX the tenant's rows do not carry: nothing is shown. */
  unknown: boolean;
  selection: PbxSelection;
}

/**
 * The pbx ids the tenant's rows carry, this PBX's among them. Read on the keys that lead
 * with (tenant, pbx): one look per PBX, whatever the rows' number. Another tenant's PBXs are
 * never among them, so a name another tenant's rows carry selects nothing, as a made-up one.
 */
export async function tenantPbxIds(pool: Pool, tenant: string, thisPbx: string): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT pbx FROM smart_missed_calls WHERE tenant = ? GROUP BY pbx
      UNION SELECT pbx FROM smart_missed_calls_daily WHERE tenant = ? GROUP BY pbx`,
    [tenant, tenant],
  );
  return [...new Set([thisPbx, ...rows.map((r) => String(r.pbx))])].sort();
}

/** The view a request asks for, from its `pbx` parameter and who asks (pure: the ids are read before). */
export function pbxView(asked: unknown, mode: Mode, thisPbx: string, ids: readonly string[], t: Translate): PbxView {
  const value = typeof asked === 'string' && (asked === ALL_PBXS || PBX_ID.test(asked)) ? asked : null;
  const wanted = value ?? (mode === 'standalone' ? ALL_PBXS : null);
  const choices = [
    { value: ALL_PBXS, label: t('All PBXs of the group') },
    ...ids.map((id) => ({ value: id, label: id === thisPbx ? t('{pbx} (this PBX)', { pbx: id }) : id })),
  ];
  const base = { thisPbx, choices, param: value };
  if (wanted === null) return { ...base, selected: thisPbx, several: false, unknown: false, selection: THIS_PBX };
  if (wanted === ALL_PBXS) return { ...base, selected: ALL_PBXS, several: true, unknown: false, selection: { ids: [...ids] } };
  const known = ids.includes(wanted);
  return { ...base, selected: known ? wanted : '', several: false, unknown: !known, selection: { ids: known ? [wanted] : [] } };
}

export function groupMode(config: Config): boolean {
  return config.group.nodes.length > 0;
}
