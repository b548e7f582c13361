import type { Pool } from 'mysql2/promise';
import type { PbxModel } from '../../src/cdr/generator/pbx.js';
import { ident } from '../../src/db/pool.js';

/** Writes the generator's PBX model into the FreePBX tables we read labels from (users, queues, groups, IVRs, routes). */
export async function writePbxTables(pool: Pool, pbxDb: string, model: PbxModel): Promise<void> {
  const db = ident(pbxDb);
  for (const e of model.extensions) await pool.query(`INSERT INTO ${db}.users (extension, name) VALUES (?, ?)`, [e.number, e.name]);
  for (const q of model.queues) await pool.query(`INSERT INTO ${db}.queues_config (extension, descr) VALUES (?, ?)`, [q.number, q.name]);
  for (const g of model.ringGroups) {
    await pool.query(`INSERT INTO ${db}.ringgroups (grpnum, strategy, grptime, grplist, description) VALUES (?, ?, ?, ?, ?)`, [
      g.number, g.strategy, g.ringSeconds, g.members.join('-'), g.name,
    ]);
  }
  for (const i of model.ivrs) await pool.query(`INSERT INTO ${db}.ivr_details (id, name) VALUES (?, ?)`, [Number(i.id), i.name]);
  for (const d of model.dids) await pool.query(`INSERT INTO ${db}.incoming (extension, description) VALUES (?, ?)`, [d.number, d.description]);
}
