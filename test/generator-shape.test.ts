import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CdrRow } from '../src/cdr/row.js';
import { AsteriskCounters } from '../src/cdr/generator/counters.js';
import { ANONYMOUS } from '../src/cdr/generator/numbers.js';
import { demoPbx, type PbxModel } from '../src/cdr/generator/pbx.js';
import { Rng } from '../src/cdr/generator/random.js';
import { SCENARIOS, type ScenarioInput } from '../src/cdr/generator/scenarios.js';
import type { ScenarioName } from '../src/cdr/generator/label.js';
import { loadFixtureCdr } from './harness/db.js';

/**
 * A row's shape with every id and number replaced by its kind: what must be the same
 * between a real Asterisk call and a generated one of the same scenario.
 */
function shape(row: CdrRow, model: PbxModel): string {
  return [
    row.lastapp,
    row.dcontext,
    row.disposition,
    channelPattern(row.channel, model),
    channelPattern(row.dstchannel, model),
    row.did ? 'did' : 'no-did',
    row.billsec > 0 ? 'billed' : 'unbilled',
    dstKind(row.dst, model),
  ].join(' | ');
}

function endpointKind(name: string, model: PbxModel): string {
  if (name === model.trunk) return '<trunk>';
  if (model.extensions.some((e) => e.number === name)) return '<ext>';
  return /^[+\d]+$/.test(name) ? '<number>' : name;
}

function channelPattern(channel: string, model: PbxModel): string {
  if (!channel) return '';
  const local = /^Local\/([^@]+)@([\w-]+?)-[0-9a-f]{8};([12])$/.exec(channel);
  if (local) return `Local/${endpointKind(local[1]!, model)}@${local[2]}-<n>;${local[3]}`;
  const device = /^(\w+)\/([\w+]+)-[0-9a-f]+$/.exec(channel);
  if (device) return `${device[1]}/${endpointKind(device[2]!, model)}-<n>`;
  return `unrecognised:${channel}`;
}

function dstKind(dst: string, model: PbxModel): string {
  if (model.queues.some((q) => q.number === dst)) return 'queue';
  if (model.ringGroups.some((g) => g.number === dst)) return 'ringgroup';
  if (model.extensions.some((e) => e.number === dst)) return 'extension';
  if (/^vm[ub]\d+$/.test(dst)) return 'vmu<ext>';
  if (/^FM\d+$/.test(dst)) return 'FM<ext>';
  if (dst === 's') return 's';
  return /^[+\d]+$/.test(dst) ? 'number' : `unrecognised:${dst}`;
}

function shapes(rows: CdrRow[], model: PbxModel): string[] {
  return [...rows].sort((a, b) => a.sequence - b.sequence).map((r) => shape(r, model)).sort();
}

interface Case {
  id: string;
  linkedid: string;
  scenario: ScenarioName;
  input: Partial<ScenarioInput>;
}

// The lab's scenarios (fixtures README) and the generator input that should reproduce each.
const CASES: Case[] = [
  { id: 'A', linkedid: '1795673651.0', scenario: 'queue_answered', input: { did: '0215550100', attempt: 1 } },
  { id: 'B', linkedid: '1795673653.16', scenario: 'queue_missed', input: { did: '0215550100', attempt: 1 } },
  { id: 'C', linkedid: '1795673655.32', scenario: 'queue_voicemail', input: { did: '0215550101' } },
  { id: 'D', linkedid: '1795673657.39', scenario: 'ringgroup_answered', input: { did: '0215550103' } },
  { id: 'E', linkedid: '1795673659.43', scenario: 'ringgroup_missed', input: { did: '0215550104', callerHangsUp: false } },
  { id: 'L', linkedid: '1795673703.237', scenario: 'ringgroup_missed', input: { did: '0215550103', callerHangsUp: false } },
  { id: 'F', linkedid: '1795673661.45', scenario: 'direct_voicemail', input: { did: '0215550102' } },
  { id: 'F2', linkedid: '1795673665.47', scenario: 'direct_answered', input: { did: '0215550102' } },
  { id: 'G', linkedid: '1795673667.49', scenario: 'ivr_queue_answered', input: { did: '0215550199', ivrOption: '1', attempt: 1 } },
  { id: 'G2', linkedid: '1795673669.51', scenario: 'ivr_abandon', input: { did: '0215550199' } },
  { id: 'H', linkedid: '1795673671.52', scenario: 'blind_transfer', input: { did: '0215550102', answered: false } },
  { id: 'J', linkedid: '1795673721.245', scenario: 'callback', input: { extension: '102', target: '0722000120', answered: true } },
  { id: 'J2', linkedid: '1795673727.267', scenario: 'callback', input: { extension: '102', target: '0722000123', answered: false } },
  { id: 'M', linkedid: '1795673689.183', scenario: 'queue_missed', input: { did: '0215550100', attempt: 1, caller: ANONYMOUS } },
  { id: 'N', linkedid: '1795673691.199', scenario: 'internal', input: { extension: '101', target: '102', answered: false, callerHangsUp: false } },
  { id: 'O', linkedid: '1795673693.201', scenario: 'direct_busy', input: { did: '0215550105' } },
  { id: 'P', linkedid: '1795673695.203', scenario: 'followme_external', input: { did: '0215550106' } },
  { id: 'Q', linkedid: '1795673697.205', scenario: 'queue_answered', input: { did: '0215550100', attempt: 1, talkSeconds: 60 } },
];

