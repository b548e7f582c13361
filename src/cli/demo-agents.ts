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

/**
 * The demo's agents say "I'm calling back" as a colleague would: when the live traffic
 * places a callback, its extension's agent claims the caller's open entry first, so the
 * list and the wallboard show who is calling whom while the call is up, and the claim
 * ends with the clear it brings. Claims go through the ledger like a user's, journal
 * included.
 */
export class DemoAgents {
  constructor(
    private readonly pool: Pool,
    private readonly auditKey: AuditKey,
    private readonly model: PbxModel,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Told of every call the live traffic places; acts on callbacks only. */
  callPlaced(label: CallLabel): void {
    if (label.scenario !== 'callback' || !label.callbackFor) return;
    this.claimFor(label.caller, label.callbackFor).catch(this.onError);
  }

  private async claimFor(ext: string, presented: string): Promise<void> {
    const settings = await loadSettings(this.pool, TENANT);
    const claimMinutes = settings.claimMinutes;
    const { key, anonymous } = normaliseNumber(presented, numberRules(settings));
    if (anonymous) return;
    const [rows] = await this.pool.query<RowDataPacket[]>(
      "SELECT id FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ? AND status = 'open' ORDER BY last_attempt DESC LIMIT 1",
      [TENANT, key],
    );
    if (!rows[0]) return;
    const agent = this.model.extensions.find((e) => e.number === ext);
    const user = agent ? agent.name.split(' ')[0]!.toLowerCase() : `ext${ext}`;
    try {
      await claimEntry(this.pool, this.auditKey, { tenant: TENANT, entryId: Number(rows[0].id), user, ext, minutes: claimMinutes });
    } catch (err) {
      // A colleague (or a visitor of the demo) holds it already, or the list cleared it meanwhile: as in a real team, leave it.
      if (!(err instanceof ClaimHeld || err instanceof EntryCleared)) throw err;
    }
  }
}
