import type { Pool } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { extensionTest } from '../detect/channels.js';
import { loadFreepbxDirectory, type PbxDirectory } from './freepbx-directory.js';
import { loadVitalpbxDirectory } from './vitalpbx-directory.js';
import type { CallDirectory } from './call-directory.js';

export type { CallDirectory, OwnedRow, TenantOf } from './call-directory.js';

export const FREEPBX_TENANT = 'default';

export function freepbxCallDirectory(directory: PbxDirectory): CallDirectory {
  return {
    tenantOf: () => FREEPBX_TENANT,
    isExtension: (_tenant, ranges) => extensionTest(ranges, directory.extensions),
    labels: () => directory.labels,
    routes: () => directory.routes,
    adapt: (_tenant, rows) => rows,
    present: (_tenant, verdict) => verdict,
    ownsRow: () => true,
  };
}

/** The PBX's directory for the dialect config.pbx names. */
export async function loadDirectory(pool: Pool, config: Config): Promise<CallDirectory> {
  if (config.pbx === 'vitalpbx') return loadVitalpbxDirectory(pool, config.db);
  return freepbxCallDirectory(await loadFreepbxDirectory(pool, config.db));
}
