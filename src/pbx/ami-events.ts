import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { AmiConfig } from './ami.js';
import { AMI_BANNER_PREFIX, AmiParser, formatMessage, type AmiMessage } from './ami-protocol.js';
import { LiveCalls } from './live-calls.js';

export interface AmiEventsOptions {
  ami: AmiConfig;
  /** Told each linkedid whose last channel hung up. */
  onCallOver: (linkedid: string) => void;
  log: (line: string) => void;
  /** Told when the event stream comes up (logged in) and when it goes away. */
  onState?: (up: boolean) => void;
  /** First wait before a reconnect; it doubles on each failure up to maxRetryMs. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** A Ping this often; a connection silent for twice as long is taken for dead. */
  pingMs?: number;
}

/**
 * The service's lasting AMI connection: it logs in asking for call events only (Login's
 * `Events: call`, manager.c: the session then gets its user's read rights AND that class),
 * follows the calls' channels (live-calls.ts) and says when a call is over, so the sync can
 * classify it at once. It is an accelerator only: when AMI is off, refuses us, or the
 * connection drops, the sync's own polling finds every call as before, a few seconds later.
 * So it never gives up: it reconnects with a growing wait, and logs each change of state once.
 */
export class AmiEventListener {
  private socket: Socket | null = null;
  private retry: NodeJS.Timeout | null = null;
  private ping: NodeJS.Timeout | null = null;
  private delayMs: number;
  private stopped = true;
  private calls = new LiveCalls();
  private lastLine = '';
  private lastDataAt = 0;
  private loginId = '';
  private readonly where: string;
  /** Logged in, events flowing. */
  up = false;

  constructor(private readonly options: AmiEventsOptions) {
    this.delayMs = options.minRetryMs ?? 1000;
    this.where = `${options.ami.host}:${options.ami.port}`;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private open(): void {
    const parser = new AmiParser();
    const socket = connect({ host: this.options.ami.host, port: this.options.ami.port });
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    let problem = '';
    socket.on('data', (chunk: string) => {
      this.lastDataAt = Date.now();
      const hadBanner = parser.banner !== '';
      const messages = parser.push(chunk);
      if (!hadBanner && parser.banner !== '') {
        if (!parser.banner.startsWith(AMI_BANNER_PREFIX)) {
          problem = `${this.where} is not an Asterisk Manager Interface`;
          socket.destroy();
          return;
        }
        this.loginId = `smc-events-${randomBytes(4).toString('hex')}`;
        socket.write(formatMessage({
          Action: 'Login', Username: this.options.ami.user, Secret: this.options.ami.secret, Events: 'call', ActionID: this.loginId,
        }));
      }
      for (const message of messages) {
        const why = this.take(message);
        if (why) {
          problem = why;
          socket.destroy();
          return;
        }
      }
    });
    socket.on('error', (err) => {
      problem ||= err.message;
    });
    socket.on('close', () => {
      this.socket = null;
      this.stopPing();
      this.calls.reset();
      if (this.up) {
        this.up = false;
        this.options.onState?.(false);
      }
      if (this.stopped) return;
      this.say(`AMI call events: ${problem || 'the connection closed'} (${this.where}); calls are found by polling until it is back, retrying`);
      this.retry = setTimeout(() => {
        this.retry = null;
        if (!this.stopped) this.open();
      }, this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, this.options.maxRetryMs ?? 30_000);
    });
  }

  /** Handles one message; returns why the connection must close, or '' to go on. */
  private take(message: AmiMessage): string {
    if (message.Event === undefined) {
      if (message.ActionID !== this.loginId || this.up) return '';
      if (message.Response !== 'Success') {
        return `AMI login refused for user '${this.options.ami.user}': ${message.Message ?? 'no reason given'} (check ami.user and ami.secret)`;
      }
      this.up = true;
      this.delayMs = this.options.minRetryMs ?? 1000;
      this.startPing();
      this.say(`AMI call events: logged in to ${this.where}; calls are classified as they end`);
      this.options.onState?.(true);
      return '';
    }
    for (const linkedid of this.calls.take(message)) this.options.onCallOver(linkedid);
    return '';
  }

  /** A PBX that went away without closing the connection (power, network) is noticed by its silence. */
  private startPing(): void {
    const every = this.options.pingMs ?? 20_000;
    this.ping = setInterval(() => {
      if (Date.now() - this.lastDataAt > 2 * every) {
        this.socket?.destroy(new Error(`no answer to Ping for ${Math.round((2 * every) / 1000)} s`));
        return;
      }
      this.socket?.write(formatMessage({ Action: 'Ping', ActionID: 'smc-events-ping' }));
    }, every);
    this.ping.unref();
  }

  private stopPing(): void {
    if (this.ping) clearInterval(this.ping);
    this.ping = null;
  }

  /** Each state is said once, not at every retry. */
  private say(line: string): void {
    if (line === this.lastLine) return;
    this.lastLine = line;
    this.options.log(line);
  }
}
