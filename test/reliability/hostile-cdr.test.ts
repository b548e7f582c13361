/**
 * Hostile and broken CDR through the real sync into MariaDB: rows with empty or NULL
 * linkedid, calls without their root row, duplicated rows, clocks going backwards and
 * forwards, fields cut at 80 bytes in the middle of a UTF-8 character, non-numeric and
 * unicode caller ids, SQL and HTML in clid, absurd durations. The sync must never stop,
 * bad rows must be counted in `smc status`, and the real calls next to them must come
 * out exactly as they do in a clean database.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { RowDataPacket } from 'mysql2/promise';
import { groupByCall } from '../../src/cdr/reader.js';
import { CDR_COLUMNS, naiveDatetime, naiveSeconds, type CdrRow } from '../../src/cdr/row.js';
import type { Config } from '../../src/config/schema.js';
import { ident } from '../../src/db/pool.js';
import { verifyAudit } from '../../src/ledger/audit.js';
import { Syncer } from '../../src/sync/cycle.js';
import { freshDatabases, insertCdrRows, loadFixtureCdr, repoRoot, type FreshDatabases } from '../harness/db.js';
import { writeServeConfig } from '../helpers/serve-process.js';

const SOAK = process.env.SMC_SOAK === '1';
const RUNS = SOAK ? 600 : 60;

let dir: string;
let hostile: FreshDatabases;
let clean: FreshDatabases;
let labRows: CdrRow[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-hostile-'));
  [hostile, clean] = await Promise.all([freshDatabases('hostile'), freshDatabases('clean')]);
  // FreePBX before 17 made cdr latin1 (test/fixtures/asterisk-lab/schema.sql), which takes any
  // bytes Asterisk sends, cut mid-character included: the hardest table to read.
  await hostile.pool.query(`ALTER TABLE ${ident(hostile.names.cdr)}.cdr CONVERT TO CHARACTER SET latin1 COLLATE latin1_swedish_ci`);
  // Some PBXs (other CDR backends, hand-made tables) allow NULL ids; ours must cope.
  await hostile.pool.query(`ALTER TABLE ${ident(hostile.names.cdr)}.cdr MODIFY linkedid VARCHAR(32) NULL, MODIFY uniqueid VARCHAR(32) NULL`);
  const [[{ now }]] = (await hostile.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
  const lab = loadFixtureCdr();
  const first = Math.min(...lab.map((r) => naiveSeconds(r.calldate)));
  const start = naiveSeconds(now) - 3 * 3600;
  labRows = lab.map((r) => ({ ...r, calldate: naiveDatetime(naiveSeconds(r.calldate) - first + start) }));
  for (const db of [hostile, clean]) await insertCdrRows(db.pool, db.names.cdr, labRows);
});

after(async () => {
  await Promise.all([hostile?.cleanup(), clean?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

function configOf(db: FreshDatabases): Config {
  return { ...db.config, sync: { ...db.config.sync, settleSeconds: 0, maxCallSeconds: 6 * 3600, hotWindowSeconds: 6 * 3600 } };
}

/** The real calls (the lab's and copies of them) as the sync left them: everything a user sees of them. */
async function realOutcome(db: FreshDatabases, copies: Iterable<string> = []): Promise<unknown> {
  const ids = [...new Set(labRows.map((r) => r.linkedid)), ...copies];
  const [calls] = await db.pool.query<RowDataPacket[]>(
    `SELECT linkedid, verdict, direction, caller, caller_key, did, dialled, started_at, ended_at, wait_s, answered_by, rang, route_kind,
            route_id, reasons, explanation, voicemail, row_count, rows_digest, entry_id IS NULL AS no_entry
       FROM smart_missed_calls_calls WHERE linkedid IN (?) ORDER BY linkedid`,
    [ids],
  );
  const [entries] = await db.pool.query<RowDataPacket[]>(
    `SELECT caller, caller_key, caller_raw, caller_name, did, route_label, status, missed_count, total_missed, rang_extensions,
            first_attempt, last_attempt, last_linkedid, callback_attempts, last_callback_ext, cleared_by, cleared_at, cleared_ext, cleared_linkedid
       FROM smart_missed_calls WHERE last_linkedid IN (?) OR cleared_linkedid IN (?) ORDER BY caller_key, did`,
    [ids, ids],
  );
  return { calls, entries };
}

