#!/usr/bin/env node
// Places the scenario plan through a real FreePBX 17 (provisioned by provision.php) from the
// lab's "world" Asterisk (world.sh): a carrier that originates inbound calls and phones
// 101-106 that ring, answer, refuse or transfer as each scenario tells them. One call at a
// time; after each, it waits until both Asterisks have no channel left. It writes what was
// intended and what happened (linkedid, hang-up time from CEL's LINKEDID_END) to a plan file
// that export-fixture.mjs turns into a labelled fixture set.
//
//   LAB=/var/tmp/fpbx-lab node tools/e2e-freepbx/calls.mjs [--out FILE] [--only S01,S02] [--set internal|failovers]
//
// `--set internal` places S20+ instead (test/fixtures/freepbx17-internal): paging, intercom, a
// conference, parking, a feature code, and inbound calls around them; it needs the paging,
// conferences and parking modules and provision.php's page group 700 and room 800. Those
// applications start calls of their own (Local channels, own linkedids) next to the one placed:
// every linkedid that began during a scenario is recorded as a `companion` of it.
//
// `--set failovers` places S28+ (test/fixtures/freepbx17-failovers): DND and busy with and without
// voicemail, queues that send the caller on (joinempty, leavewhenempty, maxwait, a failover loop,
// a hang-up), a ring group and a follow-me failing over to voicemail, a blind transfer to
// voicemail, call waiting on and off, and callers coming back into a queue; it needs
// provision.php's ext 107, queues 401-404 and ring group 601.
//
// Runs as root on the lab machine (asterisk -rx on both instances, mysql over the local socket).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { lab: { type: 'string' }, out: { type: 'string' }, only: { type: 'string' }, set: { type: 'string' } },
});
const LAB = args.lab ?? process.env.LAB;
if (!LAB) throw new Error('set LAB or pass --lab: the folder build.sh used');
const OUT = args.out ?? join(LAB, 'e2e-calls', 'plan.json');
const PHONES = ['101', '102', '103', '104', '105', '106', '107'];
const FOLLOWME_OUTSIDE = '0740999888';

const world = (command) => execFileSync('asterisk', ['-C', join(LAB, 'world', 'etc', 'asterisk.conf'), '-rx', command], { encoding: 'utf8' });
const pbx = (command) => execFileSync('asterisk', ['-rx', command], { encoding: 'utf8' });
const sql = (query) =>
  execFileSync('mysql', ['-N', '-B', 'asteriskcdrdb', '-e', query], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map((line) => line.split('\t'));
const quote = (text) => `'${String(text).replace(/[\\']/g, (c) => `\\${c}`)}'`;
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const now = () => Date.now() / 1000;
const log = (text) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);

/** Phone (or outside number) behaviour, read by world-conf's [phones] context. */
function mode(who, behaviour) {
  world(`database put lab ${who} ${behaviour}`);
}

function resetWorld() {
  for (const ext of PHONES) mode(ext, 'ring');
  world('database deltree lab_cnt');
}

/** A PSTN caller rings a DID through the carrier trunk; hangs up after `giveUp` s, sends `dtmf` after answer; `audio` speaks (a tone) so voicemail keeps a message. */
function inbound(caller, did, giveUp, { dtmf = '', audio = false } = {}) {
  const exten = [caller, did, giveUp, dtmf].filter(Boolean).join('-');
  world(`channel originate Local/${exten}@mkcall application ${audio ? 'Milliwatt' : `Wait ${giveUp + 5}`}`);
}

/** Phone `ext` dials `number` into FreePBX (callback, **ext pickup, *80ext, a page group), ringing at most `ring` s and talking `talk` s once answered. */
function fromPhone(ext, number, ring, talk) {
  world(`channel originate Local/${ext}-${number}-${ring}@mkout application Wait ${talk}`);
}

function activeChannels(run) {
  const m = /(\d+) active channels?/.exec(run('core show channels count'));
  return m ? Number(m[1]) : 0;
}

