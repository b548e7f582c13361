import type { DoctorContext } from './check.js';
import { CHECKS, runChecks, type ScopedResult } from './checks.js';

/** Checks probe sockets and may run fwconsole: at most once a minute, whatever the page traffic. */
const FRESH_MS = 60_000;
/** "Check again" runs them sooner, but not more than this often. */
const RERUN_MS = 5_000;

const PBX_CHECKS = CHECKS.filter((c) => c.scope === 'pbx');
const TENANT_CHECKS = CHECKS.filter((c) => c.scope === 'tenant');

interface Run {
  at: number;
  results: Promise<ScopedResult[]>;
}

/**
 * The service checking itself with the checks of `smc doctor`: the PBX-wide ones once for
 * everybody, a tenant's own ones per tenant, each kept for a minute. Concurrent readers
 * share one run.
 */
export class HealthMonitor {
  private pbx: Run | null = null;
  private readonly tenants = new Map<string, Run>();

  constructor(private readonly contextFor: (tenant: string) => DoctorContext, private readonly now: () => number = Date.now) {}

  async results(tenant: string): Promise<{ checkedAt: number; results: ScopedResult[] }> {
    this.pbx = this.fresh(this.pbx, () => runChecks(this.contextFor(tenant), PBX_CHECKS));
    const own = this.fresh(this.tenants.get(tenant) ?? null, () => runChecks(this.contextFor(tenant), TENANT_CHECKS));
    this.tenants.set(tenant, own);
    return { checkedAt: Math.min(this.pbx.at, own.at), results: [...(await this.pbx.results), ...(await own.results)] };
  }

  /** The next reader runs every check again, unless they have just run. */
  forget(): void {
    if (this.pbx && this.now() - this.pbx.at < RERUN_MS) return;
    this.pbx = null;
    this.tenants.clear();
  }

  private fresh(run: Run | null, start: () => Promise<ScopedResult[]>): Run {
    return run && this.now() - run.at < FRESH_MS ? run : { at: this.now(), results: start() };
  }
}
