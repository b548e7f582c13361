/**
 * `smc serve` as a real child process (the bundle, build/smc.js), for the tests that kill
 * it, stop its database or run two of it: a config file for one test database, start,
 * SIGKILL, SIGTERM, and what it wrote on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot, testAuditKeyFile, type FreshDatabases } from '../harness/db.js';

export interface ServeConfigOptions {
  /** Folder for the config file and the unix socket the web part listens on. */
  dir: string;
  name: string;
  db: Pick<FreshDatabases, 'names'> & { socket: string };
  smtpPort?: number;
  sync?: Record<string, number | string>;
  server?: Record<string, unknown>;
  notify?: Record<string, unknown>;
  /** Further top-level settings (pbx_id, group, …). */
  extra?: Record<string, unknown>;
}

/** Writes config.yaml for `smc serve` against one test database; returns its path. */
export function writeServeConfig(o: ServeConfigOptions): string {
  const file = join(o.dir, `${o.name}.yaml`);
  writeFileSync(
    file,
    stringify({
      db: { socket: o.db.socket, user: 'root', password: '', database: o.db.names.own, cdr_database: o.db.names.cdr, pbx_database: o.db.names.pbx },
      server: { listen: `unix:${join(o.dir, `${o.name}.sock`)}`, secret: 'reliability-secret-0123456789', ...o.server },
      sync: { interval_seconds: 1, settle_seconds: 1, ...o.sync },
      mail: o.smtpPort ? { transport: 'smtp', host: '127.0.0.1', port: o.smtpPort, from: 'SMC <smc@localhost>' } : { transport: 'none' },
      voicemail_spool: join(o.dir, 'no-voicemail-spool'),
      audit_key_file: testAuditKeyFile(),
      ...(o.notify ? { notify: o.notify } : {}),
      ...o.extra,
    }),
  );
  return file;
}

export class ServeProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  /** Everything every run of this instance wrote on stderr, in order. */
  stderr = '';
  starts = 0;

  constructor(private readonly configFile: string, private readonly env: Record<string, string> = {}) {}

  /** The current run's process id (to pause it with SIGSTOP, continue it with SIGCONT). */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(extraEnv: Record<string, string> = {}): void {
    if (this.running) throw new Error('already running');
    const env: Record<string, string | undefined> = { ...process.env, ...this.env, ...extraEnv };
    if (!('SMC_FAULT' in this.env) && !('SMC_FAULT' in extraEnv)) delete env.SMC_FAULT;
    const child = spawn(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', this.configFile, 'serve'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.stderr += text;
    });
    // 'close', not 'exit': by then every line it wrote on stderr has been read.
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    this.child = child;
    this.starts += 1;
  }

  /** Resolves when the current run ends (at once when none runs). */
  async exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
    return this.exited ? this.exited : null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) this.child!.kill(signal);
    await this.exited;
  }

  /** Waits until stderr holds `pattern` (checked every 50 ms), or fails after `ms`. */
  async waitFor(pattern: RegExp, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.stderr)) {
      if (Date.now() > deadline) throw new Error(`serve never logged ${pattern}; stderr:\n${this.stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true, or fails with `what` after `ms`. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
