/**
 * VitalPBX mode of the generator: the calls the FreePBX-shaped scenarios build, as a
 * multi-tenant VitalPBX 4 would record them — every tenant's endpoints and contexts
 * carry its prefix (PJSIP/T2_101, T2_ext-queues, Local/101@T2_queue-call-to-agents), the
 * main tenant's carry none, trunks are shared and keep their own names, and each row has
 * VitalPBX's extra cdr columns (tenant, calltype, trunk, source, destination). Plus the
 * tenants written into ombutel's ombu_* tables. Only for demo and test databases.
 *
 * The dialplan names come from generated VitalPBX configuration published by third
 * parties (see docs/install-vitalpbx.md, "What is verified"); where a name was not seen
 * (the root row's context on a direct call, voicemail dst), the FreePBX one is kept.
 */
import type { Pool } from '../../db/pool.js';
import { ident } from '../../db/pool.js';
import type { CallLabel } from './label.js';
import type { GeneratedRow } from './legs.js';
import type { Destination, PbxModel } from './pbx.js';
import type { GeneratedCall } from './scenarios.js';

export interface VitalpbxTenantModel {
  id: number;
  /** ombu_tenants.name: what the dialplan stamps in CDR(tenant), and our tenant key. */
  name: string;
  /** The main tenant (id 1) names its objects without a prefix. */
  main: boolean;
  model: PbxModel;
}

export interface VitalpbxRow extends GeneratedRow {
  tenant: string;
  /** VitalPBX's call type: 1 internal, 2 incoming, 3 outgoing. */
  calltype: number;
  trunk: string;
  source: string;
  destination: string;
}

export interface VitalpbxOptions {
  /** VitalPBX's trunk id, which its trunk contexts stamp in CDR(trunk). */
  trunkId: string;
  /** Whether rows carry the tenant column (older or custom dialplans may leave it empty). */
  stampTenant: boolean;
}

export const VITALPBX_INSERT_COLUMNS = [
  'calldate', 'clid', 'src', 'dst', 'dcontext', 'channel', 'dstchannel', 'lastapp', 'lastdata', 'duration', 'billsec',
  'disposition', 'uniqueid', 'linkedid', 'sequence', 'did', 'tenant', 'calltype', 'trunk', 'source', 'destination',
] as const;

const CALLTYPE: Record<CallLabel['direction'], number> = { internal: 1, inbound: 2, outbound: 3 };

export function tenantPrefix(tenant: VitalpbxTenantModel): string {
  return tenant.main ? '' : `T${tenant.id}_`;
}

/** A FreePBX-shaped call rewritten as VitalPBX writes it for this tenant. */
export function asVitalpbxCall(call: GeneratedCall, tenant: VitalpbxTenantModel, options: VitalpbxOptions): GeneratedCall & { rows: VitalpbxRow[] } {
  const prefix = tenantPrefix(tenant);
  const extensions = new Set(tenant.model.extensions.map((e) => e.number));
  const trunk = tenant.model.trunk;
  const device = (channel: string): string => {
    const local = /^Local\/([^@]*)@(.+?)(-[0-9a-f]+;[12])$/.exec(channel);
    if (local) return `Local/${local[1]}@${prefix}${vitalContext(local[2]!)}${local[3]}`;
    const m = /^([A-Za-z0-9]+)\/([^-/]+)(-[0-9a-f]+)$/.exec(channel);
    return m && extensions.has(m[2]!) ? `${m[1]}/${prefix}${m[2]}${m[3]}` : channel;
  };
  const rows = call.rows.map((row): VitalpbxRow => {
    const ivr = /^ivr-(\d+)$/.exec(row.dcontext);
    const onTrunk = row.channel.startsWith(`PJSIP/${trunk}-`) || row.dstchannel.startsWith(`PJSIP/${trunk}-`);
    return {
      ...row,
      channel: device(row.channel),
      dstchannel: device(row.dstchannel),
      dcontext: ivr ? `${prefix}app-ivr` : `${prefix}${vitalContext(row.dcontext)}`,
      dst: ivr ? `IVR-${ivr[1]}` : row.dst,
      lastdata: cut(row.lastapp === 'Queue' ? `${prefix}Q${row.lastdata}` : row.lastdata.replace(/PJSIP\/(\d+)\/sip:(\d+)@/g, `PJSIP/${prefix}$1/sip:${prefix}$2@`)),
      tenant: options.stampTenant ? tenant.name : '',
      calltype: CALLTYPE[call.label.direction],
      trunk: onTrunk ? options.trunkId : '',
      source: row.src,
      destination: row.dst,
    };
  });
  return { ...call, rows };
}

/** cdr columns are varchar(80): a longer dial string arrives cut, as on FreePBX. */
function cut(text: string): string {
  return text.slice(0, 80);
}

function vitalContext(freepbx: string): string {
  switch (freepbx) {
    case 'ext-group':
      return 'ext-ringgroups';
    case 'from-queue':
      return 'queue-call-to-agents';
    case 'from-internal':
    case 'from-did-direct':
    case 'ext-local':
      return 'cos-all';
    case 'ext-findmefollow':
      return 'ext-followme';
    default:
      return freepbx;
  }
}