// ------------------------------------------------------------------------------------
// What a broken or hostile backend writes

const PAYLOADS = [
  `'; DROP TABLE smart_missed_calls; --`,
  `Robert'); DELETE FROM cdr WHERE ('a'='a`,
  `<script>alert(document.cookie)</script>`,
  `"><img src=x onerror=alert(1)>`,
  '\\',
  '%s%n%x',
  '\u0000',
  '\u202eevil\u202c',
  'anonymous',
  'Restricted',
  'Unknown',
  '',
  '   ',
];

const noDigits = (s: string) => s.replace(/[0-9]/g, '');
/** Text with no phone number in it: payloads, any unicode, control characters. */
const junk = fc.oneof(
  fc.constantFrom(...PAYLOADS),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(noDigits),
  fc.string({ unit: 'binary', maxLength: 40 }).map(noDigits),
  fc.string({ unit: 'grapheme-ascii', maxLength: 120 }).map(noDigits),
);
/** Numbers of this test's own range (0399…), so no hostile call can be a lab caller. */
const number = fc.oneof(
  fc.stringMatching(/^0399[0-9]{6}$/),
  fc.stringMatching(/^\+40399[0-9]{6}$/),
  fc.stringMatching(/^90399[0-9]{6,70}$/),
  fc.tuple(fc.stringMatching(/^0399[0-9]{6}$/), junk).map(([n, j]) => `${j}${n}${j}`),
);
const callerId = fc.oneof(number, junk);
/** DIDs never equal to a lab DID, so hostile misses never land on a lab entry. */
const did = fc.oneof(fc.stringMatching(/^0399[0-9]{6}$/), fc.constant(''), junk.map((j) => (j.trim() ? `x${j}` : '')));
const channel = fc.oneof(
  fc.integer({ min: 100, max: 110 }).map((e) => `PJSIP/${e}-0000${e}ab`),
  fc.integer({ min: 100, max: 110 }).map((e) => `Local/${e}@from-queue-0000abcd;1`),
  fc.constant('PJSIP/trunk-000000ff'),
  fc.constant(''),
  junk,
);
const disposition = fc.constantFrom('ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION', '', 'answered', 'garbage');
const lastapp = fc.constantFrom('Dial', 'Queue', 'VoiceMail', 'Playback', 'BackGround', 'Hangup', 'AppDial', '', 'missed_calls');
const duration = fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(-5, 86_399, 86_401, 2_147_483_647, -2_147_483_648));
/** Seconds relative to now: mostly the recent past, sometimes the future (a clock ahead). */
const when = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: -3 * 3600, max: -60 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3600 }) });

interface HostileRow {
  offset: number;
  fields: Record<string, string | number | null>;
}

