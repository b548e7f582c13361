import type { Pool } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { EMPTY_DIRECTORY, loadFreepbxDirectory, type PbxDirectory } from '../cdr/freepbx-directory.js';
import type { Translate } from '../detect/explain.js';

const TTL_MS = 300_000;

/**
 * Names of queues, ring groups, IVRs, extensions and inbound routes from the PBX's own
 * tables, re-read every few minutes. Labels are built here, in the reader's language,
 * rather than taken from the English label stored on the entry.
 */
export class RouteLabels {
  private directory: PbxDirectory = EMPTY_DIRECTORY;
  private loadedAt = 0;

  constructor(private readonly pool: Pool, private readonly db: DbConfig) {}

  async current(): Promise<PbxDirectory> {
    if (Date.now() - this.loadedAt > TTL_MS) {
      try {
        this.directory = await loadFreepbxDirectory(this.pool, this.db);
      } catch {
        // Labels are a nicety: without them routes show by kind and number.
      }
      this.loadedAt = Date.now();
    }
    return this.directory;
  }
}

export function routeLabel(directory: PbxDirectory, kind: string, id: string, t: Translate): string {
  const kindName: Record<string, string> = {
    queue: t('Queue'), ringgroup: t('Ring group'), ivr: t('IVR'), extension: t('Extension'), route: t('Inbound route'),
  };
  const named = id ? directory.labels[kind as keyof PbxDirectory['labels']]?.[id] : undefined;
  const what = kindName[kind] ?? kind;
  if (named) return kind === 'route' ? named : `${what} ${id} (${named})`;
  return id ? `${what} ${id}` : what;
}

export function extensionLabel(directory: PbxDirectory, ext: string): string {
  const name = directory.names[ext];
  return name ? `${ext} (${name})` : ext;
}
