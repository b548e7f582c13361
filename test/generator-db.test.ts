import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { freshDatabases, type FreshDatabases } from './harness/db.js';
import { ident } from '../src/db/pool.js';
import { naiveSeconds, toCdrRow } from '../src/cdr/row.js';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { writeVolume } from '../src/cdr/generator/volume.js';
import { insertScenarioNow, startLiveTraffic } from '../src/cdr/generator/live.js';
import type { CallLabel } from '../src/cdr/generator/label.js';

describe('generator writing into MariaDB', () => {
  let db: FreshDatabases;
  let dir: string;
  /** Calls inserted one by one; live traffic must add no other unannounced call. */
  const oneOff: string[] = [];
  before(async () => {
    db = await freshDatabases('generator');
    dir = mkdtempSync(join(tmpdir(), 'smc-gen-'));
  });
  after(async () => {
    await db?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const cdr = () => `${ident(db.names.cdr)}.cdr`;
  const count = async (where = '1', params: unknown[] = []): Promise<number> => {
    const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${cdr()} WHERE ${where}`, params);
    return Number(rows[0]!.n);
  };

  test('volume mode writes every generated row and call, and a label per call', async () => {
    const labelsFile = join(dir, 'labels.jsonl');
    const summary = await writeVolume({
      pool: db.pool, cdrDb: db.names.cdr, model: demoPbx(), seed: 4, from: '2026-02-02', to: '2026-02-15',
      callsPerDay: 400, maxRows: 12_000, batchRows: 1000, labelsFile,
    });
    assert.ok(summary.rows >= 12_000 && summary.rows < 12_100, `${summary.rows} rows`);
    assert.equal(await count(), summary.rows);
    const [linked] = await db.pool.query<RowDataPacket[]>(`SELECT COUNT(DISTINCT linkedid) AS n FROM ${cdr()}`);
    assert.equal(Number(linked[0]!.n), summary.calls);
    const labels = readFileSync(labelsFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as CallLabel);
    assert.equal(labels.length, summary.calls);
    assert.equal(labels.filter((l) => l.missed).length, summary.missed);
    const scenarioCalls = Object.values(summary.scenarios).reduce((sum, s) => sum + s!.calls, 0);
    assert.equal(scenarioCalls, summary.calls);
    assert.ok(summary.missed > 0 && summary.missed < summary.inbound / 3);
    assert.ok(summary.rowsPerSecond > 0);
  });

  test('one scenario inserted now arrives in full, timed by the database clock', async () => {
    const [before] = await db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now");
    const call = await insertScenarioNow({
      pool: db.pool, cdrDb: db.names.cdr, scenario: 'queue_missed', input: { did: '0215550100', attempt: 1 }, seed: 3,
    });
    oneOff.push(call.label.linkedid);
    assert.equal(call.label.missed, true);
    assert.deepEqual(call.label.rang, ['101', '102', '103', '104', '105']);
    await call.inserted;
    const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT * FROM ${cdr()} WHERE linkedid = ? ORDER BY sequence`, [call.label.linkedid]);
    assert.equal(rows.length, call.rows.length);
    const stored = rows.map((r) => toCdrRow(r));
    const expected = [...call.rows].sort((a, b) => a.sequence - b.sequence).map(({ arrival: _arrival, outbound_cnam: _cnam, ...row }) => row);
    assert.deepEqual(stored, expected);
    const root = stored.find((r) => r.uniqueid === call.label.linkedid)!;
    const started = naiveSeconds(root.calldate);
    const [afterwards] = await db.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now");
    assert.ok(started >= naiveSeconds(String(before[0]!.now)) && started <= naiveSeconds(String(afterwards[0]!.now)));
    for (const row of stored) assert.ok(naiveSeconds(row.calldate) + row.duration <= naiveSeconds(String(afterwards[0]!.now)));
  });

  test('two calls inserted at once never share ids', async () => {
    const [a, b] = await Promise.all([
      insertScenarioNow({ pool: db.pool, cdrDb: db.names.cdr, scenario: 'ivr_abandon', seed: 1 }),
      insertScenarioNow({ pool: db.pool, cdrDb: db.names.cdr, scenario: 'ivr_abandon', seed: 1 }),
    ]);
    oneOff.push(a!.label.linkedid, b!.label.linkedid);
    assert.notEqual(a!.label.linkedid, b!.label.linkedid);
    await Promise.all([a!.inserted, b!.inserted]);
    const [dupes] = await db.pool.query<RowDataPacket[]>(
      `SELECT uniqueid, sequence, COUNT(*) AS n FROM ${cdr()} GROUP BY uniqueid, sequence HAVING n > 1`,
    );
    assert.deepEqual(dupes, []);
  });

  test('live traffic inserts the rows of the calls it announces, and stops', async () => {
    const labels: CallLabel[] = [];
    const errors: unknown[] = [];
    const rowsBefore = await count();
    const live = startLiveTraffic({
      pool: db.pool, cdrDb: db.names.cdr, model: demoPbx(), seed: 21, callsPerMinute: 600,
      onCall: (label) => labels.push(label), onError: (err) => errors.push(err),
    });
    try {
      for (let i = 0; i < 300 && (await count()) - rowsBefore < 3; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await live.stop();
    }
    assert.deepEqual(errors, []);
    assert.ok(labels.length > 0);
    assert.ok((await count()) > rowsBefore, 'rows arrived');
    const [rows] = await db.pool.query<RowDataPacket[]>(
      `SELECT DISTINCT linkedid FROM ${cdr()} WHERE calldate >= NOW() - INTERVAL 1 HOUR AND linkedid NOT IN (?)`,
      [[...labels.map((l) => l.linkedid), ...oneOff]],
    );
    assert.deepEqual(rows, [], 'every live row belongs to an announced call');
  });
});