describe('generated calls have the row shapes of the real Asterisk lab calls', () => {
  const model = demoPbx();
  const fixture = loadFixtureCdr();
  const start = 1_795_673_651;

  for (const c of CASES) {
    test(`${c.id}: ${c.scenario}`, () => {
      const real = fixture.filter((r) => r.linkedid === c.linkedid);
      assert.ok(real.length > 0, `fixture has no rows for ${c.linkedid}`);
      // Several seeds: the shape must not depend on which member answers or how long anyone talks.
      for (const seed of [1, 2, 3, 42]) {
        const call = SCENARIOS[c.scenario]({ model, rng: new Rng(seed), start, ids: new AsteriskCounters({ uniqueid: 7 }), ...c.input });
        const own = call.rows.filter((r) => r.linkedid === call.label.linkedid);
        assert.deepEqual(shapes(own, model), shapes(real, model), `seed ${seed}`);
      }
    });
  }

  test('the comparison tells an answered queue call from a missed one', () => {
    const missed = SCENARIOS.queue_missed({ model, rng: new Rng(1), start, ids: new AsteriskCounters(), did: '0215550100', attempt: 1 });
    const answered = fixture.filter((r) => r.linkedid === '1795673651.0');
    assert.notDeepEqual(shapes(missed.rows, model), shapes(answered, model));
  });
});

describe('generated rows follow Asterisk id rules', () => {
  const model = demoPbx();
  for (const name of Object.keys(SCENARIOS) as ScenarioName[]) {
    test(name, () => {
      for (const seed of [5, 6, 7]) {
        const start = 1_800_000_000;
        const call = SCENARIOS[name]({ model, rng: new Rng(seed), start, ids: new AsteriskCounters({ uniqueid: 100, sequence: 50 }) });
        const rows = call.rows.filter((r) => r.linkedid === call.label.linkedid);
        assert.ok(rows.length > 0);
        assert.ok(rows.some((r) => r.uniqueid === call.label.linkedid), 'the root row (uniqueid = linkedid) is present');
        for (const row of call.rows) {
          assert.match(row.uniqueid, /^\d{10}\.\d+$/);
          assert.ok(row.billsec <= row.duration, `billsec ${row.billsec} > duration ${row.duration}`);
          assert.ok(row.arrival >= Date.parse(row.calldate.replace(' ', 'T') + 'Z') / 1000 + row.duration, 'inserted after its leg ended');
          assert.equal(row.did !== '', row.channel.startsWith(`PJSIP/${model.trunk}-`), `did only on trunk rows: ${row.channel}`);
          assert.ok(row.lastdata.length <= 80 && row.channel.length <= 80);
        }
        const sequences = call.rows.map((r) => r.sequence);
        assert.equal(new Set(sequences).size, sequences.length, 'sequence numbers are unique');
        const uniqueChannels = new Map<string, string>();
        for (const row of call.rows) {
          const seen = uniqueChannels.get(row.channel);
          assert.ok(seen === undefined || seen === row.uniqueid, `${row.channel} has one uniqueid`);
          uniqueChannels.set(row.channel, row.uniqueid);
        }
      }
    });
  }
});
