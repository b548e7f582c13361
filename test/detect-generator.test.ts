import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { groupByCall } from '../src/cdr/reader.js';
import type { CdrRow } from '../src/cdr/row.js';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import type { CallLabel } from '../src/cdr/generator/label.js';
import { generateRange } from '../src/cdr/generator/traffic.js';
import { writeVolume } from '../src/cdr/generator/volume.js';
import { extensionTest } from '../src/detect/channels.js';
import { classifyCall } from '../src/detect/classify.js';
import type { Verdict } from '../src/detect/verdict.js';
import { backfill } from '../src/sync/backfill.js';
import { freshDatabases } from './harness/db.js';

const model = demoPbx();
const options = { isExtension: extensionTest('', model.extensions.map((e) => e.number)), queueAbandonMinWait: 10, countIvrAbandon: false };

function expected(label: CallLabel): Verdict['verdict'] {
  if (label.direction === 'internal') return 'internal';
  if (label.direction === 'outbound') return 'outbound';
  if (label.missed) return 'missed';
  return label.abandoned ? 'abandoned' : 'answered';
}

function agree(verdict: Pick<Verdict, 'verdict' | 'answeredBy'>, label: CallLabel): string | null {
  const want = expected(label);
  if (verdict.verdict !== want) return `${label.scenario} ${label.linkedid}: ${verdict.verdict}, expected ${want}`;
  if (want === 'answered' && label.answeredBy && verdict.answeredBy !== label.answeredBy) {
    return `${label.scenario} ${label.linkedid}: answered by ${verdict.answeredBy}, expected ${label.answeredBy}`;
  }
  return null;
}

test('a month of generated traffic: every call gets the verdict its label says (100 %)', () => {
  const labels = new Map<string, CallLabel>();
  const rows: CdrRow[] = [];
  for (const call of generateRange(model, { seed: 7, from: '2026-10-01', to: '2026-10-31', callsPerDay: 300 })) {
    for (const label of [call.label, ...call.extraLabels]) labels.set(label.linkedid, label);
    rows.push(...call.rows);
  }
  const calls = groupByCall(rows);
  assert.ok(calls.size > 5000, `${calls.size} calls`);
  const scenarios = new Set<string>();
  const wrong: string[] = [];
  for (const [linkedid, callRows] of calls) {
    const label = labels.get(linkedid);
    assert.ok(label, `rows of ${linkedid} have no label`);
    scenarios.add(label.scenario);
    const problem = agree(classifyCall(callRows, options), label);
    if (problem) wrong.push(problem);
  }
  assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} of ${calls.size} calls disagree`);
  assert.ok(scenarios.size >= 18, `scenarios seen: ${[...scenarios].join(', ')}`);
});

test('at volume through MariaDB: generated rows backfilled by the service agree with every label', async () => {
  const db = await freshDatabases('genvol');
  try {
    const labelsFile = join(mkdtempSync(join(tmpdir(), 'smc-labels-')), 'labels.jsonl');
    const summary = await writeVolume({
      pool: db.pool, cdrDb: db.names.cdr, model, seed: 11, from: '2026-09-01', to: '2026-09-08', callsPerDay: 1500, labelsFile,
    });
    const labels = readFileSync(labelsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CallLabel);
    assert.ok(summary.rows > 20_000, `${summary.rows} rows`);
    const done = await backfill(db.pool, db.config, { since: '2026-09-01', until: '2026-09-09' });
    assert.equal(done.calls, new Set(labels.map((l) => l.linkedid)).size, 'every call (incl. transfer consultations) classified once');
    const [stored] = await db.pool.query<RowDataPacket[]>('SELECT linkedid, verdict, answered_by FROM smart_missed_calls_calls');
    const verdicts = new Map(stored.map((r) => [String(r.linkedid), { verdict: r.verdict, answeredBy: r.answered_by }]));
    const wrong = labels.map((l) => (verdicts.has(l.linkedid) ? agree(verdicts.get(l.linkedid)!, l) : `${l.linkedid} not classified`)).filter(Boolean);
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} of ${labels.length} disagree`);
  } finally {
    await db.cleanup();
  }
});
