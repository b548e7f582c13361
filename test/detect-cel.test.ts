import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { toCelEvent, type CelEvent } from '../src/cdr/cel-row.js';
import { toCdrRow } from '../src/cdr/row.js';
import { readTsv } from '../src/cdr/tsv.js';
import { explainRows } from '../src/cli/explain.js';
import { extensionTest } from '../src/detect/channels.js';
import { classifyCall } from '../src/detect/classify.js';
import { fixtureText, type LabSet } from './harness/db.js';

// CEL as a source of the classifier: the shapes CDR does not show, and what must hold for any input.

const options = { isExtension: extensionTest(''), queueAbandonMinWait: 10, countIvrAbandon: false };
const SETS: LabSet[] = ['asterisk-lab/public', 'freepbx17-lab', 'freepbx17-internal'];

/** One CEL event of a synthetic call; the fields a real one has, the rest empty. */
function event(id: number, eventtype: string, second: number, fields: Partial<CelEvent> = {}): CelEvent {
  return {
    id, eventtype, eventtime: `2026-12-02 10:00:${String(second).padStart(2, '0')}`, cid_name: '', cid_num: '0722000555', cid_dnid: '',
    exten: '', context: '', channame: 'PJSIP/carrier-00000001', appname: '', appdata: '', uniqueid: '100.1', linkedid: '100.1', peer: '', extra: '', ...fields,
  };
}

test('a queue maxwait failover to "hang up": the caller\'s row names app-blackhole, CEL shows the queue and the wait, and the call is a queue miss', () => {
  // No agent was logged in (joinempty=yes), so no phone rang; maxwait 20 s sent the caller to the failover.
  const cdr = [toCdrRow({
    calldate: '2026-12-02 10:00:00', clid: '"" <0722000555>', src: '0722000555', dst: 'hangup', dcontext: 'app-blackhole',
    channel: 'PJSIP/carrier-00000001', dstchannel: '', lastapp: 'Hangup', lastdata: '', duration: 21, billsec: 21,
    disposition: 'ANSWERED', uniqueid: '100.1', linkedid: '100.1', sequence: 1, did: '5551000', cnum: '0722000555',
  })];
  const cel = [
    event(1, 'CHAN_START', 0, { exten: '5551000', context: 'from-pstn' }),
    event(2, 'ANSWER', 0, { exten: '400', context: 'ext-queues', appname: 'Answer' }),
    event(3, 'APP_START', 0, { exten: '400', context: 'ext-queues', appname: 'Queue', appdata: '400,t,,,20,,,,,' }),
    event(4, 'APP_END', 20, { exten: '400', context: 'ext-queues', appname: 'Queue', appdata: '400,t,,,20,,,,,' }),
    event(5, 'HANGUP', 21, { exten: 'hangup', context: 'app-blackhole', extra: '{"hangupcause":16,"hangupsource":"dialplan/builtin","dialstatus":""}' }),
    event(6, 'CHAN_END', 21, { exten: 'hangup', context: 'app-blackhole' }),
    event(7, 'LINKEDID_END', 21, { exten: 'hangup', context: 'app-blackhole' }),
  ];
  const alone = classifyCall(cdr, options);
  assert.deepEqual([alone.verdict, alone.route.kind, alone.reasons], ['abandoned', 'route', ['hung_up_before_ringing']]);
  const both = classifyCall(cdr, options, cel);
  assert.deepEqual(
    [both.verdict, both.route.kind, both.route.id, both.waitSeconds, both.reasons],
    ['missed', 'queue', '400', 20, ['route_from_cel', 'queue_abandon']],
  );
  assert.ok(both.explanation.includes('The CDR rows do not show Queue 400; the CEL events do.'));
});

