import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { ident } from '../db/pool.js';
import type { RouteLabels } from '../detect/explain.js';

/** What the PBX's own configuration tells us: who is an extension, and what routes are called. */
export interface PbxDirectory {
  extensions: Set<string>;
  /** Route names, and extension → user name (labels.extension) for "answered by 105 (Ana)". */
  labels: RouteLabels;
}

export const EMPTY_DIRECTORY: PbxDirectory = { extensions: new Set(), labels: {} };

/**
 * Reads FreePBX's users, devices, queues_config, ringgroups, ivr_details and incoming.
 * Each table is optional (a module may not be installed): a missing one only loses labels.
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
  const pairs = (rows: RowDataPacket[]) => Object.fromEntries(rows.filter((r) => r.k !== null && r.k !== '').map((r) => [String(r.k), String(r.v ?? '')]));
  const users = await read('SELECT extension AS k, name AS v FROM {db}.users');
  const devices = await read('SELECT id AS k, description AS v FROM {db}.devices');
  const extensions = new Set([...users, ...devices].map((r) => String(r.k)));
  return {
    extensions,
    labels: {
      queue: pairs(await read('SELECT extension AS k, descr AS v FROM {db}.queues_config')),
      ringgroup: pairs(await read('SELECT grpnum AS k, description AS v FROM {db}.ringgroups')),
      ivr: pairs(await read('SELECT id AS k, name AS v FROM {db}.ivr_details')),
      extension: pairs(users),
      route: pairs(await read("SELECT extension AS k, description AS v FROM {db}.incoming WHERE extension <> ''")),
    },
  };
}
