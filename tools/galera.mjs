// A private 3-node MariaDB Galera cluster for tests: three mariadbd with wsrep on loopback, each
// with its own data directory, unix socket and free TCP ports (SQL, group communication, IST,
// SST), small buffer pools so the three fit a 2-core CI machine. Nodes can be killed -9, stopped
// and started again; a node that comes back rejoins by IST (its position recovered first, as
// Debian's galera_recovery does) or, failing that, by a full rsync SST.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';

/** Where Debian's galera-4 puts the wsrep provider. */
export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

const INSTALL_TIMEOUT_MS = 60_000;
const JOIN_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const RECOVER_TIMEOUT_MS = 60_000;

/**
 * @param {string} name
 * @returns {string | null}
 */
function findBinary(name) {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/sbin']) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/**
 * Everything a node needs, checked before anything starts: a missing piece is named with the
 * Debian package that brings it, instead of a node that never joins.
 * @returns {{ mariadbd: string, installDb: string }}
 */
export function galeraTools() {
  /** @type {string[]} */
  const missing = [];
  if (!existsSync(GALERA_PROVIDER)) missing.push(`${GALERA_PROVIDER} (Debian package galera-4)`);
  const mariadbd = findBinary('mariadbd');
  const installDb = findBinary('mariadb-install-db');
  if (!mariadbd) missing.push('mariadbd (mariadb-server-core)');
  if (!installDb) missing.push('mariadb-install-db (mariadb-server-core)');
  // The rsync SST: the script (mariadb-server), rsync itself, and a socket lister it waits with.
  if (!findBinary('wsrep_sst_rsync')) missing.push('wsrep_sst_rsync (mariadb-server)');
  if (!findBinary('rsync')) missing.push('rsync (rsync)');
  if (!findBinary('ss') && !findBinary('lsof')) missing.push('ss (iproute2)');
  if (missing.length) {
    throw new Error(`a Galera cluster for the tests needs ${missing.join(', ')}: run \`node tools/prerequisites.mjs test\` as root, or apt-get install galera-4 mariadb-server rsync iproute2`);
  }
  return { mariadbd: /** @type {string} */ (mariadbd), installDb: /** @type {string} */ (installDb) };
}

/**
 * Debian's mysql account (mariadb-server makes it).
 * @returns {{ uid: number, gid: number }}
 */
function mysqlAccount() {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mysql:'));
  if (!line) throw new Error('a Galera cluster for the tests run as root needs the mysql account (Debian package mariadb-server makes it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * The first port the kernel hands out to outgoing connections. A port we pick must lie below
 * it: a node's ports stay unbound until it starts (the last joiner's for half a minute), and an
 * outgoing connection (another node's group traffic, an SST's rsync client) could take one in
 * the meantime; the rsync SST then refuses its port as "taken by another program".
 * @returns {number}
 */
function ephemeralLow() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > PORT_FLOOR + 1000) return low;
  } catch {
    // not Linux: its default range
  }
  return 32768;
}

/** Below this are the well-known and registered ports a machine's own services use. */
const PORT_FLOOR = 20000;