test('from CEL alone: a refusal as busy is a miss, a caller hung up by the PBX otherwise is not, and an anonymous caller stays anonymous', () => {
  const refused = (cause: number, cid = '0722000555') => classifyCall([], options, [
    event(1, 'CHAN_START', 0, { exten: '5551006', context: 'from-pstn', cid_num: cid }),
    event(2, 'HANGUP', 0, { exten: 's-BUSY', context: 'macro-exten-vm', cid_num: cid, extra: `{"hangupcause":${cause},"hangupsource":"PJSIP/carrier-00000001","dialstatus":""}` }),
    event(3, 'CHAN_END', 0, { cid_num: cid }),
    event(4, 'LINKEDID_END', 0, { cid_num: cid }),
  ]);
  assert.deepEqual([refused(17).verdict, refused(17).reasons], ['missed', ['cel_only', 'refused_busy']]);
  assert.deepEqual([refused(16).verdict, refused(16).reasons], ['abandoned', ['cel_only', 'hung_up_before_ringing']]);
  const anonymous = refused(17, 'anonymous');
  assert.deepEqual([anonymous.verdict, anonymous.anonymous], ['missed', true]);
});

test('CEL only fills gaps: on the asterisk lab (CDR for every call) adding its CEL changes no verdict, and every set classifies from CEL without throwing', () => {
  const cdr = readTsv(fixtureText('cdr.tsv'));
  const cel = readTsv(fixtureText('cel.tsv'));
  const strip = (calls: ReturnType<typeof explainRows>['calls']) => calls.map((v) => [v.linkedid, v.verdict, v.answeredBy, v.rang, v.reasons]);
  const withCel = explainRows(cdr, { cel }).calls;
  assert.deepEqual(strip(withCel.filter((v) => v.rowCount > 0)), strip(explainRows(cdr).calls));
  for (const set of SETS) assert.ok(explainRows([], { cel: readTsv(fixtureText('cel.tsv', set)) }).calls.length > 0, set);
});

const labCelCalls = SETS.flatMap((set) => {
  const events = readTsv(fixtureText('cel.tsv', set)).map(toCelEvent).filter((e): e is CelEvent => e !== null);
  const calls = new Map<string, CelEvent[]>();
  for (const e of events) calls.set(e.linkedid, [...(calls.get(e.linkedid) ?? []), e]);
  return [...calls.values()];
});

test('CEL event order never changes a verdict (every lab call, random permutations)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: labCelCalls.length - 1 }), fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), (i, noise) => {
      const events = labCelCalls[i]!;
      const shuffled = events.map((e) => ({ e, k: noise.next().value })).sort((a, b) => a.k - b.k).map((x) => x.e);
      assert.deepEqual(classifyCall([], options, shuffled), classifyCall([], options, events));
    }),
    { numRuns: 200 },
  );
});

const text = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('', 'PJSIP/101-0000001a', 'Local/102@from-queue-00000001;2', 'PJSIP/carrier-00000003', 'from-pstn', 'ext-queues', 'ivr-1', '{"hangupcause":17}', '{bad json', '400,t,,,20'));
const celEvent: fc.Arbitrary<CelEvent> = fc.record({
  id: fc.integer({ min: 0, max: 50 }),
  eventtype: fc.constantFrom('CHAN_START', 'ANSWER', 'HANGUP', 'CHAN_END', 'APP_START', 'APP_END', 'BRIDGE_ENTER', 'PICKUP', 'LINKEDID_END'),
  eventtime: fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 19).replace('T', ' ')),
  cid_name: text, cid_num: text, cid_dnid: text, exten: text, context: text, channame: text, appname: fc.oneof(text, fc.constantFrom('Queue', 'VoiceMail')),
  appdata: text, uniqueid: fc.constantFrom('1.1', '1.2', '1.3'), linkedid: fc.constant('1.1'), peer: text, extra: text,
});

test('the classifier never throws on odd CEL events, alone or beside CDR rows, and always explains itself', () => {
  fc.assert(
    fc.property(fc.array(celEvent, { maxLength: 12 }), (events) => {
      const v = classifyCall([], options, events);
      assert.ok(v.explanation.length > 0);
      if (v.reasons.includes('cel_only')) assert.equal(v.rowCount, 0);
    }),
    { numRuns: 300 },
  );
});
