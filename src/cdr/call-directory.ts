import type { ExtensionTest } from '../detect/channels.js';
import type { RouteLabels } from '../detect/explain.js';
import type { Verdict } from '../detect/verdict.js';
import type { PbxRoutes } from './pbx-routes.js';
import type { CdrRow } from './row.js';

/** Which tenant a call belongs to. FreePBX has one tenant, `default`; VitalPBX resolves per call. */
export type TenantOf = (rows: CdrRow[]) => string;

/**
 * What the sync needs from the PBX's configuration to judge a call, per dialect: whose
 * call it is, who of that tenant is an extension, what its routes are called, how its
 * rows read in the classifier's vocabulary, and how the verdict reads in the tenant's
 * own numbering.
 */
export interface CallDirectory {
  tenantOf: TenantOf;
  isExtension(tenant: string, ranges: string): ExtensionTest;
  labels(tenant: string): RouteLabels;
  /** Where the tenant's inbound routes, failovers and time conditions send a call (the classifier's `routes`). */
  routes(tenant: string): PbxRoutes;
  /** The rows of one call of this tenant as the classifier reads them (FreePBX contexts). */
  adapt(tenant: string, rows: CdrRow[]): CdrRow[];
  /** The verdict with extensions as the tenant's users know them (101, not T2_101). */
  present(tenant: string, verdict: Verdict): Verdict;
  /**
   * Whether a CDR row of one of this tenant's calls is the tenant's own leg, to be shown to
   * it: a call that crosses tenants shares its linkedid with the other tenant's legs.
   */
  ownsRow(tenant: string, row: OwnedRow): boolean;
}

/** What says whose a CDR row is. */
export type OwnedRow = Pick<CdrRow, 'tenant' | 'channel' | 'dstchannel' | 'dcontext'>;