/** @param {number} port @returns {Promise<boolean>} whether 127.0.0.1:`port` can be listened on now */
function bindable(port) {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/**
 * A port no one listens on now, below the ephemeral range, and not in `taken` (this cluster's
 * own picks, which are not bound yet); added to `taken`.
 * @param {Set<number>} taken
 * @returns {Promise<number>}
 */
async function freePort(taken) {
  const top = ephemeralLow();
  for (let tries = 0; tries < 200; tries++) {
    const port = PORT_FLOOR + Math.floor(Math.random() * (top - PORT_FLOOR));
    if (taken.has(port) || !(await bindable(port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error(`no free TCP port between ${PORT_FLOOR} and ${top} on 127.0.0.1 after 200 tries`);
}

/**
 * @param {string} path
 * @param {number} lines
 */
function tail(path, lines) {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}

/**
 * Why a node stopped, from its log: the errors it wrote (a failed SST's cause is often far above
 * the shutdown's last lines), then its last lines.
 * @param {GaleraNode} node
 */
function whyStopped(node) {
  let errors = [];
  try {
    errors = readFileSync(node.errorLog, 'utf8').split('\n').filter((l) => /\[ERROR\]|WSREP_SST: \[ERROR\]/.test(l)).slice(-12);
  } catch {
    // no log: tail says so
  }
  return `${errors.length ? `errors in ${node.errorLog}:\n${errors.join('\n')}\n` : ''}tail of ${node.errorLog}:\n${tail(node.errorLog, 15)}`;
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @typedef {object} WsrepStatus
 * @property {number} clusterSize
 * @property {boolean} ready
 * @property {string} state      wsrep_local_state_comment: Synced, Donor/Desynced, Joining…
 * @property {string} clusterStatus  Primary or non-Primary
 */

/**
 * @typedef {object} GaleraNode
 * @property {number} index
 * @property {string} name
 * @property {string} socket   root connects here without a password
 * @property {number} port     SQL port on 127.0.0.1
 * @property {number} gcommPort
 * @property {number} istPort
 * @property {number} sstPort
 * @property {string} dir
 * @property {string} errorLog
 * @property {boolean} running
 */

/**
 * @typedef {object} GaleraCluster
 * @property {string} dir
 * @property {GaleraNode[]} nodes
 * @property {(index: number) => Promise<WsrepStatus>} status
 * @property {(index: number) => Promise<void>} kill      SIGKILL, as a power cut; waits for the exit
 * @property {(index: number) => Promise<void>} stop      clean shutdown (SIGTERM); leaves the cluster
 * @property {(index: number) => Promise<'IST' | 'SST'>} start   starts a stopped or killed node; resolves once it is Synced, with how it caught up
 * @property {(size: number, timeoutMs?: number) => Promise<void>} waitForSize  every running node Synced in a primary component of `size`
 * @property {() => Promise<void>} teardown  stops every node and removes the directory
 */

/**
 * Starts a cluster of `size` nodes in `dir` (created; removed by teardown): the first
 * bootstraps a new cluster, the others join it by SST one after another. Resolves once every
 * node is Synced in a primary component of `size`.
 * @param {{ dir: string, size?: number, log?: (line: string) => void }} options
 * @returns {Promise<GaleraCluster>}
 */
export async function startGaleraCluster({ dir, size = 3, log = () => {} }) {
  const tools = galeraTools();
  dir = resolve(dir);
  mkdirSync(dir, { recursive: true });
  // As root the nodes run as Debian's mysql account, as a packaged MariaDB does: the rsync SST's
  // daemon, started by root, would drop to `nobody` and could not write the joiner's data.
  const account = process.getuid?.() === 0 ? mysqlAccount() : null;
  if (account) chmodSync(dir, 0o755);

  /** Every port this cluster picked, bound or not. */
  const taken = new Set();
  /** @type {GaleraNode[]} */
  const nodes = [];
  for (let index = 0; index < size; index++) {
    const nodeDir = join(dir, `node${index + 1}`);
    nodes.push({
      index, name: `node${index + 1}`, dir: nodeDir, socket: join(nodeDir, 'mysql.sock'), errorLog: join(nodeDir, 'mariadb.err'),
      port: await freePort(taken), gcommPort: await freePort(taken), istPort: await freePort(taken), sstPort: await freePort(taken), running: false,
    });
  }

  /** @type {Map<number, { child: import('node:child_process').ChildProcess, exited: Promise<void> }>} */
  const processes = new Map();

  /** @param {GaleraNode} node */
  function writeConfig(node) {
    const clusterAddress = `gcomm://${nodes.map((n) => `127.0.0.1:${n.gcommPort}`).join(',')}`;
    const lines = [
      '[mysqld]',
      `datadir=${join(node.dir, 'data')}`,
      `tmpdir=${join(node.dir, 'tmp')}`,
      `socket=${node.socket}`,
      `pid-file=${join(node.dir, 'mariadb.pid')}`,
      `log-error=${node.errorLog}`,
      `port=${node.port}`,
      'bind-address=127.0.0.1',
      'skip-name-resolve',
      ...(account ? ['user=mysql'] : []),
      // Three servers on two shared cores: small pools and logs, few threads.
      'innodb_buffer_pool_size=48M',
      'innodb_log_file_size=16M',
      'innodb_flush_log_at_trx_commit=2',
      'performance_schema=OFF',
      'max_connections=200',
      'character-set-server=utf8mb4',
      'collation-server=utf8mb4_unicode_ci',
      // What Galera requires of every node.
      'binlog_format=ROW',
      'default_storage_engine=InnoDB',
      'innodb_autoinc_lock_mode=2',
      'wsrep_on=ON',
      `wsrep_provider=${GALERA_PROVIDER}`,
      'wsrep_cluster_name=smc-test',
      `wsrep_cluster_address=${clusterAddress}`,
      `wsrep_node_name=${node.name}`,
      `wsrep_node_address=127.0.0.1:${node.gcommPort}`,
      `wsrep_node_incoming_address=127.0.0.1:${node.port}`,
      'wsrep_sst_method=rsync',
      `wsrep_sst_receive_address=127.0.0.1:${node.sstPort}`,
      'wsrep_auto_increment_control=ON',
      'wsrep_slave_threads=2',
      // A killed peer is declared gone in seconds, not the default 15 s, so tests of a lost node stay short.
      `wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${node.gcommPort};ist.recv_addr=127.0.0.1:${node.istPort};` +
        'gcache.size=64M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT5S;evs.install_timeout=PT5S;evs.inactive_check_period=PT1S;pc.wait_prim_timeout=PT15S"',
      '',
    ];
    writeFileSync(join(node.dir, 'my.cnf'), lines.join('\n'));
  }

  /** @param {GaleraNode} node */
  async function connect(node) {
    return mysql.createConnection({ socketPath: node.socket, user: 'root', connectTimeout: 2000 });
  }

  /** @param {number} index @returns {Promise<WsrepStatus>} */
  async function status(index) {
    const conn = await connect(nodes[index]);
    try {
      const [rows] = /** @type {[{ Variable_name: string, Value: string }[], unknown]} */ (
        /** @type {unknown} */ (await conn.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_status')"))
      );
      const v = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
      return { clusterSize: Number(v.wsrep_cluster_size ?? 0), ready: v.wsrep_ready === 'ON', state: v.wsrep_local_state_comment ?? '', clusterStatus: v.wsrep_cluster_status ?? '' };
    } finally {
      await conn.end().catch(() => {});
    }
  }

  /**
   * The position InnoDB holds after a kill (grastate.dat then says seqno -1): what Debian's
   * galera_recovery finds with --wsrep-recover, so the node asks for IST instead of a full SST.
   * @param {GaleraNode} node
   * @returns {string | null}
   */
  function recoverPosition(node) {
    const recoverLog = join(node.dir, 'recover.err');
    rmSync(recoverLog, { force: true });
    const result = spawnSync(tools.mariadbd, [`--defaults-file=${join(node.dir, 'my.cnf')}`, '--wsrep-recover', `--log-error=${recoverLog}`], {
      stdio: 'ignore', timeout: RECOVER_TIMEOUT_MS,
    });
    if (result.status !== 0) return null;
    const found = /WSREP: Recovered position: ([0-9a-f-]{36}:-?\d+)/.exec(tail(recoverLog, 200));
    return found && !found[1].endsWith(':-1') ? found[1] : null;
  }

  /**
   * Starts node `index`'s mariadbd and waits until it is Synced in a primary component of at
   * least `expectSize`.
   * @param {number} index
   * @param {{ bootstrap?: boolean, expectSize: number }} how
   * @returns {Promise<'IST' | 'SST' | 'bootstrap'>}
   */
  async function launch(index, { bootstrap = false, expectSize }) {
    const node = nodes[index];
    if (node.running) throw new Error(`${node.name} is already running`);
    const args = [`--defaults-file=${join(node.dir, 'my.cnf')}`];
    if (bootstrap) args.push('--wsrep-new-cluster');
    const grastate = join(node.dir, 'data', 'grastate.dat');
    if (!bootstrap && existsSync(grastate) && /seqno:\s+-1/.test(readFileSync(grastate, 'utf8'))) {
      const position = recoverPosition(node);
      if (position) args.push(`--wsrep-start-position=${position}`);
    }
    const logStart = existsSync(node.errorLog) ? readFileSync(node.errorLog, 'utf8').length : 0;
    const logFd = openSync(node.errorLog, 'a');
    if (account) chownSync(node.errorLog, account.uid, account.gid);
    // In the caller's process group: a test runner that stops a hung test file with its whole
    // group stops the cluster too.
    const child = spawn(tools.mariadbd, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    /** @type {Promise<void>} */
    const exited = new Promise((r) => child.once('exit', () => r()));
    processes.set(index, { child, exited });
    node.running = true;
    void exited.then(() => {
      node.running = false;
    });

    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    for (;;) {
      if (!node.running) {
        throw new Error(`${node.name} (mariadbd) exited while starting (code ${child.exitCode}); ${whyStopped(node)}`);
      }
      const s = existsSync(node.socket) ? await status(index).catch(() => null) : null;
      if (s && s.ready && s.state === 'Synced' && s.clusterStatus === 'Primary' && s.clusterSize >= expectSize) break;
      if (Date.now() > deadline) {
        send(child, 'SIGKILL');
        await exited;
        throw new Error(`${node.name} was not Synced in a cluster of ${expectSize} within ${JOIN_TIMEOUT_MS / 1000}s (last: ${JSON.stringify(s)}); ${whyStopped(node)}`);
      }
      await sleep(200);
    }
    if (bootstrap) return 'bootstrap';
    const thisStart = readFileSync(node.errorLog, 'utf8').slice(logStart);
    // The SST script says which it did: "rsync IST completed on joiner" or "rsync SST completed on joiner".
    return /rsync IST completed on joiner/.test(thisStart) ? 'IST' : 'SST';
  }

  /**
   * @param {import('node:child_process').ChildProcess} child
   * @param {NodeJS.Signals} sig
   */
  function send(child, sig) {
    try {
      child.kill(sig);
    } catch {
      /* already gone */
    }
  }

  /** @param {number} index @param {NodeJS.Signals} how */
  async function end(index, how) {
    const entry = processes.get(index);
    if (!entry || !nodes[index].running) return;
    send(entry.child, how);
    const timer = how === 'SIGKILL' ? null : setTimeout(() => send(entry.child, 'SIGKILL'), STOP_TIMEOUT_MS);
    await entry.exited;
    if (timer) clearTimeout(timer);
    processes.delete(index);
  }

  /** @param {number} expected @param {number} timeoutMs */
  async function waitForSize(expected, timeoutMs = JOIN_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    /** @type {unknown} */
    let last = null;
    for (;;) {
      const running = nodes.filter((n) => n.running);
      const all = await Promise.all(running.map((n) => status(n.index).catch((err) => ({ error: String(err) }))));
      last = all;
      if (all.every((s) => 'ready' in s && s.ready && s.state === 'Synced' && s.clusterStatus === 'Primary' && s.clusterSize === expected)) return;
      if (Date.now() > deadline) throw new Error(`the cluster did not settle at ${expected} Synced nodes within ${timeoutMs / 1000}s: ${JSON.stringify(last)}`);
      await sleep(200);
    }
  }

  /**
   * What a node's log says when one of its ports was taken between our pick and its bind (by
   * another program's listener or an outgoing connection): mariadbd's, Galera's or the rsync
   * SST's own words (its daemon cannot bind a taken port and dies).
   */
  const PORT_TAKEN = /Address already in use|Bind on TCP\/IP port|Failed to listen|has been taken by another program|the rsync or stunnel daemon \(PID: \d+\) terminated unexpectedly/;

  /**
   * The first start of a node; one whose port was taken before it bound it gets new ports (the
   * other nodes' configs name its new group address) and starts again, up to twice.
   * @param {number} index
   * @param {{ bootstrap?: boolean, expectSize: number }} how
   */
  async function launchOnFreePorts(index, how) {
    const node = nodes[index];
    for (let attempt = 1; ; attempt++) {
      const logStart = existsSync(node.errorLog) ? readFileSync(node.errorLog, 'utf8').length : 0;
      try {
        return await launch(index, how);
      } catch (err) {
        const thisStart = existsSync(node.errorLog) ? readFileSync(node.errorLog, 'utf8').slice(logStart) : '';
        if (attempt > 2 || node.running || !PORT_TAKEN.test(thisStart)) throw err;
        log(`${node.name} lost a port (SQL ${node.port}, gcomm ${node.gcommPort}, IST ${node.istPort}, SST ${node.sstPort}); new ports, attempt ${attempt + 1}`);
        Object.assign(node, { port: await freePort(taken), gcommPort: await freePort(taken), istPort: await freePort(taken), sstPort: await freePort(taken) });
        for (const n of nodes) writeConfig(n);
      }
    }
  }

  // A test process that dies without teardown must not leave three servers behind.
  const killAll = () => {
    for (const { child } of processes.values()) send(child, 'SIGKILL');
  };
  process.once('exit', killAll);

  try {
    const first = nodes[0];
    for (const node of nodes) {
      for (const sub of ['', 'data', 'tmp']) {
        mkdirSync(join(node.dir, sub), { recursive: true });
        if (account) chownSync(join(node.dir, sub), account.uid, account.gid);
      }
      writeConfig(node);
    }
    log(`initialising ${first.name} in ${first.dir}`);
    const install = spawnSync(
      tools.installDb,
      [`--defaults-file=${join(first.dir, 'my.cnf')}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve', '--force',
        ...(account ? ['--user=mysql'] : []),
        // The system tables are made with wsrep off: the provider is loaded only by the real start.
        '--wsrep-on=OFF'],
      { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS },
    );
    if (install.status !== 0) throw new Error(`mariadb-install-db failed (${install.signal ?? install.status}): ${install.stdout}${install.stderr}`);
    await launchOnFreePorts(0, { bootstrap: true, expectSize: 1 });
    log(`${first.name} bootstrapped the cluster (SQL ${first.port}, gcomm ${first.gcommPort})`);
    // Joiners one at a time: one donor serving two SSTs at once doubles the load on two cores.
    for (const node of nodes.slice(1)) {
      await launchOnFreePorts(node.index, { expectSize: node.index + 1 });
      log(`${node.name} joined (SQL ${node.port}, gcomm ${node.gcommPort})`);
    }
    await waitForSize(size);
  } catch (err) {
    // The error carries the tail of the node's log; nothing is left running or on disk.
    killAll();
    await Promise.all([...processes.values()].map((p) => p.exited));
    process.removeListener('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let tornDown = /** @type {Promise<void> | null} */ (null);
  return {
    dir,
    nodes,
    status,
    kill: (index) => end(index, 'SIGKILL'),
    stop: (index) => end(index, 'SIGTERM'),
    async start(index) {
      const expectSize = nodes.filter((n) => n.running).length + 1;
      return launch(index, { expectSize });
    },
    waitForSize,
    teardown() {
      tornDown ??= (async () => {
        // All at once: stopped one by one, each leaver makes the others reconfigure.
        await Promise.all(nodes.map((n) => end(n.index, 'SIGTERM')));
        process.removeListener('exit', killAll);
        rmSync(dir, { recursive: true, force: true });
      })();
      return tornDown;
    },
  };
}
