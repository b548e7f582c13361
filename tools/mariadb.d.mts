// Types of tools/mariadb.mjs for the TypeScript test harness.
export interface Mariadb {
  /** Unix socket root connects on, without a password. */
  socket: string;
  /** Directory holding data/, the socket, pid file and error log. */
  dir: string;
  /** Shuts the server down cleanly (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

export function startMariadb(options: { dir: string; log?: (line: string) => void }): Promise<Mariadb>;

export function loadSchemas(socket: string, names: { cdrDb: string; pbxDb: string; smcDb?: string; pbx?: 'freepbx' | 'vitalpbx' }): Promise<void>;
