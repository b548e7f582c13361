import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { groupByCall } from '../src/cdr/reader.js';
import type { CdrRow } from '../src/cdr/row.js';
import { extensionTest } from '../src/detect/channels.js';
import { classifyCall } from '../src/detect/classify.js';
import { explainRows } from '../src/cli/explain.js';
import { loadFixtureCdr } from './harness/db.js';

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
      assert.ok(['missed', 'answered', 'abandoned', 'internal', 'outbound'].includes(v.verdict));
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
