import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CheckResult } from '../health/check.js';
import { runChecks } from '../health/checks.js';
import { machineContext } from '../health/probes.js';
import { withApp } from './context.js';
import { checkPackageFile, PROJECT_PUBLIC_KEY } from './package-check.js';

/**
 * `smc doctor`: every check of src/health/checks.ts, one line each — ok, warn or fail, and
 * what to do about it — exit 1 when one fails. `--package` checks a downloaded tarball
 * instead, which only makes sense in a shell before an install.
 */

export function formatResult(r: CheckResult): string {
  return `${r.level.padEnd(4)}  ${r.check}: ${r.message}${r.fix ? `\n      → ${r.fix}` : ''}`;
}

function readPublicKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--public-key ${path}: ${(err as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check what the service needs from the PBX: Node, database grants, cdr columns and indexes, CEL, clock, sync, notifications, AMI, mail, pm2; with --package, only check a downloaded package before installing it')
    .option('--package <file>', 'check this package tarball against its .sha256 and its .sig (the project\'s release key) and nothing else')
    .option('--public-key <file>', 'with --package: check the signature against this Ed25519 public key (PEM) instead of the release key built in')
    .action(async (opts: { package?: string; publicKey?: string }, command: Command) => {
      if (opts.package !== undefined) {
        const key = opts.publicKey !== undefined
          ? { pem: readPublicKeyFile(opts.publicKey), name: opts.publicKey }
          : { pem: PROJECT_PUBLIC_KEY, name: "the project's release key (keys/smartmissedcalls-release.pub)" };
        const results = checkPackageFile(opts.package, key);
        for (const r of results) process.stdout.write(formatResult(r) + '\n');
        if (results.some((r) => r.level === 'fail')) process.exitCode = 1;
        else process.stdout.write(`${opts.package} is the package its signer released: install it\n`);
        return;
      }
      if (opts.publicKey !== undefined) throw new Error('--public-key goes with --package');
      await withApp(command, async (app) => {
        const results = await runChecks(machineContext(app.config, app.pools, { tenant: null }));
        for (const r of results) process.stdout.write(formatResult(r) + '\n');
        if (results.some((r) => r.level === 'fail')) process.exitCode = 1;
      });
    });
}
