/**
 * The brake on password guessing, shared by every login the service checks: the standalone
 * form (config.server.users) and the VitalPBX accounts the PHP glue asks about. After a few
 * failures a user name, and separately a client address, must wait before the next try; the
 * wait doubles with every further failure up to a ceiling. While a key waits its attempts are
 * refused without looking at the password, so guessing costs the attacker time and us no CPU.
 * A few scrypt checks at once at most: each takes 16 MB and a libuv thread.
 */

export interface BackoffPolicy {
  /** Failures allowed before the first wait (typos). */
  freeFailures: number;
  firstWaitMs: number;
  maxWaitMs: number;
  /** A key quiet for this long starts over. */
  forgetAfterMs: number;
}

/** Per user name: a patient attacker gets about a dozen guesses an hour at the ceiling. */
export const PER_USER: BackoffPolicy = { freeFailures: 5, firstWaitMs: 1_000, maxWaitMs: 5 * 60_000, forgetAfterMs: 60 * 60_000 };
/** Per client address: more room (an office behind one NAT), a longer ceiling (spraying many names). */
export const PER_ADDRESS: BackoffPolicy = { freeFailures: 20, firstWaitMs: 1_000, maxWaitMs: 15 * 60_000, forgetAfterMs: 60 * 60_000 };

export interface ThrottleOptions {
  /** Milliseconds; tests move it instead of sleeping. */
  now: () => number;
  maxConcurrent?: number;
  /** Keys remembered at most; the longest-quiet are dropped first. */
  maxKeys?: number;
  perUser?: BackoffPolicy;
  perAddress?: BackoffPolicy;
}

export type AttemptResult<T> =
  | { outcome: 'accepted'; value: T }
  | { outcome: 'refused' }
  | { outcome: 'wait'; retryAfterSeconds: number }
  | { outcome: 'busy' };

interface Failures {
  count: number;
  last: number;
  until: number;
}

export class LoginThrottle {
  private readonly now: () => number;
  private readonly maxConcurrent: number;
  private readonly maxKeys: number;
  private readonly perUser: BackoffPolicy;
  private readonly perAddress: BackoffPolicy;
  private readonly failures = new Map<string, Failures>();
  private running = 0;

  constructor(opts: ThrottleOptions) {
    this.now = opts.now;
    this.maxConcurrent = opts.maxConcurrent ?? 4;
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.perUser = opts.perUser ?? PER_USER;
    this.perAddress = opts.perAddress ?? PER_ADDRESS;
  }

  /**
   * One login attempt: refused at once while the user or the address waits or when enough
   * checks already run; otherwise `check` (null = wrong credentials) and the outcome counted.
   */
  async attempt<T>(user: string, address: string, check: () => Promise<T | null> | T | null): Promise<AttemptResult<T>> {
    const keys = [userKey(user), addressKey(address)];
    const waitMs = Math.max(...keys.map((k) => this.waitOf(k)));
    if (waitMs > 0) return { outcome: 'wait', retryAfterSeconds: Math.ceil(waitMs / 1000) };
    const release = this.enter();
    if (!release) return { outcome: 'busy' };
    try {
      const value = await check();
      if (value === null) {
        this.fail(keys[0]!, this.perUser);
        this.fail(keys[1]!, this.perAddress);
        return { outcome: 'refused' };
      }
      // Only the user's count: one valid account must not wipe an address's record of spraying.
      this.failures.delete(keys[0]!);
      return { outcome: 'accepted', value };
    } finally {
      release();
    }
  }

  /** A check slot, or null when maxConcurrent checks run; call the returned function when done. */
  private enter(): (() => void) | null {
    if (this.running >= this.maxConcurrent) return null;
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
    };
  }

  private waitOf(key: string): number {
    const record = this.current(key);
    return record ? Math.max(0, record.until - this.now()) : 0;
  }

  private current(key: string): Failures | null {
    const record = this.failures.get(key);
    if (!record) return null;
    const policy = key.startsWith('user:') ? this.perUser : this.perAddress;
    if (this.now() - record.last > policy.forgetAfterMs) {
      this.failures.delete(key);
      return null;
    }
    return record;
  }

  private fail(key: string, policy: BackoffPolicy): void {
    const now = this.now();
    const count = (this.current(key)?.count ?? 0) + 1;
    const over = count - policy.freeFailures;
    const wait = over > 0 ? Math.min(policy.maxWaitMs, policy.firstWaitMs * 2 ** Math.min(over - 1, 30)) : 0;
    // Re-inserted so the map's order is quietest first: that end is dropped when full.
    this.failures.delete(key);
    this.failures.set(key, { count, last: now, until: now + wait });
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value as string);
  }
}

/** MariaDB compares account names ignoring case and trailing spaces: so does the count. */
function userKey(user: string): string {
  return `user:${user.trim().toLowerCase()}`;
}

/** IPv4 as is (also when IPv4-mapped); IPv6 by its /64, which one client can fill at will. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return `addr:${mapped[1]}`;
  if (!address.includes(':')) return `addr:${address}`;
  const [head = '', tail] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `addr:${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
