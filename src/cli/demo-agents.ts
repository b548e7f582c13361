import type { RowDataPacket } from 'mysql2/promise';
import type { CallLabel } from '../cdr/generator/label.js';
import type { PbxModel } from '../cdr/generator/pbx.js';
import { normaliseNumber } from '../clear/numbers.js';
import { loadSettings } from '../config/settings-store.js';
import type { Pool } from '../db/pool.js';
import type { AuditKey } from '../ledger/audit-key.js';
import { ClaimHeld, claimEntry, EntryCleared } from '../ledger/claims.js';
import { numberRules } from '../ledger/entries.js';

const TENANT = 'default';

/** How often an agent takes an unclaimed open entry off the list to work on. */
const WORK_EVERY_MS = 20_000;

/**
 * The demo's agents say "I'm calling back" as a colleague would, so the list and the
 * wallboard show who is calling whom:
 *  - when the live traffic places a callback, its extension's agent claims the caller's open
 *    entry first, and the claim ends with the clear the call brings;
 *  - every WORK_EVERY_MS, an agent takes one of the newest unclaimed open entries, and
 *    leaves the claim to lapse as a busy colleague's would.
 * Claims go through the ledger like a user's, journal included.
 */
export class DemoAgents {
  private timer: NodeJS.Timeout | null = null;
  private turn = 0;

  constructor(
    private readonly pool: Pool,
    private readonly auditKey: AuditKey,
    private readonly model: PbxModel,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    const work = () => {
      this.workTheList().catch(this.onError);
      this.timer = setTimeout(work, WORK_EVERY_MS);
    };
    this.timer = setTimeout(work, WORK_EVERY_MS / 4);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Told of every call the live traffic places; acts on callbacks only. */
  callPlaced(label: CallLabel): void {
    if (label.scenario !== 'callback' || !label.callbackFor) return;
    this.claimFor(label.caller, label.callbackFor).catch(this.onError);
  }

  private async claimFor(ext: string, presented: string): Promise<void> {
    const settings = await loadSettings(this.pool, TENANT);
    const { key, anonymous } = normaliseNumber(presented, numberRules(settings));
    if (anonymous) return;
    const [rows] = await this.pool.query<RowDataPacket[]>(
      "SELECT id FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ? AND status = 'open' ORDER BY last_attempt DESC LIMIT 1",
      [TENANT, key],
    );
    if (rows[0]) await this.claim(Number(rows[0].id), ext, settings.claimMinutes);
  }

  private async workTheList(): Promise<void> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT e.id FROM smart_missed_calls e
        LEFT JOIN smart_missed_calls_claims c ON c.tenant = e.tenant AND c.pbx = e.pbx AND c.entry_id = e.id AND c.expires_at > NOW()
        WHERE e.tenant = ? AND e.pbx = @smc_pbx AND e.status = 'open' AND e.anonymous = 0 AND c.entry_id IS NULL
        ORDER BY e.last_attempt DESC LIMIT 1`,
      [TENANT],
    );
    if (!rows[0]) return;
    const agents = this.model.extensions.filter((e) => !e.followMe);
    const ext = agents[this.turn++ % agents.length]!.number;
    await this.claim(Number(rows[0].id), ext, (await loadSettings(this.pool, TENANT)).claimMinutes);
  }

  private async claim(entryId: number, ext: string, minutes: number): Promise<void> {
    const agent = this.model.extensions.find((e) => e.number === ext);
    const user = agent ? agent.name.split(' ')[0]!.toLowerCase() : `ext${ext}`;
    try {
      await claimEntry(this.pool, this.auditKey, { tenant: TENANT, entryId, user, ext, minutes });
    } catch (err) {
      // A colleague (or a visitor of the demo) holds it already, or the list cleared it meanwhile: as in a real team, leave it.
      if (!(err instanceof ClaimHeld || err instanceof EntryCleared)) throw err;
    }
  }
}
