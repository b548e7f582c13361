/**
 * The one way a notifier calls each tenant's CRM: its task deliveries and its caller-name
 * lookups take turns (never two requests in flight to one account), and a 429 to either
 * keeps both away for as long as it asks. A CRM's rate limit is the account's, not one
 * client's: a request already in flight when the 429 came could not be called back, hence
 * the turns.
 */
export interface Quiet {
  untilMs: number;
  /** The CRM's refusal, as the deliveries waiting for it show it. */
  reason: string;
}

export class CrmAccess {
  private readonly quietUntil = new Map<string, Quiet>();
  private readonly turns = new Map<string, Promise<unknown>>();

  /** True while the tenant's CRM asked us (by a 429 or its own limit refusal) to wait. */
  quiet(tenant: string): boolean {
    return this.quietFor(tenant) !== null;
  }

  /** Until when the tenant's CRM asked us to wait, and its own words; null when it did not. */
  quietFor(tenant: string): Quiet | null {
    const q = this.quietUntil.get(tenant);
    return q && q.untilMs > Date.now() ? q : null;
  }

  rateLimited(tenant: string, waitMs: number, reason: string): void {
    const untilMs = Date.now() + waitMs;
    if (untilMs > (this.quietUntil.get(tenant)?.untilMs ?? 0)) this.quietUntil.set(tenant, { untilMs, reason });
  }

  /** Runs `work` when the tenant's previous work with its CRM is over. */
  async turn<T>(tenant: string, work: () => Promise<T>): Promise<T> {
    const before = this.turns.get(tenant) ?? Promise.resolve();
    const mine = before.then(work);
    const settled = mine.then(() => undefined, () => undefined);
    this.turns.set(tenant, settled);
    try {
      return await mine;
    } finally {
      if (this.turns.get(tenant) === settled) this.turns.delete(tenant);
    }
  }
}
