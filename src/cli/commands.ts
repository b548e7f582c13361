import type { Command } from 'commander';
import { register as demo } from './demo.js';
import { register as bench } from './bench.js';
import { register as doctor } from './doctor.js';
import { register as explain } from './explain.js';
import { register as install } from './install.js';
import { register as ledger } from './ledger.js';
import { register as notify } from './notify.js';
import { register as serve } from './serve.js';
import { register as sync } from './sync.js';
import { register as users } from './users.js';

/** Each module under src/cli/ registers its own subcommands; this is the list. */
export type Register = (program: Command) => void;

export const COMMANDS: Register[] = [install, doctor, sync, ledger, explain, serve, notify, demo, bench, users];
