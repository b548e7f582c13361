import { existsSync } from 'node:fs';
import type { DbConfig } from './schema.js';

/** Where MariaDB puts its socket on Debian 11/12, which VitalPBX 4 and 4.5 run on. */
const DEBIAN_SOCKETS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock'];

/**
 * VitalPBX keeps its CDR in asterisk.cdr / asterisk.cel (one table for every tenant,
 * stamped with a tenant column) and its configuration in ombutel.ombu_*. It publishes no
 * credentials file an add-on may read (its maintenance file holds an API token, readable
 * by www-data only), so install.sh creates our own MariaDB user and writes it into
 * config.yaml; our tables get a database of their own, `smartmissedcalls`.
 */
export function vitalpbxDbDefaults(sockets: string[] = DEBIAN_SOCKETS): Partial<DbConfig> {
  const socket = sockets.find((path) => existsSync(path));
  return {
    user: 'smartmissedcalls',
    database: 'smartmissedcalls',
    cdrDatabase: 'asterisk',
    cdrTable: 'cdr',
    celTable: 'cel',
    pbxDatabase: 'ombutel',
    ...(socket ? { socket } : {}),
  };
}
