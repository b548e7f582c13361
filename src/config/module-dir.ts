import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The module folder (holding views/, assets/, i18n/ and build/): the first folder above this
 * code that has views/mail and i18n/ — above build/smc.js in the package, above a compiled
 * test in the repository. Found from import.meta.url, never from process.argv[1] or the
 * working directory: under FreePBX's pm2 module argv[1] is pm2's ProcessContainerFork.js
 * and the working directory is whatever pm2 was started from.
 */
export function findModuleDir(): string {
  const here = fileURLToPath(import.meta.url);
  let dir = dirname(here);
  for (;;) {
    if (existsSync(join(dir, 'views', 'mail')) && existsSync(join(dir, 'i18n'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no module folder with views/mail and i18n/ above ${here}`);
    dir = parent;
  }
}
