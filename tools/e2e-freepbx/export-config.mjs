#!/usr/bin/env node
// Writes the lab's routing configuration next to a fixture set, as config.json: FreePBX's own
// tables (asterisk database) in their table and column names, only the columns Smart Missed
// Calls reads (src/cdr/pbx-routes.ts, FreepbxRouteTables) and the NOT NULL ones the tests'
// schema needs besides. Run it right after recording a set, while the configuration is the one
// the calls went through.
//
//   node tools/e2e-freepbx/export-config.mjs --out test/fixtures/freepbx17-failovers
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { out: { type: 'string' }, about: { type: 'string' } } });
if (!args.out) throw new Error('pass --out DIR (a fixture set)');

const TABLES = {
  incoming: ['extension', 'cidnum', 'destination', 'description'],
  queues_config: ['extension', 'descr', 'maxwait', 'dest'],
  queues_details: ['id', 'keyword', 'data'],
  ringgroups: ['grpnum', 'strategy', 'grptime', 'grplist', 'description', 'postdest'],
  ivr_details: ['id', 'name', 'timeout_destination', 'invalid_destination'],
  ivr_entries: ['ivr_id', 'selection', 'dest'],
  timeconditions: ['timeconditions_id', 'displayname', 'truegoto', 'falsegoto'],
  findmefollow: ['grpnum', 'postdest'],
  users: ['extension', 'name'],
};
/** Only the queue settings that decide where a caller goes and when. */
const QUEUE_KEYWORDS = ['joinempty', 'leavewhenempty', 'maxlen', 'timeout', 'retry'];

const unbatch = (field) => field.replace(/\\(.)/g, (_, c) => ({ n: '\n', t: '\t', 0: '\0', '\\': '\\' })[c] ?? c);
function select(table, columns) {
  const where = table === 'queues_details' ? ` WHERE keyword IN (${QUEUE_KEYWORDS.map((k) => `'${k}'`).join(',')})` : '';
  const text = execFileSync('mysql', ['-B', 'asterisk', '-e', `SELECT ${columns.map((c) => `\`${c}\``).join(', ')} FROM \`${table}\`${where} ORDER BY 1, 2`], { encoding: 'utf8' });
  const [, ...lines] = text.split('\n').filter((line) => line !== '');
  return lines.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [columns[i], v === 'NULL' ? null : unbatch(v)])));
}

const config = {
  about: args.about ?? "The lab's routing configuration when the set was recorded, exported from FreePBX's own tables by tools/e2e-freepbx/export-config.mjs; only the columns Smart Missed Calls reads and the NOT NULL columns a table needs besides.",
};
for (const [table, columns] of Object.entries(TABLES)) config[table] = select(table, columns);
writeFileSync(join(args.out, 'config.json'), JSON.stringify(config, null, 1) + '\n');
console.log(`config.json: ${Object.entries(TABLES).map(([t]) => `${t} ${config[t].length}`).join(', ')}`);