/** One multi-row INSERT into VitalPBX's cdr (asterisk.cdr). */
export async function insertVitalpbxRows(pool: Pool, cdrDb: string, rows: VitalpbxRow[], table = 'cdr'): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    `INSERT INTO ${ident(cdrDb)}.${ident(table)} (${VITALPBX_INSERT_COLUMNS.map(ident).join(', ')}) VALUES ?`,
    [rows.map((row) => VITALPBX_INSERT_COLUMNS.map((c) => row[c]))],
  );
}

/**
 * The model as tenant `tenantId` of a shared VitalPBX has it: the same extension numbers
 * (101 exists in every tenant), its own DIDs (0215550100 → 0215551100 for tenant 1,
 * 0215552100 for tenant 2, on the same trunk) and its own IVR ids (ombu_ivrs ids are global).
 */
export function tenantModel(model: PbxModel, tenantId: number): PbxModel {
  const ivr = (id: string) => String(tenantId * 100 + Number(id));
  const moved = (to: Destination): Destination => (to.kind === 'ivr' ? { kind: 'ivr', ivr: ivr(to.ivr) } : to);
  return {
    ...model,
    ivrs: model.ivrs.map((i) => ({ ...i, id: ivr(i.id) })),
    dids: model.dids.map((d) => ({
      ...d,
      number: d.number.slice(0, -3) + String(tenantId % 10) + d.number.slice(-2),
      destination: moved(d.destination),
      ...(d.afterHours ? { afterHours: moved(d.afterHours) } : {}),
    })),
  };
}

/**
 * The tenants as VitalPBX's panel saves them: ombu_tenants, ombu_extensions +
 * ombu_devices, ombu_queues + members, ombu_ring_groups + members, ombu_ivrs and
 * ombu_inbound_routes. The main tenant (id 1) already exists in a fresh ombutel; it is
 * renamed to the model's name.
 */
export async function writeOmbutel(pool: Pool, ombutelDb: string, tenants: VitalpbxTenantModel[]): Promise<void> {
  const db = ident(ombutelDb);
  for (const tenant of tenants) {
    await pool.query(
      `INSERT INTO ${db}.ombu_tenants (tenant_id, name, description, \`default\`, path, prefix, enabled) VALUES (?, ?, ?, ?, ?, NULL, 'yes')
       ON DUPLICATE KEY UPDATE name = VALUES(name), description = VALUES(description)`,
      [tenant.id, tenant.name, tenant.name, tenant.main ? 'yes' : 'no', tenant.id.toString(16).padStart(16, '0')],
    );
    const { model } = tenant;
    const extensionIds = new Map<string, number>();
    for (const ext of model.extensions) {
      const [result] = await pool.query(
        `INSERT INTO ${db}.ombu_extensions (extension, name, class_of_service_id, mailbox, tenant_id) VALUES (?, ?, 1, ?, ?)`,
        [ext.number, ext.name, ext.voicemail ? ext.number : null, tenant.id],
      );
      const id = (result as { insertId: number }).insertId;
      extensionIds.set(ext.number, id);
      await pool.query(
        `INSERT INTO ${db}.ombu_devices (extension_id, user, description, technology, tenant_id) VALUES (?, ?, ?, 'pjsip', ?)`,
        [id, ext.number, ext.name, tenant.id],
      );
    }
    for (const queue of model.queues) {
      const [result] = await pool.query(
        `INSERT INTO ${db}.ombu_queues (extension, description, strategy, tenant_id) VALUES (?, ?, ?, ?)`,
        [Number(queue.number), queue.name, queue.strategy, tenant.id],
      );
      const queueId = (result as { insertId: number }).insertId;
      for (const member of queue.members) {
        await pool.query(`INSERT INTO ${db}.ombu_queue_members (queue_id, extension_id, type) VALUES (?, ?, 'static')`, [queueId, extensionIds.get(member)]);
      }
    }
    for (const group of model.ringGroups) {
      const [result] = await pool.query(
        `INSERT INTO ${db}.ombu_ring_groups (extension, description, strategy, ringtime, tenant_id) VALUES (?, ?, ?, ?, ?)`,
        [group.number, group.name, group.strategy, group.ringSeconds, tenant.id],
      );
      const groupId = (result as { insertId: number }).insertId;
      for (const member of group.members) {
        await pool.query(`INSERT INTO ${db}.ombu_ring_group_members (ring_group_id, extension_id) VALUES (?, ?)`, [groupId, extensionIds.get(member)]);
      }
    }
    // The scenarios dial IVR-<model id>; ombu_ivrs ids are global, so the model's ids must not collide across tenants.
    for (const ivr of model.ivrs) {
      await pool.query(`INSERT INTO ${db}.ombu_ivrs (ivr_id, description, timeout, tenant_id) VALUES (?, ?, ?, ?)`, [Number(ivr.id), ivr.name, ivr.timeoutSeconds, tenant.id]);
    }
    for (const did of model.dids) {
      await pool.query(
        `INSERT INTO ${db}.ombu_inbound_routes (description, did, language, tenant_id) VALUES (?, ?, 'en', ?)`,
        [did.description, did.number, tenant.id],
      );
    }
  }
}

