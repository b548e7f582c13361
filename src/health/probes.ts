import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Pool } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { probeAmi } from '../pbx/ami.js';
import type { DoctorContext, InsideService } from './check.js';
import { poolsOf, type DbPools } from '../db/ledger-pool.js';

/** The real machine behind a check's context: sockets, commands and files. */

function tcpProbe(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 5000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('no answer within 5 s');
    });
    socket.once('error', (err) => resolve(err.message));
  });
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000 }, (err, stdout) => {
      if (!err) return resolve({ code: 0, stdout });
      const code = err.code === 'ENOENT' ? null : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout: String(stdout) });
    });
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** pm2 gives its processes pm_id; systemd gives a unit's INVOCATION_ID. */
export function supervisorOf(env: NodeJS.ProcessEnv): InsideService['supervisor'] {
  if (env.pm_id !== undefined) return 'pm2';
  if (env.INVOCATION_ID !== undefined) return 'systemd';
  return null;
}

export function machineContext(config: Config, pools: Pool | DbPools, where: { tenant: string | null; insideService?: InsideService }): DoctorContext {
  const { ledger, cdr } = poolsOf(pools);
  return {
    config,
    pool: ledger,
    cdrPool: cdr,
    nodeVersion: process.versions.node,
    probeAmi: (ami) => probeAmi(ami),
    tcpProbe,
    isExecutable,
    run,
    readText,
    asteriskEtc: '/etc/asterisk',
    ...where,
  };
}
