#!/usr/bin/env node
// Turns a plan placed by calls.mjs into a labelled fixture set (the format of
// test/fixtures/asterisk-lab/public): the CDR and CEL rows of exactly those calls, CDR in the
// order MariaDB received the INSERTs (from its general log), that insert log, and labels.json —
// what each call really was, from the plan's intent checked against CEL (which extensions'
// channels were created and answered). Differences are listed in `consistency_problems`.
//
//   LAB=/var/tmp/fpbx-lab node tools/e2e-freepbx/export-fixture.mjs [--plan FILE] [--out DIR]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { lab: { type: 'string' }, plan: { type: 'string' }, out: { type: 'string' } } });
const LAB = args.lab ?? process.env.LAB;
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const planFile = args.plan ?? (LAB ? join(LAB, 'e2e-calls', 'plan.json') : null);
if (!planFile) throw new Error('set LAB or pass --plan');
const OUT = args.out ?? join(root, 'test', 'fixtures', 'freepbx17-lab');
const plan = JSON.parse(readFileSync(planFile, 'utf8'));

const mysqlBatch = (query, db = 'asteriskcdrdb') => execFileSync('mysql', ['-B', db, '-e', query], { encoding: 'utf8', maxBuffer: 1 << 28 });
const quote = (text) => `'${String(text).replace(/[\\']/g, (c) => `\\${c}`)}'`;
/** Unescapes one field of `mysql --batch` output. */
const unbatch = (field) => field.replace(/\\(.)/g, (_, c) => ({ n: '\n', t: '\t', 0: '\0', '\\': '\\' })[c] ?? c);
function table(text) {
  const [head, ...lines] = text.split('\n').filter((line) => line !== '');
  const columns = head.split('\t');
  return { head, columns, rows: lines.map((line) => ({ line, cells: Object.fromEntries(line.split('\t').map((v, i) => [columns[i], unbatch(v)])) })) };
}

const calls = plan.scenarios.flatMap((s) => s.calls.map((c) => ({ ...c, scenario: s.id, title: s.title })));
const linkedids = [...new Set(calls.map((c) => c.linkedid))];
const inList = linkedids.map(quote).join(',');

// --- CDR rows and when each was INSERTed ------------------------------------------------------

/** Values of `INSERT INTO cdr (cols) VALUES (...)` as the ODBC driver sends it: '…' strings, { ts '…' }, numbers. */
function parseInsert(statement) {
  const m = /^INSERT INTO cdr \(([^)]*)\) VALUES \((.*)\)\s*$/s.exec(statement);
  if (!m) return null;
  const columns = m[1].split(',').map((c) => c.trim());
  const values = [];
  const text = m[2];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === ',' || ch === ' ') { i += 1; continue; }
    if (ch === "'" || text.startsWith('{ ts ', i)) {
      const open = text.indexOf("'", i);
      let value = '';
      let j = open + 1;
      for (; j < text.length; j += 1) {
        if (text[j] === '\\') { value += text[j + 1]; j += 1; continue; }
        if (text[j] === "'" && text[j + 1] === "'") { value += "'"; j += 1; continue; }
        if (text[j] === "'") break;
        value += text[j];
      }
      values.push(value);
      i = ch === "'" ? j + 1 : text.indexOf('}', j) + 1;
      continue;
    }
    const end = text.indexOf(',', i);
    values.push(text.slice(i, end < 0 ? text.length : end).trim());
    i = end < 0 ? text.length : end;
  }
  return Object.fromEntries(columns.map((c, k) => [c, values[k]]));
}

const firstPlaced = new Date(Math.min(...calls.filter((c) => c.placed_at).map((c) => c.placed_at)) * 1000 - 5000).toISOString().slice(0, 19).replace('T', ' ');
const insertLog = table(mysqlBatch(
  `SELECT event_time, argument FROM mysql.general_log WHERE command_type IN ('Query', 'Execute') AND argument LIKE 'INSERT INTO cdr %' AND event_time >= ${quote(firstPlaced)} ORDER BY event_time`,
  'mysql',
)).rows
  .map(({ cells }) => ({ at: cells.event_time, row: parseInsert(cells.argument) }))
  .filter((x) => x.row && linkedids.includes(x.row.linkedid));
const insertedAt = new Map(insertLog.map((x, position) => [`${x.row.uniqueid}|${x.row.sequence}`, { at: x.at, position }]));

const cdr = table(mysqlBatch(`SELECT * FROM cdr WHERE linkedid IN (${inList})`));
const missingFromLog = cdr.rows.filter((r) => !insertedAt.has(`${r.cells.uniqueid}|${r.cells.sequence}`));
if (missingFromLog.length) throw new Error(`${missingFromLog.length} CDR rows have no INSERT in the general log (was it on while the plan ran?)`);
cdr.rows.sort((a, b) => insertedAt.get(`${a.cells.uniqueid}|${a.cells.sequence}`).position - insertedAt.get(`${b.cells.uniqueid}|${b.cells.sequence}`).position);
const cel = table(mysqlBatch(`SELECT * FROM cel WHERE linkedid IN (${inList}) ORDER BY id`));

