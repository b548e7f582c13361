import { request } from 'node:http';
import { signIdentity, type Identity } from '../../src/web/identity.js';

/**
 * A GET to the running service as the PHP glue makes it: the identity signed with
 * server.secret (an admin of tenant `default` unless told otherwise), over its unix socket or
 * a TCP port.
 */
export function signedGet(
  target: { socketPath: string } | { host: string; port: number },
  path: string,
  secret: string,
  who: Partial<Omit<Identity, 'ts'>> = {},
): Promise<{ status: number; body: string }> {
  const signed = signIdentity(secret, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ...who, ts: Math.floor(Date.now() / 1000) });
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, headers: { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
