import type { Pool } from 'mysql2/promise';
import { loadDirectory, type CallDirectory, type OwnedRow } from '../cdr/directory.js';
import type { Config } from '../config/schema.js';
import { NO_ROUTES, type PbxRoutes } from '../cdr/pbx-routes.js';
import type { RouteLabels } from '../detect/explain.js';

const TTL_MS = 300_000;

/**
 * Names of queues, ring groups, IVRs, extensions and inbound routes from the PBX's own
 * tables (FreePBX, or the tenant's on VitalPBX), re-read every few minutes. Labels are
 * built in the reader's language (routeLabel in detect/explain.ts), not taken from the
 * English label stored on the entry.
 */
export class PbxLabels {
  private directory: CallDirectory | null = null;
  private loadedAt = 0;

  constructor(private readonly pool: Pool, private readonly config: Config) {}

  async current(tenant: string): Promise<RouteLabels> {
    // Labels are a nicety: without the directory routes show by kind and number.
    return (await this.loaded())?.labels(tenant) ?? {};
  }

  /** Where the PBX's inbound routes and failovers send a call, to explain a call's route again in the reader's language. */
  async routes(tenant: string): Promise<PbxRoutes> {
    return (await this.loaded())?.routes(tenant) ?? NO_ROUTES;
  }

  /**
   * Whether a CDR row of one of `tenant`'s calls may be shown to that tenant. Without the
   * directory only a single-tenant PBX can tell: VitalPBX shows no row then.
   */
  async rowFilter(tenant: string): Promise<(row: OwnedRow) => boolean> {
    const directory = await this.loaded();
    if (directory) return (row) => directory.ownsRow(tenant, row);
    return () => this.config.pbx === 'freepbx';
  }

  private async loaded(): Promise<CallDirectory | null> {
    if (Date.now() - this.loadedAt > TTL_MS) {
      try {
        this.directory = await loadDirectory(this.pool, this.config);
      } catch {
        // Kept from the last good read, if any; tried again after TTL_MS.
      }
      this.loadedAt = Date.now();
    }
    return this.directory;
  }
}
