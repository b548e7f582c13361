import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { migrate, NewerSchemaError } from '../db/migrations.js';
import { explainAccessDenied, serverOf, type Pool } from '../db/pool.js';
import { closePools, groupNodes, openPools, poolsOf, type DbPools } from '../db/ledger-pool.js';
import { chainHead, formatChainPoint } from '../ledger/audit.js';
import { ensureAuditKey } from '../ledger/audit-key.js';
import { startNotifier, type RunningNotifier } from '../notify/worker.js';
import { amiConfigured } from '../pbx/ami.js';
import { AmiEventListener } from '../pbx/ami-events.js';
import { LampKeeper } from '../pbx/lamp.js';
import { SyncService } from '../sync/service.js';
import { createApp } from '../web/app.js';
import { configOf } from './context.js';
import { runServices, type Service } from './services.js';

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

/** Where server.listen points: a loopback host:port (validated by the config schema) or unix:/path. */
export function listenTarget(listen: string): { path: string } | { host: string; port: number } {
  if (listen.startsWith('unix:')) return { path: listen.slice(5) };
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listen.slice(at + 1)) };
}

/** Why `smc serve` could not take its address; the message names it and what to check. */
export class ListenError extends Error {
  constructor(listen: string, code: string) {
    const why =
      code === 'EADDRINUSE'
        ? 'it is already in use (another "smc serve", or another program: `ss -ltnp` or `ss -lxp` shows which); stop that one or set another server.listen'
        : code === 'EACCES'
          ? 'permission denied'
          : code;
    super(`cannot listen on ${listen}: ${why}`);
  }
}

/** Whether a process accepts connections on the unix socket at `path` (a stale file refuses them). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Owner and group may connect; nobody else. */
export const SOCKET_MODE = 0o660;