/** One hostile "call": 1–6 rows sharing an id scheme, maybe without a root, maybe duplicated, maybe with its clock running backwards. */
const hostileCall = fc
  .record({
    idKind: fc.constantFrom('normal', 'normal', 'empty', 'null', 'uniqueid-only', 'no-root'),
    tag: fc.stringMatching(/^[0-9]{1,8}$/),
    start: when,
    rows: fc.array(
      fc.record({
        step: fc.integer({ min: -7200, max: 300 }),
        clid: fc.tuple(junk, callerId).map(([name, n]) => `"${name}" <${n}>`),
        src: callerId,
        dst: fc.oneof(number, junk, fc.constantFrom('101', '102', '600', 'vmu101', 's')),
        dcontext: fc.constantFrom('from-pstn', 'from-trunk', 'ext-queues', 'ext-group', 'from-internal', 'macro-dial-one', 'ivr-1', '', 'x'.repeat(80)),
        channel,
        dstchannel: channel,
        lastapp,
        lastdata: fc.oneof(junk, fc.constant('PJSIP/101&PJSIP/102,20,' + 'T'.repeat(120))),
        duration,
        billsec: duration,
        disposition,
        did,
        cnum: callerId,
        cnam: junk,
        duplicate: fc.boolean(),
      }),
      { minLength: 1, maxLength: 6 },
    ),
  })
  .map((call) => {
    const id = `h${call.tag}.${call.tag.length}`;
    const out: HostileRow[] = [];
    call.rows.forEach((r, i) => {
      const own = i === 0 ? id : `h${call.tag}.${call.tag.length + i + 1}`;
      const ids =
        call.idKind === 'empty' ? { uniqueid: '', linkedid: '' }
        : call.idKind === 'null' ? { uniqueid: null, linkedid: null }
        : call.idKind === 'uniqueid-only' ? { uniqueid: own, linkedid: '' }
        : call.idKind === 'no-root' ? { uniqueid: `${own}r`, linkedid: id }
        : { uniqueid: own, linkedid: id };
      const { step, duplicate, ...fields } = r;
      // Steps may be negative: the clock of a later row is behind the first's.
      const row = { offset: call.start + (i === 0 ? 0 : step), fields: { ...fields, ...ids, sequence: i } };
      out.push(row);
      if (duplicate) out.push(row);
    });
    return out;
  });

/** A lab call copied under a new id with some rows twice: it must get the verdict of the original. */
const duplicatedLabCall = fc.record({ index: fc.nat(), dupes: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), tag: fc.stringMatching(/^[a-z]{6}$/) });

/** Asterisk cuts text at the column width, in bytes, whatever the character set: so do we. */
function asStored(value: string | number | null): string | number | Buffer | null {
  if (typeof value !== 'string') return value;
  return Buffer.from(value, 'utf8').subarray(0, 80);
}

async function insertHostile(db: FreshDatabases, calls: HostileRow[][], now: number): Promise<number> {
  const columns = [...CDR_COLUMNS];
  const rows = calls.flat();
  if (rows.length === 0) return 0;
  await db.pool.query(
    `INSERT INTO ${ident(db.names.cdr)}.cdr (${columns.map(ident).join(', ')}) VALUES ?`,
    [rows.map((r) => columns.map((c) => (c === 'calldate' ? naiveDatetime(now + r.offset) : asStored(r.fields[c] ?? '')) ))],
  );
  return rows.length;
}