// --- what CEL saw of each call ----------------------------------------------------------------

const device = (channame) => /^PJSIP\/(\d{3})-[0-9a-f]+$/.exec(channame)?.[1] ?? null;
/** Linkedids of the calls an application started for this one (a page's legs to the phones): where its phones' channels are. */
const companionsOf = (call) => (call.kind === 'inbound' ? calls.filter((c) => c.scenario === call.scenario && c.kind === 'companion').map((c) => c.linkedid) : []);
function observed(call) {
  const linked = new Set([call.linkedid, ...companionsOf(call)]);
  const events = cel.rows.map((r) => r.cells).filter((e) => linked.has(e.linkedid));
  const origin = call.kind === 'from_phone' ? call.ext : null;
  const rang = new Set();
  const answering = new Set();
  let viaTrunk = false;
  const rootChannel = events.find((e) => e.uniqueid === call.linkedid)?.channame;
  for (const e of events) {
    const ext = device(e.channame);
    if (ext && e.eventtype === 'CHAN_START' && ext !== origin) rang.add(ext);
    if (ext && ext !== origin && ['ANSWER', 'BRIDGE_ENTER', 'BRIDGE_EXIT'].includes(e.eventtype)) answering.add(ext);
    if (/^PJSIP\/carrier-/.test(e.channame) && e.channame !== rootChannel && e.eventtype === 'ANSWER') viaTrunk = true;
  }
  const cdrRows = cdr.rows.map((r) => r.cells).filter((r) => r.linkedid === call.linkedid);
  const dispositions = new Map();
  for (const r of cdrRows) dispositions.set(r.disposition, (dispositions.get(r.disposition) ?? 0) + 1);
  return {
    rang: [...rang].sort(), answering: [...answering].sort(), viaTrunk, cdrRows: cdrRows.length, celRows: events.filter((e) => e.linkedid === call.linkedid).length,
    dispositions: [...dispositions], voicemailApp: events.some((e) => e.eventtype === 'APP_START' && /^voicemail$/i.test(e.appname)),
  };
}

const problems = [];
const labelCalls = [];
for (const call of calls) {
  const seen = observed(call);
  const expect = call.expect;
  const name = `${call.scenario}.${call.role}`;
  if (call.role.startsWith('pickup')) {
    // The picking-up phone's own call is folded into the picked-up call: its linkedid keeps no CDR row.
    if (seen.cdrRows) problems.push(`${name}: the pickup call kept ${seen.cdrRows} CDR rows of its own`);
    continue;
  }
  // Internal: a phone's call to a PBX application (page, intercom, conference, *97, a parking
  // slot) or a call an application started by itself (a companion: Local channels only).
  const internal = !!expect.internal;
  const outbound = call.kind === 'from_phone' && !internal;
  const companion = call.kind === 'companion';
  const label = {
    scenario: name,
    kind: internal ? 'internal' : outbound ? 'outbound' : 'inbound',
    linkedid: call.linkedid,
    started: companion ? null : new Date(call.placed_at * 1000).toISOString().slice(0, 19).replace('T', ' '),
    hung_up: call.hung_up_at,
    caller: companion ? '' : call.kind === 'from_phone' ? call.ext : call.caller,
    ...(companion ? {} : call.kind === 'from_phone' ? { dialled: call.number } : { did: call.did }),
    missed: !outbound && !!expect.missed,
    ...(expect.answered_by ? { expected_answered_by: expect.answered_by.replace(/^external:/, '') } : {}),
    observed_rang_extensions: seen.rang,
    observed_answering_extensions: seen.answering,
    observed_answered_via_trunk: outbound ? !!expect.callback_answered : !!expect.via_trunk,
    ...(outbound ? { callback_answered: !!expect.callback_answered } : {}),
    ...(expect.abandoned ? { abandoned_before_ringing: true } : {}),
    ...(expect.voicemail ? { voicemail_box: expect.voicemail } : {}),
    ...(expect.cdr_invisible ? { cdr_invisible: true } : {}),
    cdr_rows: seen.cdrRows,
    cel_rows: seen.celRows,
    cdr_dispositions: seen.dispositions,
    caller_behaviour: companion ? null : call.kind === 'from_phone'
      ? { ring_s: call.ring_s, talk_s: call.talk_s }
      : { giveup_s: call.give_up_s, dtmf: call.dtmf, sends_audio: call.audio },
    note: call.title,
  };
  labelCalls.push(label);
  // Intent against what the PBX did.
  if (internal) {
    if (seen.viaTrunk) problems.push(`${name}: meant to stay inside the PBX, CEL shows an answered trunk leg`);
  } else if (!outbound) {
    const want = [...(expect.rang ?? [])].sort();
    if (JSON.stringify(want) !== JSON.stringify(seen.rang)) problems.push(`${name}: meant to ring ${want.join(',') || 'nobody'}, CEL shows ${seen.rang.join(',') || 'nobody'}`);
    if (expect.answered_by && !expect.via_trunk && !seen.answering.includes(expect.answered_by)) problems.push(`${name}: ${expect.answered_by} was to answer, CEL shows ${seen.answering.join(',') || 'nobody'}`);
    if (expect.missed && seen.answering.length) problems.push(`${name}: meant to be missed, CEL shows ${seen.answering.join(',')} answering`);
    if (expect.via_trunk && !seen.viaTrunk) problems.push(`${name}: the outside number was to answer, CEL shows no answered trunk leg`);
    if (expect.voicemail && !seen.voicemailApp) problems.push(`${name}: voicemail was to answer, CEL shows no VoiceMail app`);
    if (!expect.cdr_invisible && seen.cdrRows === 0) problems.push(`${name}: no CDR row`);
    if (expect.cdr_invisible && seen.cdrRows !== 0) problems.push(`${name}: expected no CDR row, found ${seen.cdrRows}`);
  } else if (seen.viaTrunk === false && expect.callback_answered) {
    // An outbound call's trunk leg is not the root; the callee's answer is an ANSWER on it.
    problems.push(`${name}: the callee was to answer, CEL shows no answered trunk leg`);
  }
}

