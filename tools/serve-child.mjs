// What the benches need of an `smc serve` they start: a loopback port for it, and the wait
// until it answers.
import { createServer } from 'node:net';

/** @returns {Promise<number>} a free loopback port */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Resolves once the service at `url` answers; fails when the child exits first or after
 * `seconds`, naming `what` (its config file).
 * @param {string} url
 * @param {import('node:child_process').ChildProcess} child
 * @param {string} what
 * @param {number} seconds
 */
export async function waitForHealth(url, child, what, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`smc serve (${what}) exited with code ${child.exitCode}`);
    try {
      // Any answer, even 401 without identity, means the web service is up.
      await fetch(`${url}/api/health`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`smc serve (${what}) did not answer within ${seconds} s`);
}