export function webService(config: Config, pools: Pool | DbPools, sync: SyncService): Service & { server: () => Server | null } {
  let server: Server | null = null;
  return {
    name: 'web',
    server: () => server,
    async start() {
      const target = listenTarget(config.server.listen);
      if ('path' in target && existsSync(target.path)) {
        // A socket file left by a killed instance would make listen fail; one a live
        // process answers on is that process's, and must not be taken from it.
        if (await socketAnswers(target.path)) throw new ListenError(config.server.listen, 'EADDRINUSE');
        unlinkSync(target.path);
      }
      // Not app.listen(): express 5 hands a listen error to its callback as an argument,
      // which would leave a service that runs but listens nowhere.
      const { ledger: pool, cdr: cdrPool } = poolsOf(pools);
      const s = createServer(createApp({ pool, cdrPool, config, sync, log }));
      await new Promise<void>((resolve, reject) => {
        s.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(config.server.listen, err.code ?? err.message)));
        s.listen(target, () => resolve());
      });
      // The socket is created with the umask's mode: only our user and group (the PHP glue's
      // web server user on VitalPBX) may connect, whatever umask the service was started with.
      if ('path' in target) chmodSync(target.path, SOCKET_MODE);
      server = s;
      log(`web listening on ${config.server.listen}`);
    },
    async stop() {
      if (!server) return;
      const s = server;
      // Event streams never end by themselves: close them so close() can finish.
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

export function syncService(sync: SyncService): Service {
  return {
    name: 'sync',
    async start() {
      sync.start();
    },
    stop: () => sync.stop(),
  };
}

/**
 * AMI's call events, when AMI is configured: a call whose last channel hung up is classified
 * within a second instead of after the settle time. Without them the sync polls as before.
 */
export function amiEventsService(config: Config, sync: SyncService): Service {
  const listener = new AmiEventListener({ ami: config.ami, log, onCallOver: (linkedid) => sync.callOver(linkedid) });
  return {
    name: 'ami events',
    async start() {
      if (amiConfigured(config.ami)) listener.start();
      else log('AMI is not configured: calls are found by polling the CDR (a few seconds to the list instead of under one)');
    },
    stop: () => listener.stop(),
  };
}

/**
 * The lamp on the phones (docs/team.md): custom device states over AMI while a tenant that
 * turned it on has open unclaimed entries. It runs beside the sync, in the instance that
 * holds the sync lock; with no tenant's lamp on it opens no AMI session at all.
 */
export function lampService(config: Config, pools: Pool | DbPools, sync: SyncService): Service {
  const keeper = new LampKeeper({ pool: poolsOf(pools).ledger, config, holdsLock: () => sync.isSyncing, log });
  return {
    name: 'lamp',
    async start() {
      keeper.start();
    },
    stop: () => keeper.stop(),
  };
}

/** Mail, webhooks and digests; woken by the sync as soon as it committed new ledger events. */
export function notifierService(config: Config, pools: Pool | DbPools, sync: SyncService): Service {
  let notifier: RunningNotifier | null = null;
  const kick = () => notifier?.kick();
  return {
    name: 'notifier',
    async start() {
      const { ledger: pool, cdr: cdrPool } = poolsOf(pools);
      notifier = startNotifier({ pool, cdrPool, config, log });
      sync.on('changes', kick);
    },
    async stop() {
      sync.off('changes', kick);
      await notifier?.stop();
    },
  };
}

const AUDIT_ANCHOR_EVERY_MS = 3_600_000;

/**
 * The journal's newest row (id:hash) in the service log at start and every hour: a copy of
 * the chain head outside the database, for `smc audit verify --head`. A rewrite that stays
 * consistent inside the database cannot change what the log already holds.
 */
export function auditAnchorService(pool: Pool): Service {
  let timer: NodeJS.Timeout | null = null;
  const logHead = async () => {
    const head = await chainHead(pool).catch(() => null);
    if (head) log(`audit head ${formatChainPoint(head)}`);
  };
  return {
    name: 'audit anchor',
    async start() {
      await logHead();
      timer = setInterval(() => void logHead(), AUDIT_ANCHOR_EVERY_MS);
    },
    async stop() {
      if (timer) clearInterval(timer);
    },
  };
}

/**
 * What `smc serve` runs: migrations, then sync, notifier and web for this config. SIGTERM
 * and SIGINT stop them in reverse order and close the pool. Resolves once all are started.
 */
export async function startService(config: Config): Promise<void> {
  // Two connections are held by the sync and notify locks; the dashboard asks its ten
  // figures at once; the sync and notifier need theirs meanwhile.
  const pools = openPools(config, 16, log);
  const pool = pools.ledger;
  // With the database away at start the service still comes up and says so on the page.
  log(`database: ${config.db.user} at ${serverOf(config.db)} (connection settings from ${config.db.credentialsFrom})`);
  const nodes = groupNodes(config);
  if (nodes.length > 0) log(`ledger: group database ${config.group.database} on ${nodes.map(serverOf).join(', ')} as pbx ${config.pbxId}`);
  await migrate(pool, log).catch(async (err: unknown) => {
    // Tables of a newer release: this code must not write to them (a downgrade).
    if (err instanceof NewerSchemaError) {
      await closePools(pools);
      throw err;
    }
    log(`migrations not checked: ${(explainAccessDenied(err, config.db) as Error).message}`);
  });
  // Normally made by install's `smc migrate`; without it (and the database away) the journal
  // cannot be written, and the Syncer below refuses to start naming audit_key_file.
  await ensureAuditKey(pool, config.auditKeyFile).catch((err: Error) => log(`audit key not checked: ${err.message}`));
  const sync = new SyncService(pools, config, undefined, log);
  sync.on('health', (h) => log(h.ok ? 'database reachable' : `database unavailable: ${h.error ?? ''}`));
  // Started in this order, stopped in reverse (runServices); a further worker is one more entry here.
  const services: Service[] = [
    syncService(sync), amiEventsService(config, sync), lampService(config, pools, sync), notifierService(config, pools, sync), webService(config, pools, sync), auditAnchorService(pool),
  ];
  const running = runServices(services, () => closePools(pools), log);
  // A second signal while stopping is someone who will not wait: go now.
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) {
        log(`${signal} again while stopping: exiting now`);
        process.exit(1);
      }
      signalled = true;
      void running.stop(signal);
    });
  }
  await running.started;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the service: sync loop and web pages (loopback or unix socket only)')
    .action(async (_opts: unknown, cmd: Command) => {
      // A long-lived service on the PBX: V8 then collects sooner instead of growing its heap
      // with each burst of page requests (peak RSS measured by `npm run bench`).
      setFlagsFromString('--optimize-for-size');
      await startService(configOf(cmd));
    });
}