test(`hostile CDR (${RUNS} fast-check cases) never stops the sync, is counted, and leaves the real calls as a clean database has them`, { timeout: SOAK ? 1_800_000 : 300_000 }, async () => {
  const cleanSyncer = new Syncer(clean.pool, configOf(clean));
  await cleanSyncer.cycle();
  const syncer = new Syncer(hostile.pool, configOf(hostile));
  await syncer.cycle();
  assert.deepEqual(await realOutcome(hostile), await realOutcome(clean));

  const labCalls = [...groupByCall(labRows).values()];
  const labVerdicts = new Map<string, string>();
  const [labStored] = await clean.pool.query<RowDataPacket[]>('SELECT linkedid, verdict FROM smart_missed_calls_calls');
  assert.ok(labStored.length > 30);
  for (const r of labStored) labVerdicts.set(String(r.linkedid), String(r.verdict));

  let rowsTried = 0;
  let cases = 0;
  const copies = new Map<string, string>();
  let stopped: Error | null = null;
  await fc.assert(
    fc.asyncProperty(fc.array(hostileCall, { minLength: 1, maxLength: 8 }), fc.array(duplicatedLabCall, { maxLength: 2 }), async (calls, dupes) => {
      cases += 1;
      const [[{ now }]] = (await hostile.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
      rowsTried += await insertHostile(hostile, calls, naiveSeconds(now));
      for (const d of dupes) {
        const original = labCalls[d.index % labCalls.length]!;
        const suffix = `d${d.tag}`;
        const copy = original.map((r) => ({ ...r, uniqueid: (r.uniqueid + suffix).slice(-32), linkedid: (r.linkedid + suffix).slice(-32) }));
        const extra = d.dupes.map((k) => copy[k % copy.length]!);
        const id = (original[0]!.linkedid + suffix).slice(-32);
        if (copies.has(id)) continue;
        copies.set(id, labVerdicts.get(original[0]!.linkedid)!);
        // The clean database gets the same real rows: it is the reference for everything but the hostile calls.
        for (const db of [hostile, clean]) await insertCdrRows(db.pool, db.names.cdr, [...copy, ...extra]);
        rowsTried += copy.length + extra.length;
      }
      // The cycle must complete: a throw here is the sync stopping on bad data.
      await syncer.cycle().catch((err: Error) => {
        stopped = err;
        throw err;
      });
      await cleanSyncer.cycle();
    }),
    { numRuns: RUNS, seed: Number(process.env.SMC_FUZZ_SEED ?? 4242), endOnFailure: true },
  ).catch((err: Error) => {
    // The counterexample is long; say first why the sync stopped.
    throw stopped ? new Error(`the sync stopped on hostile rows: ${stopped.message}\n${err.message}`) : err;
  });

  // A fresh service reading the whole window (a full scan) counts every unreadable row.
  const report = await new Syncer(hostile.pool, configOf(hostile)).cycle();
  const [[{ unreadable }]] = (await hostile.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS unreadable FROM ${ident(hostile.names.cdr)}.cdr
      WHERE COALESCE(TRIM(linkedid), '') = '' AND COALESCE(TRIM(uniqueid), '') = '' AND calldate >= ?`,
    [report.windowStart],
  )) as unknown as [[{ unreadable: number }]];
  assert.ok(Number(unreadable) > 0, 'the fuzz produced rows without any id');
  assert.equal(report.badRows, Number(unreadable));

  assert.deepEqual(await realOutcome(hostile, copies.keys()), await realOutcome(clean, copies.keys()), 'the real calls are untouched by the hostile ones');
  const [copied] = await hostile.pool.query<RowDataPacket[]>('SELECT linkedid, verdict FROM smart_missed_calls_calls WHERE linkedid IN (?)', [[...copies.keys(), '']]);
  assert.equal(copied.length, copies.size, 'every duplicated-row copy of a lab call was classified');
  for (const c of copied) assert.equal(c.verdict, copies.get(String(c.linkedid)), `${c.linkedid}: duplicated rows change no verdict`);
  assert.equal((await verifyAudit(hostile.pool, hostile.auditKey)).ok, true);

  const configFile = writeServeConfig({ dir, name: 'hostile', db: hostile });
  const status = JSON.parse(
    execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', configFile, 'status', '--json'], { encoding: 'utf8' }),
  ) as { badRows: { reason: string; count: number }[]; calls: number };
  assert.equal(status.badRows.reduce((n, b) => n + b.count, 0), Number(unreadable), '`smc status` shows the bad rows');
  const [[{ classified }]] = (await hostile.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS classified FROM smart_missed_calls_calls')) as unknown as [[{ classified: number }]];
  assert.equal(status.calls, Number(classified));
  // The hostile calls reached the ledger, not just the reader: they are entries and calls too.
  const [hostileEntries] = await hostile.pool.query<RowDataPacket[]>("SELECT anonymous, caller_name FROM smart_missed_calls WHERE last_linkedid LIKE 'h%'");
  assert.ok(hostileEntries.some((e) => e.anonymous) && hostileEntries.some((e) => !e.anonymous), 'hostile misses with junk and with numeric caller ids are listed');
  console.log(`hostile cdr: ${cases} fast-check cases, ${rowsTried} rows; ${Number(unreadable)} rows without ids counted; ${classified} calls classified; ${copies.size} duplicated-row copies of lab calls`);
});
