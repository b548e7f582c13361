import type { Pool } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import type { AmiConfig } from '../pbx/ami.js';

/** What one check of `smc doctor` found, and what its checks may use; shared by every check file. */
export type Level = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  check: string;
  level: Level;
  message: string;
  /** What to do; empty when nothing is. */
  fix: string;
}

export interface DoctorContext {
  config: Config;
  pool: Pool;
  /** process.versions.node of the Node that runs the service. */
  nodeVersion: string;
  probeAmi(ami: AmiConfig): Promise<string>;
  /** null when the port answers, else why not. */
  tcpProbe(host: string, port: number): Promise<string | null>;
  isExecutable(path: string): boolean;
  /** Runs a command; code null when it could not be started. */
  run(command: string, args: string[]): Promise<{ code: number | null; stdout: string }>;
}

export const result = (check: string, level: Level, message: string, fix = ''): CheckResult => ({ check, level, message, fix });
