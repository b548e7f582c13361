import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { groupByCall } from '../src/cdr/reader.js';
import { toCdrRow, type CdrRow } from '../src/cdr/row.js';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { generateRange } from '../src/cdr/generator/traffic.js';
import { readTsv } from '../src/cdr/tsv.js';
import { extensionTest } from '../src/detect/channels.js';
import { classifyCall } from '../src/detect/classify.js';
import { explainRows } from '../src/cli/explain.js';
import { fixtureText, loadFixtureCdr, type LabSet } from './harness/db.js';

const options = { isExtension: extensionTest(''), queueAbandonMinWait: 10, countIvrAbandon: false };
const labCalls = [...groupByCall(loadFixtureCdr()).values()];

test('row order never changes a verdict (every lab call, random permutations)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: labCalls.length - 1 }), fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), (i, noise) => {
      const rows = labCalls[i]!;
      const shuffled = rows.map((r) => ({ r, k: noise.next().value })).sort((a, b) => a.k - b.k).map((x) => x.r);
      assert.deepEqual(classifyCall(shuffled, options), classifyCall(rows, options));
    }),
    { numRuns: 300 },
  );
});

test('a NO ANSWER leg added to an answered call never makes it missed', () => {
  const answered = labCalls.filter((rows) => classifyCall(rows, options).verdict === 'answered');
  assert.ok(answered.length >= 6);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: answered.length - 1 }),
      fc.integer({ min: 100, max: 199 }),
      fc.constantFrom('NO ANSWER', 'BUSY', 'FAILED'),
      fc.integer({ min: 0, max: 120 }),
      (i, ext, disposition, duration) => {
        const rows = answered[i]!;
        const root = rows.find((r) => r.uniqueid === r.linkedid) ?? rows[0]!;
        const extra: CdrRow = {
          ...root,
          dstchannel: `PJSIP/${ext}-0000ffff`,
          lastapp: 'Dial',
          lastdata: `PJSIP/${ext}/sip:${ext}@127.0.0.1,15`,
          disposition,
          duration,
          billsec: 0,
          sequence: root.sequence + 999,
        };
        assert.equal(classifyCall([...rows, extra], options).verdict, 'answered');
      },
    ),
    { numRuns: 300 },
  );
});

const text = fc.oneof(fc.string({ maxLength: 90 }), fc.constantFrom('', 'NULL', 'anonymous', 'PJSIP/101-0000001a', 'Local/102@from-queue-00000001;2', 'PJSIP/trunk-00000003', '<script>', "1' OR '1'='1", 'Ștefan Ionuț 📞'));
const row: fc.Arbitrary<CdrRow> = fc.record({
  calldate: fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 19).replace('T', ' ')),
  clid: text, src: text, dst: text, dcontext: fc.oneof(text, fc.constantFrom('ext-queues', 'ext-group', 'ivr-1', 'from-did-direct', 'ext-local')),
  channel: text, dstchannel: text, lastapp: fc.oneof(text, fc.constantFrom('Dial', 'Queue', 'VoiceMail', 'missed_calls', 'WaitExten', 'Pickup')),
  lastdata: text, duration: fc.integer({ min: 0, max: 100_000 }), billsec: fc.integer({ min: 0, max: 100_000 }),
  disposition: fc.constantFrom('ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION', '', 'weird'),
  uniqueid: fc.constantFrom('1.1', '1.2', '1.3', ''), linkedid: fc.constantFrom('1.1', '1.2', ''),
  sequence: fc.integer({ min: 0, max: 1000 }), did: text, cnum: text, cnam: text, outbound_cnum: text,
});

test('the classifier never throws on odd rows and always returns a verdict with an explanation', () => {
  fc.assert(
    fc.property(fc.array(row, { minLength: 0, maxLength: 12 }), (rows) => {
      const v = classifyCall(rows, options);
      assert.ok(['missed', 'answered', 'abandoned', 'internal', 'outbound', 'other'].includes(v.verdict));
      assert.ok(v.explanation.length > 0);
    }),
    { numRuns: 1000 },
  );
});