const linkedidOf = (scenario, role) => scenario.calls.find((c) => c.role === role)?.linkedid;
const labelEntries = plan.scenarios.flatMap((s) => s.entries.map((e) => ({
  scenario: s.id,
  caller: e.caller,
  did: e.did,
  expected_entry: e.missed.length > 0,
  ...(e.missed.length ? { missed_count: e.missed.length, cleared_by: e.cleared_by ?? null } : {}),
  ...(e.cleared_ext ? { cleared_ext: e.cleared_ext } : {}),
  missed_linkedids: e.missed.map((role) => linkedidOf(s, role)),
  ...(e.clearing ? { clearing_linkedid: linkedidOf(s, e.clearing) } : {}),
  ...(e.cdr_invisible ? { cdr_invisible: true } : {}),
})));

// --- files ------------------------------------------------------------------------------------

mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'cdr.tsv'), [cdr.head, ...cdr.rows.map((r) => r.line)].join('\n') + '\n');
writeFileSync(join(OUT, 'cel.tsv'), [cel.head, ...cel.rows.map((r) => r.line)].join('\n') + '\n');
writeFileSync(join(OUT, 'cdr_insert_log.tsv'), ['inserted_at\tuniqueid\tsequence\tlinkedid', ...insertLog.map((x) => `${x.at}\t${x.row.uniqueid}\t${x.row.sequence}\t${x.row.linkedid}`)].join('\n') + '\n');
const labels = {
  set: basename(OUT),
  freepbx: '17.0.28',
  asterisk_version: plan.asterisk.replace(/^Asterisk /, ''),
  cdr_backend: 'cdr_adaptive_odbc -> MariaDB asteriskcdrdb.cdr (FreePBX 17 defaults: unanswered=no)',
  cel_backend: 'cel_odbc -> MariaDB asteriskcdrdb.cel (CEL_ENABLED, events=all)',
  timezone: 'UTC (calldate/eventtime are the lab host local time = UTC)',
  plan_started: plan.started_at,
  plan_took_s: plan.took_s,
  semantics: {
    missed: 'an inbound (trunk) call is missed by the team when no extension and no outside number the PBX dialled answered it, and a phone rang, was busy, voicemail took it, or the caller waited in the queue. A hang-up in the IVR before any phone rang is not missed (abandoned). A call FreePBX refused without a Dial (DND, no voicemail) is missed but leaves no CDR row (cdr_invisible).',
    entry: 'one entry per (caller, DID) episode; missed_count = the missed calls in it',
    cleared_by_returned: 'an answered outbound call from an extension to the caller after the miss',
    cleared_by_answered_later: 'a later inbound call from the same caller that an extension answered',
    unanswered_callback: 'an outbound attempt nobody answered does not clear (callback_attempted)',
    internal: 'kind internal: a call that never came in from outside (a phone calling a PBX application, or a call an application started by itself with Local channels only, a companion); never inbound, never an entry, not in the inbound figures',
  },
  counts: { cdr_rows: cdr.rows.length, cel_rows: cel.rows.length, cdr_insert_log_rows: insertLog.length, calls: labelCalls.length, entries: labelEntries.length },
  calls: labelCalls,
  entries: labelEntries,
  consistency_problems: problems,
};
writeFileSync(join(OUT, 'labels.json'), JSON.stringify(labels, null, 1) + '\n');
process.stdout.write(`${OUT}: ${cdr.rows.length} CDR rows, ${cel.rows.length} CEL rows, ${labelCalls.length} calls, ${labelEntries.length} entries\n`);
for (const p of problems) process.stdout.write(`consistency: ${p}\n`);
