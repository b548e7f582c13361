import type { RowDataPacket } from 'mysql2/promise';
import { groupNodes, groupTls } from '../db/ledger-pool.js';
import { createPool, serverOf, type Pool } from '../db/pool.js';
import { privilegesOn } from './grants.js';
import { result, text, type CheckResult, type DoctorContext } from './check.js';

/** Fewer nodes than this and one more lost stops the group's writes (quorum): docs/group.md. */
const SAFE_CLUSTER_SIZE = 3;
const NEEDED = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
/** Held on the group's database, these let the ledger's user drop the journal's triggers. */
const BEYOND_SERVICE = ['TRIGGER', 'DROP', 'ALTER'];

interface NodeState {
  server: string;
  pool: Pool | null;
  error: string;
  status: Record<string, string>;
}

/**
 * Group mode: each node of group.nodes reachable as the ledger's user and serving (Galera's
 * wsrep_ready, Synced, in the primary component), the cluster's size, the user's grants on
 * the group's database (the clock's skew is the group clock check's, checks.ts).
 * Nothing in a single-PBX install.
 */
export async function checkCluster(ctx: DoctorContext): Promise<CheckResult[]> {
  const { config } = ctx;
  if (config.group.nodes.length === 0) return [];
  const ssl = groupTls(config.group);
  const nodes: NodeState[] = groupNodes(config).map((node) => ({ server: serverOf(node), pool: createPool(node, 1, { pbxId: config.pbxId, ssl }), error: '', status: {} }));
  const out: CheckResult[] = [];
  try {
    await Promise.all(nodes.map(async (node) => {
      try {
        const [rows] = await node.pool!.query<RowDataPacket[]>(
          "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_cluster_size', 'wsrep_local_state_comment', 'wsrep_cluster_status')",
        );
        node.status = Object.fromEntries(rows.map((r) => [String(r.Variable_name), String(r.Value)]));
      } catch (err) {
        node.error = (err as Error).message;
        await node.pool!.end().catch(() => {});
        node.pool = null;
      }
    }));

    for (const node of nodes) {
      const s = node.status;
      if (node.pool === null) {
        out.push(result('cluster node', 'fail', text('node {server} cannot be reached as {user}: {error}', { server: node.server, user: config.group.user, error: node.error }),
          text('start MariaDB there (systemctl start mariadb) and check the firewall (3306 from this PBX; 4567, 4568, 4444 between the nodes); docs/group.md, "When a node or a site is lost"')));
      } else if (s.wsrep_ready === undefined) {
        out.push(result('cluster node', 'fail', text('node {server} is not a Galera node (no wsrep status)', { server: node.server }),
          'group.nodes must list the nodes of the group\'s Galera cluster: docs/group.md, "A cluster for a group"'));
      } else if (s.wsrep_ready !== 'ON' || s.wsrep_local_state_comment !== 'Synced' || s.wsrep_cluster_status !== 'Primary') {
        out.push(result('cluster node', 'warn',
          text('node {server} is not serving: wsrep_ready {ready}, state {state}, component {component}', { server: node.server, ready: s.wsrep_ready, state: s.wsrep_local_state_comment ?? '', component: s.wsrep_cluster_status ?? '' }),
          'a node that is joining catches up by itself; a non-Primary one lost its quorum: docs/group.md, "When a node or a site is lost"'));
      } else {
        out.push(result('cluster node', 'ok', text('node {server}: Synced, ready, in the primary component', { server: node.server })));
      }
    }

    const serving = nodes.filter((n) => n.pool !== null && n.status.wsrep_ready === 'ON');
    const first = serving[0];
    if (!first) return out;
    const size = Math.max(...serving.map((n) => Number(n.status.wsrep_cluster_size ?? 0)));
    out.push(size >= SAFE_CLUSTER_SIZE
      ? result('cluster size', 'ok', text('the cluster has {size} nodes', { size }))
      : result('cluster size', 'warn', text('the cluster has {size} nodes, fewer than {safe}: losing one more stops the group\'s writes', { size, safe: SAFE_CLUSTER_SIZE }),
        'bring the missing node back (it rejoins by itself once MariaDB starts), or add a node or a garbd arbitrator: docs/group.md'));

    out.push(await clusterGrants(ctx, first.pool!));
    return out;
  } finally {
    await Promise.all(nodes.map((n) => n.pool?.end().catch(() => {})));
  }
}

async function clusterGrants(ctx: DoctorContext, pool: Pool): Promise<CheckResult> {
  const { user, database } = ctx.config.group;
  const [rows] = await pool.query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  const held = privilegesOn(rows.map((r) => String(Object.values(r)[0])), database);
  const lacking = held.has('ALL') ? [] : NEEDED.filter((p) => !held.has(p));
  if (lacking.length) {
    return result('cluster grants', 'fail', text('{user} lacks {privileges} on {database} on the cluster', { user, privileges: lacking.join(', '), database }),
      text('on one node, as the MariaDB root user (grants replicate): GRANT SELECT, INSERT, UPDATE, DELETE ON {database}.* TO \'{user}\'@\'<this PBX>\'', { database, user }));
  }
  const beyond = held.has('ALL') ? ['ALL'] : BEYOND_SERVICE.filter((p) => held.has(p));
  if (beyond.length) {
    return result('cluster grants', 'warn',
      text('{user} holds {privileges} on {database} on the cluster: whoever uses it can drop the audit journal\'s triggers', { user, privileges: beyond.join(', '), database }),
      'run the service with only SELECT, INSERT, UPDATE, DELETE on the group\'s database, and migrations with an admin user: docs/group.md, "Grants"');
  }
  return result('cluster grants', 'ok', text('{user} may read and write the rows of {database} on the cluster, and no more there', { user, database }));
}