/** Waits until neither Asterisk carries a channel (the call is over everywhere), then 2 s for the last CDR/CEL inserts. */
async function waitIdle(limit = 120) {
  const until = now() + limit;
  await sleep(1);
  while (now() < until) {
    if (activeChannels(pbx) === 0 && activeChannels(world) === 0) {
      await sleep(2);
      return;
    }
    await sleep(1);
  }
  throw new Error(`channels still up after ${limit} s`);
}

/** The linkedid of the call that began at `since` on the trunk from `caller`, or on device `ext` dialling `number`. */
function findLinkedid({ caller, ext, number }, since) {
  const where = caller
    ? `channame LIKE 'PJSIP/carrier-%' AND cid_num = ${quote(caller)}`
    : `channame LIKE ${quote(`PJSIP/${ext}-%`)} AND exten = ${quote(number)}`;
  const rows = sql(`SELECT linkedid FROM cel WHERE eventtype = 'CHAN_START' AND ${where} AND eventtime >= FROM_UNIXTIME(${Math.floor(since) - 1}) ORDER BY id LIMIT 1`);
  return rows[0]?.[0] ?? null;
}

/** Linkedids whose first channel began in [from, to] (the scenario's window), other than those already known. */
function linkedidsBetween(from, to, known) {
  const rows = sql(`SELECT DISTINCT linkedid FROM cel WHERE eventtype = 'CHAN_START' AND eventtime >= FROM_UNIXTIME(${Math.floor(from) - 1}) AND eventtime <= FROM_UNIXTIME(${Math.ceil(to)}) ORDER BY id`);
  return rows.map((r) => r[0]).filter((id) => !known.has(id));
}

function linkedidEnd(linkedid) {
  return sql(`SELECT eventtime FROM cel WHERE eventtype = 'LINKEDID_END' AND linkedid = ${quote(linkedid)}`)[0]?.[0] ?? null;
}

// ---------------------------------------------------------------------------------------------
// The plan. Each call says what a correct team-level detector must conclude about it (missed,
// answered by whom, which extensions rang); `entries` say what the missed-call list must hold.
// Callers are 06123450NN with NN the scenario number, so entries never mix across scenarios.

const caller = (n) => `06123450${String(n).padStart(2, '0')}`;
const QUEUE = '5551000', DIRECT_103 = '5551001', GROUP = '5551002', IVR = '5551003', DIRECT_104 = '5551004';
const FOLLOWME = '5551005', DND_106 = '5551006', DIRECT_101 = '5551007';

