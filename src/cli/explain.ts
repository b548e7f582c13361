import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_SETTINGS } from '../config/schema.js';
import { groupCelByCall, toCelEvent, type CelEvent } from '../cdr/cel-row.js';
import { routeLabelsOf, routesFromTables, type FreepbxRouteTables, type PbxRoutes } from '../cdr/pbx-routes.js';
import { groupByCall } from '../cdr/reader.js';
import { BadCdrRow, toCdrRow, type CdrRow } from '../cdr/row.js';
import { readTsv } from '../cdr/tsv.js';
import { extensionTest } from '../detect/channels.js';
import { classifyCall } from '../detect/classify.js';
import type { Verdict } from '../detect/verdict.js';
import { applyCall, CallerEntries, type Entry } from '../ledger/entries.js';

export interface ExplainResult {
  calls: Verdict[];
  entries: Entry[];
  badRows: number;
}

/**
 * Classifies a CDR export (and, given one, the CEL export of the same calls) and replays it
 * through the ledger in memory: the same classifier and state machine the service uses, for
 * support and offline checks. With CEL, a call is every CDR row and CEL event of one
 * linkedid, and calls with CEL events only are classified too.
 */
/**
 * @param options.routes the PBX's routing configuration (`--pbx-config`): without it the rows
 *   alone decide, as when the PBX's tables cannot be read.
 */
export function explainRows(rawRows: Record<string, unknown>[], options: { extensions?: string; cel?: Record<string, unknown>[]; routes?: PbxRoutes } = {}): ExplainResult {
  const rows: CdrRow[] = [];
  let badRows = 0;
  for (const raw of rawRows) {
    try {
      rows.push(toCdrRow(raw));
    } catch (err) {
      if (!(err instanceof BadCdrRow)) throw err;
      badRows += 1;
    }
  }
  const settings = DEFAULT_SETTINGS;
  const classifyOptions = {
    isExtension: extensionTest(options.extensions ?? ''),
    queueAbandonMinWait: settings.queueAbandonMinWait,
    countIvrAbandon: settings.countIvrAbandon,
    ...(options.routes ? { routes: options.routes, labels: routeLabelsOf(options.routes) } : {}),
  };
  const events = (options.cel ?? []).map(toCelEvent).filter((e): e is CelEvent => e !== null);
  const cdrCalls = groupByCall(rows);
  const celCalls = groupCelByCall(events);
  const calls = [...new Set([...cdrCalls.keys(), ...celCalls.keys()])]
    .map((linkedid) => classifyCall(cdrCalls.get(linkedid) ?? [], classifyOptions, celCalls.get(linkedid) ?? []))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.linkedid.localeCompare(b.linkedid));
  const entries = new CallerEntries();
  for (const verdict of calls) applyCall(entries, 'default', verdict, settings);
  return { calls, entries: [...entries.list()], badRows };
}

export function register(program: Command): void {
  program
    .command('explain')
    .description('classify CDR rows from a tab-separated file (as `mysql --batch` prints them) and explain each call')
    .requiredOption('--cdr-file <file>', 'CDR export with a header row of column names')
    .option('--cel-file <file>', 'CEL export of the same calls: fills what CDR does not show (a queue failover\'s queue) and classifies calls with no CDR row (an extension on DND with no voicemail)')
    .option('--pbx-config <file>', "the PBX's routing tables as JSON ({\"incoming\": [...], \"queues_config\": [...], ...}, FreePBX's column names): names the route a failover came from")
    .option('--extensions <ranges>', 'internal extensions, e.g. 100-199,2000 (default: 2–6 digit endpoints)')
    .option('--entries', 'print the missed-call entries the ledger would hold after replaying the file')
    .option('--json', 'one JSON object per line')
    .action((opts: { cdrFile: string; celFile?: string; pbxConfig?: string; extensions?: string; entries?: boolean; json?: boolean }) => {
      const cel = opts.celFile ? readTsv(readFileSync(opts.celFile, 'utf8')) : undefined;
      const routes = opts.pbxConfig ? routesFromTables(JSON.parse(readFileSync(opts.pbxConfig, 'utf8')) as FreepbxRouteTables) : undefined;
      const result = explainRows(readTsv(readFileSync(opts.cdrFile, 'utf8')), { extensions: opts.extensions, cel, routes });
      const items: object[] = opts.entries ? result.entries : result.calls;
      for (const item of items) {
        if (opts.json) process.stdout.write(JSON.stringify(item) + '\n');
        else if ('linkedid' in item) {
          const v = item as Verdict;
          process.stdout.write(`${v.linkedid}  ${v.verdict.toUpperCase()}  ${v.explanation.join(' ')}\n`);
        } else {
          const e = item as Entry;
          process.stdout.write(`${e.caller} → ${e.did}  ${e.status}${e.clearedBy ? ` (${e.clearedBy}${e.clearedExt ? ` by ${e.clearedExt}` : ''})` : ''}  missed ${e.missedCount}\n`);
        }
      }
      if (result.badRows) process.stderr.write(`skipped ${result.badRows} malformed rows\n`);
    });
}
