import type { Command } from 'commander';
import { register as explain } from './explain.js';
import { register as install } from './install.js';
import { register as ledger } from './ledger.js';
import { register as notify } from './notify.js';
import { register as serve } from './serve.js';
import { register as sync } from './sync.js';

/** Each module under src/cli/ registers its own subcommands; this is the list. */
export type Register = (program: Command) => void;

export const COMMANDS: Register[] = [install, sync, ledger, explain, serve, notify];
