import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { explainRows } from '../src/cli/explain.js';
import type { Verdict } from '../src/detect/verdict.js';
import { readTsv } from '../src/cdr/tsv.js';
import { fixturesDir, fixtureText, repoRoot } from './harness/db.js';
import { checkCalls, checkEntries } from './helpers/lab-labels.js';

// The judge: CDR rows a real Asterisk wrote for a FreePBX-like dialplan, and what really
// happened on the phones. Every labelled call and every expected entry must agree.

test('every labelled call of the Asterisk lab gets the right verdict', () => {
  const result = explainRows(readTsv(fixtureText('cdr.tsv')));
  assert.equal(result.badRows, 0);
  checkCalls(new Map(result.calls.map((v) => [v.linkedid, v])));
});

test('replaying the lab through the ledger gives exactly the expected missed-call list', () => {
  const { entries } = explainRows(readTsv(fixtureText('cdr.tsv')));
  checkEntries(entries);
});

test('`smc explain --entries --json` on the lab files prints the same list (same code path as the service)', () => {
  const out = execFileSync(process.execPath, [
    join(repoRoot(), 'build', 'smc.js'), 'explain', '--cdr-file', join(fixturesDir(), 'public', 'cdr.tsv'),
    '--cel-file', join(fixturesDir(), 'public', 'cel.tsv'), '--entries', '--json',
  ], { encoding: 'utf8' });
  const entries = out.trim().split('\n').map((line) => JSON.parse(line));
  checkEntries(entries);
  const calls = execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), 'explain', '--cdr-file', join(fixturesDir(), 'public', 'cdr.tsv'), '--json'], { encoding: 'utf8' })
    .trim().split('\n').map((line) => JSON.parse(line));
  checkCalls(new Map(calls.map((v: Verdict) => [v.linkedid, v])));
});

test('a queue call that rang five phones and nobody answered explains itself', () => {
  const { calls } = explainRows(readTsv(fixtureText('cdr.tsv')));
  const b = calls.find((c) => c.linkedid === '1795673653.16')!;
  assert.equal(b.verdict, 'missed');
  assert.equal(b.route.kind, 'queue');
  assert.deepEqual(b.reasons, ['extension_rang_no_answer']);
  assert.match(b.explanation.join(' '), /Rang 101, 102, 103, 104, 105 for up to 15 s without an answer/);
  const c = calls.find((x) => x.linkedid === '1795673655.32')!;
  assert.ok(c.reasons.includes('voicemail'));
  assert.equal(c.voicemail?.box, '102');
});
