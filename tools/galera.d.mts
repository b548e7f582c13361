// Types of tools/galera.mjs for the TypeScript tests.
export const GALERA_PROVIDER: string;

export interface WsrepStatus {
  clusterSize: number;
  ready: boolean;
  /** wsrep_local_state_comment: Synced, Donor/Desynced, Joining… */
  state: string;
  /** wsrep_cluster_status: Primary or non-Primary. */
  clusterStatus: string;
}

export interface GaleraNode {
  index: number;
  name: string;
  /** Unix socket root connects on, without a password. */
  socket: string;
  /** SQL port on 127.0.0.1. */
  port: number;
  gcommPort: number;
  istPort: number;
  sstPort: number;
  dir: string;
  errorLog: string;
  running: boolean;
}

export interface GaleraCluster {
  dir: string;
  nodes: GaleraNode[];
  status(index: number): Promise<WsrepStatus>;
  /** SIGKILL (a power cut) of the node; waits for the exit. */
  kill(index: number): Promise<void>;
  /** Clean shutdown (SIGTERM): the node leaves the cluster. */
  stop(index: number): Promise<void>;
  /** Starts a stopped or killed node; resolves once it is Synced, saying how it caught up. */
  start(index: number): Promise<'IST' | 'SST'>;
  /** Every running node Synced in a primary component of `size`. */
  waitForSize(size: number, timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the directory. */
  teardown(): Promise<void>;
}

/** Throws naming what is missing (galera-4, rsync, …) when a cluster cannot be started here. */
export function galeraTools(): { mariadbd: string; installDb: string };

export function startGaleraCluster(options: { dir: string; size?: number; log?: (line: string) => void }): Promise<GaleraCluster>;