test('the missed-call list does not depend on the order the CDR rows were exported in', () => {
  const all = labCalls.flat();
  const reference = explainRows(all as unknown as Record<string, unknown>[]).entries;
  fc.assert(
    fc.property(fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), (noise) => {
      const shuffled = all.map((r) => ({ r, k: noise.next().value })).sort((a, b) => a.k - b.k).map((x) => x.r);
      assert.deepEqual(explainRows(shuffled as unknown as Record<string, unknown>[]).entries, reference);
    }),
    { numRuns: 50 },
  );
});

/** `external:` and a number (digits, +, *, #) or nothing: never a dialplan name like `s` or `PAGE101`. */
const EXTERNAL_ANSWER = /^external:(\+?[\d*#]*\d[\d*#]*)?$/;
const assertExternalIsNumber = (answeredBy: string | null, where: string) => {
  if (answeredBy?.startsWith('external:')) assert.match(answeredBy, EXTERNAL_ANSWER, where);
};

// Channels of FreePBX's own applications next to trunks and phones: what a page, an intercom
// call or a conference leaves in CDR (issue 24: `external:s` came from Local/s@app-page-stream).
const channel = fc.constantFrom(
  'Local/s@app-page-stream-00000001;1', 'Local/s@app-page-stream-00000001;2', 'Local/PAGE101@app-paging-00000002;1',
  'Local/PAGE101@app-paging-00000002;2', 'Local/0740999888@from-internal-00000003;1', 'Local/FMGL-0740999888#@from-internal-00000004;2',
  'PJSIP/carrier-00000005', 'PJSIP/101-00000006', 'PJSIP/102-00000007', '', 'CBAnn/700-00000008',
);
const appRow: fc.Arbitrary<CdrRow> = fc.record({
  calldate: fc.constantFrom('2026-12-02 21:00:00', '2026-12-02 21:00:03'),
  clid: fc.constant(''), src: fc.constantFrom('', '103', 's', '0612345001'), dst: fc.constantFrom('s', 'PAGE101', '700', '0740999888', '101'),
  dcontext: fc.constantFrom('app-page-stream', 'app-paging', 'from-internal', 'ext-local', 'from-pstn', 'ext-queues'),
  channel, dstchannel: channel, lastapp: fc.constantFrom('Dial', 'ConfBridge', 'Page', 'AppDial', 'Queue'),
  lastdata: fc.constantFrom('', 'Local/PAGE101@app-paging/n', 'PJSIP/0740999888@carrier', 'PJSIP/101/sip:101@127.0.0.2'),
  duration: fc.integer({ min: 0, max: 30 }), billsec: fc.integer({ min: 0, max: 30 }),
  disposition: fc.constantFrom('ANSWERED', 'NO ANSWER'),
  uniqueid: fc.constantFrom('9.1', '9.2', '9.3'), linkedid: fc.constant('9.1'),
  sequence: fc.integer({ min: 0, max: 20 }), did: fc.constantFrom('', '', '5551000'), cnum: fc.constantFrom('', '103'), cnam: fc.constant(''), outbound_cnum: fc.constant(''),
});

test('an external answer always names a number, never `s` or `PAGE101` (random application legs)', () => {
  fc.assert(
    fc.property(fc.array(appRow, { minLength: 1, maxLength: 8 }), (rows) => {
      assertExternalIsNumber(classifyCall(rows, options).answeredBy, JSON.stringify(rows));
    }),
    { numRuns: 2000 },
  );
});

test('an external answer always names a number: generated traffic and every real lab set', () => {
  const model = demoPbx();
  const generatedOptions = { ...options, isExtension: extensionTest('', model.extensions.map((e) => e.number)) };
  for (const call of generateRange(model, { seed: 11, from: '2026-10-01', to: '2026-10-07', callsPerDay: 300 })) {
    assertExternalIsNumber(classifyCall(call.rows, generatedOptions).answeredBy, call.label.linkedid);
  }
  const sets: LabSet[] = ['asterisk-lab/public', 'freepbx17-lab', 'freepbx17-internal'];
  for (const set of sets) {
    const rows = readTsv(fixtureText('cdr.tsv', set)).map((r) => toCdrRow(r));
    for (const [linkedid, call] of groupByCall(rows)) assertExternalIsNumber(classifyCall(call, options).answeredBy, `${set} ${linkedid}`);
  }
});
