import { Command } from 'commander';
import { COMMANDS } from './commands.js';

/** package.json's version, put in by the build. */
declare const SMC_VERSION: string;

const program = new Command();
program
  .name('smc')
  .version(SMC_VERSION)
  .description('Smart Missed Calls: the calls missed by the whole team, kept true by itself')
  .option('-c, --config <path>', 'config file (default /etc/smartmissedcalls/config.yaml, or $SMC_CONFIG)')
  .showHelpAfterError();

for (const register of COMMANDS) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`smc: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
