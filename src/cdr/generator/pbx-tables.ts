/**
 * The generator's PBX written into FreePBX's own configuration tables (the shapes in
 * tools/schema/freepbx-asterisk.sql), as the GUI would have saved it: so the demo's pages
 * show queue, group, IVR, route and user names, read the way they are on a real box.
 * Only for demo and test databases.
 */
import type { Pool } from '../../db/pool.js';
import { ident } from '../../db/pool.js';
import type { Destination, Failover, PbxModel } from './pbx.js';

/** FreePBX's goto strings (context,exten,priority) for each kind of destination. */
export function freepbxDestination(to: Destination | Failover): string {
  switch (to.kind) {
    case 'queue':
      return `ext-queues,${to.queue},1`;
    case 'ringgroup':
      return `ext-group,${to.group},1`;
    case 'extension':
      return `from-did-direct,${to.extension},1`;
    case 'voicemail':
      return `ext-local,vmu${to.extension},1`;
    case 'ivr':
      return `ivr-${to.ivr},s,1`;
    case 'hangup':
      return 'app-blackhole,hangup,1';
  }
}

async function insertAll(pool: Pool, table: string, columns: string[], rows: (string | number | null)[][]): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(`INSERT INTO ${table} (${columns.map(ident).join(', ')}) VALUES ?`, [rows]);
}

/** Fills users, devices, queues_config + queues_details, ringgroups, ivr_details and incoming of `pbxDb`. */
export async function writePbxTables(pool: Pool, pbxDb: string, model: PbxModel): Promise<void> {
  const db = ident(pbxDb);
  await insertAll(pool, `${db}.users`, ['extension', 'password', 'name', 'voicemail', 'ringtimer', 'noanswer', 'recording', 'outboundcid', 'sipname', 'mohclass'],
    model.extensions.map((e) => [e.number, '', e.name, e.voicemail ? 'default' : 'novm', 0, '', '', '', '', 'default']));
  await insertAll(pool, `${db}.devices`, ['id', 'tech', 'dial', 'devicetype', 'user', 'description', 'emergency_cid'],
    model.extensions.map((e) => [e.number, 'pjsip', `PJSIP/${e.number}`, 'fixed', e.number, e.name, '']));
  await insertAll(pool, `${db}.queues_config`, ['extension', 'descr', 'maxwait', 'dest'],
    model.queues.map((q) => [q.number, q.name, q.maxWaitSeconds === null ? '' : String(q.maxWaitSeconds), freepbxDestination(q.failover)]));
  await insertAll(pool, `${db}.queues_details`, ['id', 'keyword', 'data', 'flags'],
    model.queues.flatMap((q) => [
      [q.number, 'strategy', q.strategy, 0],
      [q.number, 'timeout', String(q.memberTimeoutSeconds), 0],
      [q.number, 'retry', String(q.retrySeconds), 0],
      ...q.members.map((m, i) => [q.number, 'member', `Local/${m}@from-queue/n,0`, i]),
    ]));
  await insertAll(pool, `${db}.ringgroups`, ['grpnum', 'strategy', 'grptime', 'grppre', 'grplist', 'postdest', 'description'],
    model.ringGroups.map((g) => [g.number, g.strategy, g.ringSeconds, '', g.members.join('-'), freepbxDestination(g.failover), g.name]));
  await insertAll(pool, `${db}.ivr_details`, ['id', 'name', 'description', 'timeout_time', 'timeout_destination', 'invalid_destination'],
    model.ivrs.map((i) => [Number(i.id), i.name, i.name, i.timeoutSeconds, 'app-blackhole,hangup,1', 'app-blackhole,hangup,1']));
  await insertAll(pool, `${db}.incoming`, ['cidnum', 'extension', 'destination', 'description'],
    model.dids.map((d) => ['', d.number, freepbxDestination(d.destination), d.description]));
}
