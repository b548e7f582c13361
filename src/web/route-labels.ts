import type { Pool } from 'mysql2/promise';
import { loadDirectory, type CallDirectory } from '../cdr/directory.js';
import type { Config } from '../config/schema.js';
import type { RouteLabels } from '../detect/classify.js';

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
    if (Date.now() - this.loadedAt > TTL_MS) {
      try {
        this.directory = await loadDirectory(this.pool, this.config);
      } catch {
        // Labels are a nicety: without them routes show by kind and number.
      }
      this.loadedAt = Date.now();
    }
    return this.directory?.labels(tenant) ?? {};
  }
}