const scenarios = [
  {
    id: 'S01', title: 'queue 400, both agents ring, nobody answers, the caller gives up after 12 s',
    async run(c) { await c.inbound('call', caller(1), QUEUE, 12); },
    calls: { call: { missed: true, rang: ['101', '102'] } },
    entries: [{ caller: caller(1), did: QUEUE, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S02', title: 'queue 400, 101 rings, 102 answers after 4 s and talks 5 s',
    async run(c) { mode('102', 'ans:4:5'); await c.inbound('call', caller(2), QUEUE, 40); },
    calls: { call: { missed: false, answered_by: '102', rang: ['101', '102'] } },
    entries: [{ caller: caller(2), did: QUEUE, missed: [] }],
  },
  {
    id: 'S03', title: 'queue 400, nobody answers; maxwait (20 s) sends the caller to voicemail 104, who leaves a message',
    async run(c) { await c.inbound('call', caller(3), QUEUE, 42, { audio: true }); },
    calls: { call: { missed: true, rang: ['101', '102'], voicemail: '104' } },
    entries: [{ caller: caller(3), did: QUEUE, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S04', title: 'ring group 600 (101, 102, 103) rings 15 s, nobody answers, failover hangs up',
    async run(c) { await c.inbound('call', caller(4), GROUP, 25); },
    calls: { call: { missed: true, rang: ['101', '102', '103'] } },
    entries: [{ caller: caller(4), did: GROUP, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S05', title: 'ring group 600, 103 answers after 5 s and talks 5 s',
    async run(c) { mode('103', 'ans:5:5'); await c.inbound('call', caller(5), GROUP, 40); },
    calls: { call: { missed: false, answered_by: '103', rang: ['101', '102', '103'] } },
    entries: [{ caller: caller(5), did: GROUP, missed: [] }],
  },
  {
    id: 'S06', title: 'IVR, the caller hangs up after 3 s without choosing; no phone rang',
    async run(c) { await c.inbound('call', caller(6), IVR, 3); },
    calls: { call: { missed: false, abandoned: true, rang: [] } },
    entries: [{ caller: caller(6), did: IVR, missed: [] }],
  },
  {
    id: 'S07', title: 'IVR, the caller presses 1 -> queue 400; 102 rings, 101 answers after 4 s',
    async run(c) { mode('101', 'ans:4:5'); await c.inbound('call', caller(7), IVR, 40, { dtmf: '1' }); },
    calls: { call: { missed: false, answered_by: '101', rang: ['101', '102'] } },
    entries: [{ caller: caller(7), did: IVR, missed: [] }],
  },
  {
    id: 'S08', title: 'direct to 103 (no voicemail), rings, the caller gives up after 12 s',
    async run(c) { await c.inbound('call', caller(8), DIRECT_103, 12); },
    calls: { call: { missed: true, rang: ['103'] } },
    entries: [{ caller: caller(8), did: DIRECT_103, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S09', title: 'direct to 103, the phone answers 486 Busy',
    async run(c) { mode('103', 'busy'); await c.inbound('call', caller(9), DIRECT_103, 10); },
    calls: { call: { missed: true, rang: ['103'] } },
    entries: [{ caller: caller(9), did: DIRECT_103, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S10', title: 'direct to 104, rings 15 s, voicemail 104 answers, the caller speaks (tone) ~15 s and hangs up',
    async run(c) { await c.inbound('call', caller(10), DIRECT_104, 35, { audio: true }); },
    calls: { call: { missed: true, rang: ['104'], voicemail: '104' } },
    entries: [{ caller: caller(10), did: DIRECT_104, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S11', title: 'direct to 105 with follow-me: 105 alone 6 s, then 105 + 0740999888; the outside number answers after 3 s',
    async run(c) { mode(FOLLOWME_OUTSIDE, 'ans:3:6'); await c.inbound('call', caller(11), FOLLOWME, 40); },
    calls: { call: { missed: false, answered_by: `external:${FOLLOWME_OUTSIDE}`, via_trunk: true, rang: ['105'] } },
    entries: [{ caller: caller(11), did: FOLLOWME, missed: [] }],
  },
  {
    id: 'S12', title: 'direct to 103 rings; after 4 s phone 102 dials **103 (directed pickup) and talks 6 s',
    async run(c) {
      await c.inbound('call', caller(12), DIRECT_103, 30, {}, async () => { await sleep(4); c.fromPhone('pickup', '102', '**103', 10, 6); });
    },
    calls: { call: { missed: false, answered_by: '102', rang: ['103'] }, pickup: { internal: true } },
    entries: [{ caller: caller(12), did: DIRECT_103, missed: [] }],
  },
  {
    id: 'S13', title: 'direct to 101, answers after 3 s, blind-transfers (##103) to 103, who answers after 3 s',
    async run(c) { mode('101', 'bx:3:103'); mode('103', 'ans:3:6'); await c.inbound('call', caller(13), DIRECT_101, 40); },
    calls: { call: { missed: false, answered_by: '101', rang: ['101', '103'] } },
    entries: [{ caller: caller(13), did: DIRECT_101, missed: [] }],
  },
  {
    id: 'S14', title: 'direct to 101, answers after 3 s, attended transfer (*2102) to 102, who answers after 2 s; 101 completes it',
    async run(c) { mode('101', 'ax:3:102'); mode('102', 'ans:2:20'); await c.inbound('call', caller(14), DIRECT_101, 45); },
    calls: { call: { missed: false, answered_by: '101', rang: ['101', '102'] } },
    entries: [{ caller: caller(14), did: DIRECT_101, missed: [] }],
  },
  {
    id: 'S15', title: 'an insistent caller: queue 400 three times, nobody answers, gives up after 10 s each time',
    async run(c) {
      for (const role of ['first', 'second', 'third']) await c.inbound(role, caller(15), QUEUE, 10);
    },
    calls: { first: { missed: true, rang: ['101', '102'] }, second: { missed: true, rang: ['101', '102'] }, third: { missed: true, rang: ['101', '102'] } },
    entries: [{ caller: caller(15), did: QUEUE, missed: ['first', 'second', 'third'], cleared_by: null }],
  },
  {
    id: 'S16', title: 'a queue miss, then 102 calls the caller back and the caller answers (returned)',
    async run(c) {
      await c.inbound('miss', caller(16), QUEUE, 10);
      mode(caller(16), 'ans:3:5');
      await c.fromPhone('callback', '102', caller(16), 20, 5);
    },
    calls: { miss: { missed: true, rang: ['101', '102'] }, callback: { outbound: true, callback_answered: true } },
    entries: [{ caller: caller(16), did: QUEUE, missed: ['miss'], cleared_by: 'returned', cleared_ext: '102', clearing: 'callback' }],
  },
  {
    id: 'S17', title: 'a queue miss, then 101 calls the caller back; nobody answers, 101 gives up after 12 s (callback_attempted)',
    async run(c) {
      await c.inbound('miss', caller(17), QUEUE, 10);
      await c.fromPhone('callback', '101', caller(17), 12, 5);
    },
    calls: { miss: { missed: true, rang: ['101', '102'] }, callback: { outbound: true, callback_answered: false } },
    entries: [{ caller: caller(17), did: QUEUE, missed: ['miss'], cleared_by: null }],
  },
  {
    id: 'S18', title: 'a ring-group miss, then the same caller calls again and 101 answers (answered_later)',
    async run(c) {
      await c.inbound('miss', caller(18), GROUP, 10);
      mode('101', 'ans:3:5');
      await c.inbound('again', caller(18), GROUP, 30);
    },
    calls: { miss: { missed: true, rang: ['101', '102', '103'] }, again: { missed: false, answered_by: '101', rang: ['101', '102', '103'] } },
    entries: [{ caller: caller(18), did: GROUP, missed: ['miss'], cleared_by: 'answered_later', clearing: 'again' }],
  },
  {
    id: 'S19', title: 'direct to 106 on DND with no voicemail: FreePBX refuses at once, no phone rings; the caller hangs up after 8 s',
    async run(c) {
      pbx('database put DND 106 YES');
      try { await c.inbound('call', caller(19), DND_106, 8); } finally { pbx('database del DND 106'); }
    },
    // Missed by the team, yet FreePBX writes no CDR row (unanswered=no, no Dial): only CEL sees it.
    calls: { call: { missed: true, rang: [], cdr_invisible: true } },
    entries: [{ caller: caller(19), did: DND_106, missed: ['call'], cleared_by: null, cdr_invisible: true }],
  },
];

// The internal set (S20+): calls FreePBX's own applications make, which must never count as
// inbound, and four inbound calls around them for the dashboard's figures. Hand count of the
// inbound calls: S23 (answered by 101, then parked and retrieved), S25 (missed), S26 (abandoned
// in the IVR), S27 (an outside caller paging the office; the paged phones answered) = 4 inbound,
// 1 missed, 1 abandoned.
const PAGE_GROUP = '700', PAGE_DID = '5551009', CONFERENCE = '800', PARK = '70', FIRST_SLOT = '71';
const internalScenarios = [
  {
    id: 'S20', title: 'phone 103 pages group 700 (101, 102 answer as auto-answer phones) and speaks 8 s',
    async run(c) { mode('101', 'ans:0:20'); mode('102', 'ans:0:20'); await c.fromPhone('page', '103', PAGE_GROUP, 10, 8); },
    calls: { page: { internal: true } },
    entries: [],
  },
  {
    id: 'S21', title: 'phone 105 intercoms 101 (*80101); 101 answers after 1 s, talks 5 s',
    async run(c) { mode('101', 'ans:1:5'); await c.fromPhone('intercom', '105', '*80101', 10, 8); },
    calls: { intercom: { internal: true } },
    entries: [],
  },
  {
    id: 'S22', title: 'phone 106 joins conference room 800, 102 joins 3 s later; both stay ~8 s',
    async run(c) {
      c.fromPhone('first', '106', CONFERENCE, 10, 10, { wait: false });
      await sleep(3);
      await c.fromPhone('second', '102', CONFERENCE, 10, 8);
    },
    calls: { first: { internal: true }, second: { internal: true } },
    entries: [],
  },
  {
    id: 'S23', title: 'outside call to 101, who answers after 3 s and parks it (##70); after 9 s phone 102 retrieves slot 71 and talks 5 s',
    async run(c) {
      mode('101', `bx:3:${PARK}`);
      await c.inbound('call', caller(23), DIRECT_101, 45, {}, async () => { await sleep(12); await c.fromPhone('retrieve', '102', FIRST_SLOT, 10, 5, { wait: false }); });
    },
    calls: { call: { missed: false, answered_by: '101', rang: ['101'] }, retrieve: { internal: true } },
    entries: [{ caller: caller(23), did: DIRECT_101, missed: [] }],
  },
  {
    id: 'S24', title: 'phone 104 dials *97 (its voicemail) and hangs up after 6 s at the password prompt',
    async run(c) { await c.fromPhone('featurecode', '104', '*97', 10, 6); },
    calls: { featurecode: { internal: true } },
    entries: [],
  },
  {
    id: 'S25', title: 'outside call to queue 400, both agents ring, nobody answers, the caller gives up after 10 s',
    async run(c) { await c.inbound('call', caller(25), QUEUE, 10); },
    calls: { call: { missed: true, rang: ['101', '102'] } },
    entries: [{ caller: caller(25), did: QUEUE, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S26', title: 'outside call to the IVR, the caller hangs up after 3 s without choosing',
    async run(c) { await c.inbound('call', caller(26), IVR, 3); },
    calls: { call: { missed: false, abandoned: true, rang: [] } },
    entries: [{ caller: caller(26), did: IVR, missed: [] }],
  },
  {
    id: 'S27', title: 'outside call to DID 5551009 -> page group 700; 101 and 102 answer as auto-answer phones; the caller speaks 10 s',
    async run(c) { mode('101', 'ans:0:20'); mode('102', 'ans:0:20'); await c.inbound('call', caller(27), PAGE_DID, 10); },
    // The paged phones' channels answered (auto-answer, both within the same second): answered, like any extension that answers.
    calls: { call: { missed: false, rang: ['101', '102'] } },
    entries: [{ caller: caller(27), did: PAGE_DID, missed: [] }],
  },
];

// The failover set (S28+; S20-S27 are the internal set's). Each call says what the test made
// happen; export-fixture.mjs checks it against CEL. A second caller in one scenario (call
// waiting) is 06123460NN.
const secondCaller = (n) => `06123460${String(n).padStart(2, '0')}`;
const OVERFLOW_QUEUE = '5551010', SUPPORT_QUEUE = '5551011', BACKOFFICE = '5551012', FOLLOWME_107 = '5551013';
const LOOP_QUEUE = '5551014', NIGHT_QUEUE = '5551015', DIRECT_106 = DND_106;
const SUPPORT_MEMBER = 'Local/101@from-queue/n';

/** Runs `body` with an AstDB key set on the PBX (DND, call waiting), putting the old value back after. */
async function withPbxKey(family, key, value, body) {
  const before = /Value: (.*)/.exec(pbx(`database get ${family} ${key}`))?.[1]?.trim() ?? null;
  pbx(value === null ? `database del ${family} ${key}` : `database put ${family} ${key} ${value}`);
  try { await body(); } finally { pbx(before === null ? `database del ${family} ${key}` : `database put ${family} ${key} ${before}`); }
}

const failoverScenarios = [
  {
    id: 'S28', title: 'direct to 104 (voicemail) on DND: no phone rings, voicemail 104 answers at once, the caller leaves a message',
    async run(c) { await withPbxKey('DND', '104', 'YES', () => c.inbound('call', caller(28), DIRECT_104, 15, { audio: true })); },
    calls: { call: { missed: true, rang: [], voicemail: '104' } },
    entries: [{ caller: caller(28), did: DIRECT_104, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S29', title: 'direct to 106 (no voicemail) on DND: refused at once, no phone rings; the caller hangs up after 8 s',
    async run(c) { await withPbxKey('DND', '106', 'YES', () => c.inbound('call', caller(29), DIRECT_106, 8)); },
    calls: { call: { missed: true, rang: [], cdr_invisible: true } },
    entries: [{ caller: caller(29), did: DIRECT_106, missed: ['call'], cleared_by: null, cdr_invisible: true }],
  },
  {
    id: 'S30', title: 'direct to 104 (voicemail), the phone answers 486 Busy: busy voicemail 104, the caller leaves a message',
    async run(c) { mode('104', 'busy'); await c.inbound('call', caller(30), DIRECT_104, 15, { audio: true }); },
    calls: { call: { missed: true, rang: ['104'], voicemail: '104' } },
    entries: [{ caller: caller(30), did: DIRECT_104, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S31', title: 'direct to 106 (no voicemail), the phone answers 486 Busy; the caller hangs up after 8 s',
    async run(c) { mode('106', 'busy'); await c.inbound('call', caller(31), DIRECT_106, 8); },
    calls: { call: { missed: true, rang: ['106'] } },
    entries: [{ caller: caller(31), did: DIRECT_106, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S32', title: 'queue 401 has no members (joinempty=no): the caller never joins, failover ring group 601 (102, 103) rings 12 s, then voicemail 104, message',
    async run(c) { await c.inbound('call', caller(32), OVERFLOW_QUEUE, 32, { audio: true }); },
    calls: { call: { missed: true, rang: ['102', '103'], voicemail: '104' } },
    entries: [{ caller: caller(32), did: OVERFLOW_QUEUE, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S33', title: 'queue 401 empty (joinempty=no) -> ring group 601; 103 answers after 4 s and talks 5 s',
    async run(c) { mode('103', 'ans:4:5'); await c.inbound('call', caller(33), OVERFLOW_QUEUE, 30); },
    calls: { call: { missed: false, answered_by: '103', rang: ['102', '103'] } },
    entries: [{ caller: caller(33), did: OVERFLOW_QUEUE, missed: [] }],
  },
  {
    id: 'S34', title: 'queue 402: 101 rings (6 s rounds), nobody answers; maxwait 20 s -> ring group 601 rings 12 s -> voicemail 104, message',
    async run(c) { await c.inbound('call', caller(34), SUPPORT_QUEUE, 48, { audio: true }); },
    calls: { call: { missed: true, rang: ['101', '102', '103'], voicemail: '104' } },
    entries: [{ caller: caller(34), did: SUPPORT_QUEUE, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S35', title: 'queue 402: 101 rings; after 2 s 101 is paused (the only member): leavewhenempty sends the caller to ring group 601, 102 answers after 3 s',
    async run(c) {
      mode('102', 'ans:3:5');
      try {
        await c.inbound('call', caller(35), SUPPORT_QUEUE, 40, {}, async () => { await sleep(2); pbx(`queue pause member ${SUPPORT_MEMBER} queue 402`); });
      } finally { pbx(`queue unpause member ${SUPPORT_MEMBER} queue 402`); }
    },
    calls: { call: { missed: false, answered_by: '102', rang: ['101', '102', '103'] } },
    entries: [{ caller: caller(35), did: SUPPORT_QUEUE, missed: [] }],
  },
  {
    id: 'S36', title: 'direct to 107 with follow-me (107 alone 5 s, then 107 + 0740999777), nobody answers; failover voicemail 104, the caller leaves a message',
    async run(c) { await c.inbound('call', caller(36), FOLLOWME_107, 55, { audio: true }); },
    calls: { call: { missed: true, rang: ['107'], voicemail: '104' } },
    entries: [{ caller: caller(36), did: FOLLOWME_107, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S37', title: 'ring group 601 (102, 103) rings 12 s, nobody answers; failover voicemail 104, message',
    async run(c) { await c.inbound('call', caller(37), BACKOFFICE, 28, { audio: true }); },
    calls: { call: { missed: true, rang: ['102', '103'], voicemail: '104' } },
    entries: [{ caller: caller(37), did: BACKOFFICE, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S38', title: 'direct to 101, answers after 3 s, blind-transfers (##*104) to voicemail 104; the caller leaves a message',
    async run(c) { mode('101', 'bx:3:*104'); await c.inbound('call', caller(38), DIRECT_101, 32, { audio: true }); },
    // 101 talked to the caller: answered, whatever came after the transfer.
    calls: { call: { missed: false, answered_by: '101', rang: ['101'], voicemail: '104' } },
    entries: [{ caller: caller(38), did: DIRECT_101, missed: [] }],
  },
  {
    id: 'S39', title: 'call waiting on: 101 answers a first caller and talks 25 s; 6 s in, a second caller rings 101 (call waiting), nobody picks up, gives up after 12 s',
    async run(c) {
      mode('101', 'ans1:2:25');
      await c.inbound('first', caller(39), DIRECT_101, 40, {}, async () => { await sleep(6); await c.inbound('second', secondCaller(39), DIRECT_101, 12, { wait: false }); });
    },
    calls: { first: { missed: false, answered_by: '101', rang: ['101'] }, second: { missed: true, rang: ['101'] } },
    entries: [{ caller: caller(39), did: DIRECT_101, missed: [] }, { caller: secondCaller(39), did: DIRECT_101, missed: ['second'], cleared_by: null }],
  },
  {
    id: 'S40', title: 'call waiting off: 101 answers a first caller and talks 20 s; 6 s in, a second caller is refused busy (101 has no voicemail), hangs up after 8 s',
    async run(c) {
      mode('101', 'ans1:2:20');
      await withPbxKey('CW', '101', null, () =>
        c.inbound('first', caller(40), DIRECT_101, 35, {}, async () => { await sleep(6); await c.inbound('second', secondCaller(40), DIRECT_101, 8, { wait: false }); }));
    },
    calls: { first: { missed: false, answered_by: '101', rang: ['101'] }, second: { missed: true, rang: [], cdr_invisible: true } },
    entries: [{ caller: caller(40), did: DIRECT_101, missed: [] }, { caller: secondCaller(40), did: DIRECT_101, missed: ['second'], cleared_by: null, cdr_invisible: true }],
  },
  {
    id: 'S41', title: 'a caller comes back into queue 402: gives up after 6 s (101 rang), calls again and gives up after 28 s in the failover ring group',
    async run(c) {
      await c.inbound('first', caller(41), SUPPORT_QUEUE, 6);
      await c.inbound('again', caller(41), SUPPORT_QUEUE, 28);
    },
    calls: { first: { missed: true, rang: ['101'] }, again: { missed: true, rang: ['101', '102', '103'] } },
    entries: [{ caller: caller(41), did: SUPPORT_QUEUE, missed: ['first', 'again'], cleared_by: null }],
  },
  {
    id: 'S42', title: 'queue 401 empty -> ring group 601, the caller gives up after 8 s; calls again and 103 answers after 3 s (answered_later)',
    async run(c) {
      await c.inbound('miss', caller(42), OVERFLOW_QUEUE, 8);
      mode('103', 'ans:3:5');
      await c.inbound('again', caller(42), OVERFLOW_QUEUE, 30);
    },
    calls: { miss: { missed: true, rang: ['102', '103'] }, again: { missed: false, answered_by: '103', rang: ['102', '103'] } },
    entries: [{ caller: caller(42), did: OVERFLOW_QUEUE, missed: ['miss'], cleared_by: 'answered_later', clearing: 'again' }],
  },
  {
    id: 'S43', title: 'queue 403 fails over to itself: 101 rings, maxwait 8 s, the caller re-enters the queue twice more and gives up after 25 s',
    async run(c) { await c.inbound('call', caller(43), LOOP_QUEUE, 25); },
    calls: { call: { missed: true, rang: ['101'] } },
    entries: [{ caller: caller(43), did: LOOP_QUEUE, missed: ['call'], cleared_by: null }],
  },
  {
    id: 'S44', title: 'queue 404: 102 rings, nobody answers; maxwait 10 s -> failover hang up',
    async run(c) { await c.inbound('call', caller(44), NIGHT_QUEUE, 25); },
    calls: { call: { missed: true, rang: ['102'] } },
    entries: [{ caller: caller(44), did: NIGHT_QUEUE, missed: ['call'], cleared_by: null }],
  },
];

// ---------------------------------------------------------------------------------------------

/** Ring groups and follow-me run dialparties.agi on core's FastAGI server (pm2 app core-fastagi); without it they go straight to their failover. */
function fastAgiListening() {
  return new Promise((resolve) => {
    const socket = connect(4573, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

async function main() {
  if (!(await fastAgiListening())) {
    throw new Error("core's FastAGI server is not listening on 127.0.0.1:4573 (ring groups and follow-me would fail over at once); start it: " +
      `php -r '$bootstrap_settings["freepbx_auth"]=false; include "/etc/freepbx.conf"; FreePBX::Core()->startFreepbx(null, true, false);'`);
  }
  const only = args.only ? new Set(args.only.split(',')) : null;
  const sets = { internal: internalScenarios, failovers: failoverScenarios };
  if (args.set && !sets[args.set]) throw new Error(`--set ${args.set}: one of ${Object.keys(sets).join(', ')}`);
  const chosen = args.set ? sets[args.set] : scenarios;
  const started = now();
  for (const run of [pbx, world]) if (activeChannels(run) !== 0) throw new Error('a call is still up: wait for it to end first');
  sql('SELECT 1');
  // MariaDB's general log keeps the moment each CDR row was INSERTed (export-fixture.mjs reads it).
  execFileSync('mysql', ['-e', "SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 'ON'"]);
  const results = [];
  for (const scenario of chosen.filter((s) => !only || only.has(s.id))) {
    log(`${scenario.id} ${scenario.title}`);
    resetWorld();
    const placed = [];
    const scenarioStart = now();
    const context = {
      async inbound(role, from, did, giveUp, options = {}, meanwhile = null) {
        const at = now();
        inbound(from, did, giveUp, options);
        placed.push({ role, kind: 'inbound', caller: from, did, placed_at: at, give_up_s: giveUp, dtmf: options.dtmf ?? null, audio: !!options.audio });
        if (meanwhile) await meanwhile();
        if (options.wait !== false) await waitIdle();
      },
      async fromPhone(role, ext, number, ring, talk, { wait = !role.startsWith('pickup') } = {}) {
        const at = now();
        fromPhone(ext, number, ring, talk);
        placed.push({ role, kind: 'from_phone', ext, number, placed_at: at, ring_s: ring, talk_s: talk });
        if (wait) await waitIdle();
      },
    };
    await scenario.run(context);
    for (const call of placed) {
      call.linkedid = call.kind === 'inbound' ? findLinkedid({ caller: call.caller }, call.placed_at) : findLinkedid({ ext: call.ext, number: call.number }, call.placed_at);
      call.hung_up_at = call.linkedid ? linkedidEnd(call.linkedid) : null;
      call.expect = scenario.calls[call.role] ?? {};
      log(`  ${call.role}: linkedid ${call.linkedid ?? '(none)'}, ended ${call.hung_up_at ?? '?'}`);
      if (!call.linkedid) throw new Error(`${scenario.id} ${call.role}: no CEL CHAN_START found — is CEL on and the world up?`);
    }
    if (chosen === internalScenarios) {
      const known = new Set(placed.map((call) => call.linkedid));
      linkedidsBetween(scenarioStart, now(), known).forEach((linkedid, i) => {
        placed.push({ role: `companion${i + 1}`, kind: 'companion', linkedid, hung_up_at: linkedidEnd(linkedid), expect: { internal: true } });
        log(`  companion${i + 1}: linkedid ${linkedid}`);
      });
    }
    results.push({ id: scenario.id, title: scenario.title, calls: placed, entries: scenario.entries });
  }
  resetWorld();
  const plan = {
    started_at: new Date(started * 1000).toISOString(),
    finished_at: new Date().toISOString(),
    took_s: Math.round(now() - started),
    asterisk: pbx('core show version').trim().split(' ').slice(0, 2).join(' '),
    scenarios: results,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(plan, null, 1) + '\n');
  log(`plan written to ${OUT} (${plan.took_s} s)`);
}

await main();
