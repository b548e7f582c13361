import type { Pool } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import type { AmiConfig } from '../pbx/ami.js';

/**
 * What one health check found, and what checks may use: the one definition `smc doctor`
 * and the settings page's health panel share (src/health/checks.ts lists the checks).
 */
export type Level = 'ok' | 'warn' | 'fail';

/** A gettext msgid with {name} placeholders and their values: English in the shell, the reader's language on the page. */
export interface Text {
  template: string;
  params: Record<string, string | number>;
}

export interface CheckResult {
  check: string;
  level: Level;
  /** In English, placeholders filled: what the shell prints. */
  message: string;
  /** What to do, in English; empty when nothing is. */
  fix: string;
  /** The same two as msgids with their values, for a page to translate. */
  says: { message: Text; fix: Text | null };
}

/** Who runs the check: the service itself (the health panel) or a shell (`smc doctor`). */
export interface InsideService {
  /** What restarts this process: pm2 (FreePBX), systemd (VitalPBX), or nothing. */
  supervisor: 'pm2' | 'systemd' | null;
}

export interface DoctorContext {
  config: Config;
  /** Our tables (the ledger). */
  pool: Pool;
  /** The PBX's own database (cdr, cel, its tables) when it is not the ledger's (group mode). */
  cdrPool?: Pool;
  /** process.versions.node of the Node that runs the service. */
  nodeVersion: string;
  probeAmi(ami: AmiConfig): Promise<string>;
  /** null when the port answers, else why not. */
  tcpProbe(host: string, port: number): Promise<string | null>;
  isExecutable(path: string): boolean;
  /** Runs a command; code null when it could not be started. */
  run(command: string, args: string[]): Promise<{ code: number | null; stdout: string }>;
  /** A text file's content, null when it cannot be read. */
  readText(path: string): string | null;
  /** Asterisk's configuration folder (cdr.conf). */
  asteriskEtc: string;
  /** Whose rows the tenant's own checks look at; null: every tenant's (the shell). */
  tenant: string | null;
  /** Set when the service checks itself; absent in a shell. */
  insideService?: InsideService;
}

export const text = (template: string, params: Record<string, string | number> = {}): Text => ({ template, params });

export function fill(t: Text): string {
  return t.template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in t.params ? String(t.params[key]) : whole));
}

/** message and fix: a plain string (already final, e.g. the shell-only package check) or a msgid with values. */
export function result(check: string, level: Level, message: string | Text, fix: string | Text = ''): CheckResult {
  const said = typeof message === 'string' ? text(message) : message;
  const fixSaid = typeof fix === 'string' ? (fix === '' ? null : text(fix)) : fix;
  return { check, level, message: fill(said), fix: fixSaid ? fill(fixSaid) : '', says: { message: said, fix: fixSaid } };
}
