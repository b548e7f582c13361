import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { ident } from '../db/pool.js';
import type { RouteLabels } from '../detect/explain.js';
import { NO_ROUTES, routeLabelsOf, routesFromTables, type FreepbxRouteTables, type PbxRoutes } from './pbx-routes.js';

/** What the PBX's own configuration tells us: who is an extension, and what routes are called. */
export interface PbxDirectory {
  extensions: Set<string>;
  /** Route names, and extension → user name (labels.extension) for "answered by 105 (Ana)". */
  labels: RouteLabels;
  /** Where inbound routes, failovers and time conditions send a call. */
  routes: PbxRoutes;
}

export const EMPTY_DIRECTORY: PbxDirectory = { extensions: new Set(), labels: {}, routes: NO_ROUTES };

/**
 * Reads FreePBX's users, devices, queues_config + queues_details, ringgroups, ivr_details +
 * ivr_entries, timeconditions, findmefollow and incoming. Each table is optional (a module may
 * not be installed): a missing one only loses labels and the routes through it.
 */
export async function loadFreepbxDirectory(pool: Pool, db: DbConfig): Promise<PbxDirectory> {
  const schema = ident(db.pbxDatabase);
  const read = async (sql: string): Promise<RowDataPacket[]> => {
    try {
      const [rows] = await pool.query<RowDataPacket[]>(sql.replaceAll('{db}', schema));
      return rows;
    } catch {
      return [];
    }
  };
  const users = await read('SELECT extension, name FROM {db}.users');
  const devices = await read('SELECT id FROM {db}.devices');
  const routes = routesFromTables({
    users: users as FreepbxRouteTables['users'],
    incoming: await read('SELECT extension, cidnum, destination, description FROM {db}.incoming'),
    queues_config: await read('SELECT extension, descr, maxwait, dest FROM {db}.queues_config'),
    queues_details: await read("SELECT id, keyword, data FROM {db}.queues_details WHERE keyword IN ('joinempty', 'leavewhenempty', 'maxlen')"),
    ringgroups: await read('SELECT grpnum, description, postdest FROM {db}.ringgroups'),
    ivr_details: await read('SELECT id, name, timeout_destination, invalid_destination FROM {db}.ivr_details'),
    ivr_entries: await read('SELECT ivr_id, selection, dest FROM {db}.ivr_entries'),
    timeconditions: await read('SELECT timeconditions_id, displayname, truegoto, falsegoto FROM {db}.timeconditions'),
    findmefollow: await read('SELECT grpnum, postdest FROM {db}.findmefollow'),
  } as FreepbxRouteTables);
  return {
    extensions: new Set([...users.map((u) => String(u.extension)), ...devices.map((d) => String(d.id))].filter((e) => e !== '')),
    labels: routeLabelsOf(routes),
    routes,
  };
}
