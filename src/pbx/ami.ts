import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { AMI_BANNER_PREFIX, AmiError, AmiParser, formatMessage, type AmiMessage } from './ami-protocol.js';

export { AmiError, type AmiMessage };

/**
 * A small Asterisk Manager Interface client for the two things we do with AMI: check that
 * it answers (smc doctor) and place a click-to-call-back (Originate). One connection per
 * use: log in, act, log off (ami-protocol.ts has the wire format). A response carries the
 * ActionID we sent; events (Event: …) may arrive in between and are skipped. The service's
 * lasting connection for call events is ami-events.ts; the lamp (lamp.ts) keeps one
 * AmiSession open while it has lamps to set.
 */

export interface AmiConfig {
  host: string;
  port: number;
  user: string;
  secret: string;
}

const DEFAULT_TIMEOUT_MS = 5000;

/** Extensions and numbers go into AMI header lines: only dialable characters may. */
const EXTENSION = /^[0-9A-Za-z*#+_-]{1,32}$/;
/**
 * A caller's number comes from caller ID, which the caller chooses: only digits after an
 * optional leading +. A * or # would dial a feature code (*72 forwards the extension, *98
 * opens voicemail) from the extension that calls back.
 */
const NUMBER = /^\+?[0-9]{1,32}$/;

/** The number as the extension dials it (spaces, dots, dashes and brackets dropped), or null when it is no phone number. */
export function dialableNumber(text: string): string | null {
  const number = text.replace(/[\s().-]/g, '');
  return NUMBER.test(number) ? number : null;
}

export function amiConfigured(ami: AmiConfig): boolean {
  return ami.host !== '' && ami.user !== '' && ami.secret !== '';
}

export interface OriginateRequest {
  ami: AmiConfig;
  /** The extension that rings first and, when answered, calls the number. */
  ext: string;
  /** The caller to call back, as the PBX would dial it from that extension. */
  number: string;
  /**
   * 'local' (default): Local/<ext>@from-internal, which rings every device of the
   * extension whatever its technology and follows its FreePBX settings; 'pjsip' rings
   * the PJSIP endpoint named <ext> directly.
   */
  channel?: 'local' | 'pjsip';
  context?: string;
  timeoutMs?: number;
}

export interface OriginateResult {
  actionId: string;
  message: string;
}

/**
 * Rings the extension and, when it answers, dials the number from it (Async Originate:
 * the answer means "queued", not "answered"). CallerID carries the extension as number,
 * so FreePBX's outbound route applies the extension's own outbound caller ID and the CDR
 * shows the callback as that extension's call; its name shows the number being called
 * on the extension's phone.
 */
export async function originateCallback(req: OriginateRequest): Promise<OriginateResult> {
  if (!amiConfigured(req.ami)) throw new AmiError('AMI is not configured (ami.host, ami.user, ami.secret)');
  if (!EXTENSION.test(req.ext)) throw new AmiError(`'${req.ext}' is not an extension`);
  const number = dialableNumber(req.number);
  if (number === null) throw new AmiError(`'${req.number}' is not a number that can be dialled`);
  const context = req.context ?? 'from-internal';
  if (!/^[\w-]{1,80}$/.test(context)) throw new AmiError(`'${context}' is not a dialplan context`);

  const session = await AmiSession.open(req.ami, req.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    await session.login();
    const actionId = session.nextActionId();
    const response = await session.action({
      Action: 'Originate',
      Channel: req.channel === 'pjsip' ? `PJSIP/${req.ext}` : `Local/${req.ext}@${context}`,
      Context: context,
      Exten: number,
      Priority: '1',
      CallerID: `"${number}" <${req.ext}>`,
      Async: 'true',
      ActionID: actionId,
    });
    if (response.Response !== 'Success') {
      throw new AmiError(`AMI refused the Originate: ${response.Message ?? response.Response ?? 'no reason given'}`);
    }
    await session.logoff();
    return { actionId, message: response.Message ?? '' };
  } finally {
    session.close();
  }
}

/** Logs in and out; resolves with the banner (e.g. "Asterisk Call Manager/7.0.3"). */
export async function probeAmi(ami: AmiConfig, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  const session = await AmiSession.open(ami, timeoutMs);
  try {
    await session.login();
    await session.logoff();
    return session.banner;
  } finally {
    session.close();
  }
}

/** One logged-in connection: actions one at a time, each answered by its ActionID. */
export class AmiSession {
  private parser = new AmiParser();
  private messages: AmiMessage[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private ended = false;
  private counter = 0;
  private readonly idPrefix = randomBytes(4).toString('hex');

  private constructor(
    private readonly socket: Socket,
    private readonly config: AmiConfig,
    private readonly timeoutMs: number,
  ) {}

  get banner(): string {
    return this.parser.banner;
  }

  /** The connection is gone (the PBX hung up or restarted, a network error): a new session is needed. */
  get closed(): boolean {
    return this.ended || this.failure !== null;
  }

  static async open(config: AmiConfig, timeoutMs: number): Promise<AmiSession> {
    const where = `${config.host}:${config.port}`;
    const socket = connect({ host: config.host, port: config.port });
    socket.setEncoding('utf8');
    const session = new AmiSession(socket, config, timeoutMs);
    socket.on('data', (chunk: string) => session.receive(chunk));
    socket.on('error', (err) => session.fail(new AmiError(`AMI at ${where}: ${err.message}`)));
    socket.on('close', () => {
      session.ended = true;
      session.wake();
    });
    await session.waitFor(() => session.banner !== '', 'the AMI banner');
    if (!session.banner.startsWith(AMI_BANNER_PREFIX)) {
      session.close();
      throw new AmiError(`${where} is not an Asterisk Manager Interface (it said '${session.banner.slice(0, 60)}')`);
    }
    return session;
  }

  nextActionId(): string {
    this.counter += 1;
    return `smc-${this.idPrefix}-${this.counter}`;
  }

  async login(): Promise<void> {
    const response = await this.action({
      Action: 'Login',
      Username: this.config.user,
      Secret: this.config.secret,
      Events: 'off',
      ActionID: this.nextActionId(),
    });
    if (response.Response !== 'Success') {
      throw new AmiError(`AMI login refused for user '${this.config.user}': ${response.Message ?? 'no reason given'}`);
    }
  }

  /** Asterisk answers "Goodbye" and hangs up; a hang-up without the answer is as good. */
  async logoff(): Promise<void> {
    try {
      await this.action({ Action: 'Logoff', ActionID: this.nextActionId() });
    } catch (err) {
      if (!this.ended) throw err;
    }
  }

  /** Sends one action and waits for the response that carries its ActionID. */
  async action(fields: AmiMessage): Promise<AmiMessage> {
    const actionId = fields.ActionID!;
    this.socket.write(formatMessage(fields));
    let found: AmiMessage | undefined;
    await this.waitFor(() => {
      const index = this.messages.findIndex((m) => m.ActionID === actionId && m.Response !== undefined);
      if (index >= 0) found = this.messages.splice(index, 1)[0];
      return found !== undefined;
    }, `the answer to ${fields.Action}`);
    return found!;
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    // Events are not answers to our actions; with Events: off few arrive at all.
    for (const message of this.parser.push(chunk)) if (message.Event === undefined) this.messages.push(message);
    this.wake();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async waitFor(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      if (ready()) return;
      if (this.failure) throw this.failure;
      if (this.ended) throw new AmiError(`AMI at ${this.config.host}:${this.config.port} closed the connection while we waited for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new AmiError(`AMI at ${this.config.host}:${this.config.port} did not send ${what} within ${this.timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
