import { signIdentity } from '../web/identity.js';

/** Requests to `smc serve` as the PBX glue makes them: a freshly signed identity on each. */
export class SignedClient {
  constructor(private readonly baseUrl: string, private readonly secret: string) {}

  headers(): Record<string, string> {
    const { header, signature } = signIdentity(this.secret, { user: 'bench', tenant: 'default', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
    return { 'x-smc-identity': header, 'x-smc-signature': signature };
  }

  async get(path: string, signal?: AbortSignal): Promise<Response> {
    const res = await fetch(this.baseUrl + path, { headers: this.headers(), signal });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
    return res;
  }
}
