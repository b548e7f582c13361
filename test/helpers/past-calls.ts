/**
 * A generated call that already happened: the scenario starts `agoSeconds` before the
 * database's now and all its rows are inserted at once, as if the sync had been away
 * while Asterisk wrote them. Tests that need calls on the list quickly use it instead of
 * live traffic, which plays calls in real time.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { AsteriskCounters } from '../../src/cdr/generator/counters.js';
import { insertRows } from '../../src/cdr/generator/insert.js';
import type { ScenarioName } from '../../src/cdr/generator/label.js';
import type { PbxModel } from '../../src/cdr/generator/pbx.js';
import { Rng } from '../../src/cdr/generator/random.js';
import { SCENARIOS, type ScenarioInput } from '../../src/cdr/generator/scenarios.js';
import { naiveSeconds } from '../../src/cdr/row.js';
import type { Pool } from '../../src/db/pool.js';

export class PastCalls {
  private readonly ids: AsteriskCounters;

  constructor(private readonly pool: Pool, private readonly cdrDb: string, private readonly model: PbxModel, firstId = 1_000_000) {
    this.ids = new AsteriskCounters({ uniqueid: firstId, pjsip: firstId, local: firstId, sequence: firstId });
  }

  async insert(scenario: ScenarioName, input: Partial<Omit<ScenarioInput, 'model' | 'rng' | 'start' | 'ids'>>, agoSeconds = 300, seed = 1): Promise<string> {
    const [rows] = await this.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now");
    const start = naiveSeconds(String(rows[0]!.now)) - agoSeconds;
    const call = SCENARIOS[scenario]({ model: this.model, rng: new Rng(seed), ids: this.ids, start, ...input });
    await insertRows({ pool: this.pool, cdrDb: this.cdrDb }, call.rows);
    return call.label.linkedid;
  }
}
