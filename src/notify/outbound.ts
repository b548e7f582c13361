import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { classifyAddress, isAllowedTarget, type Network } from '../config/networks.js';

/**
 * HTTP requests to URLs a tenant admin typed (webhooks, the caller-name lookup). The host is
 * resolved once, every address it resolves to is checked (src/config/networks.ts), and the
 * connection goes to that checked address through a pinned lookup, so a DNS answer that
 * changes between the check and the connect (rebinding) cannot move the request elsewhere.
 * Redirects are not followed by the HTTP client: each hop is checked the same way, and only
 * as many hops as the caller allows. One deadline covers resolution, every hop and the body.
 */

export interface OutboundRequest {
  url: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** 0: a redirect answer is a failure. */
  maxRedirects: number;
  /** The answer's body is read up to this size (a larger one is a failure); 0 reads none. */
  maxBodyBytes: number;
  /** Internal networks the PBX administrator allows (config.yaml notify.allow_private_networks). */
  allowedNetworks: readonly Network[];
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Why a request did not get an answer. `template` is a gettext msgid with {name}
 * placeholders (like ConfigError), so a page can show it in its reader's language.
 */
export class OutboundError extends Error {
  constructor(
    readonly kind: 'refused' | 'redirect' | 'timeout' | 'too-large' | 'network',
    readonly template: string,
    readonly params: Record<string, string | number> = {},
  ) {
    super(template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in params ? String(params[key]) : whole)));
  }
}

const REFUSED =
  '{host} is {address}, an internal address ({range}); the PBX administrator can allow it in config.yaml (notify.allow_private_networks)';

/** Rejects only with an OutboundError. */
export async function outboundRequest(req: OutboundRequest): Promise<OutboundResponse> {
  const hops: Hops = { inFlight: new Set(), expired: false };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      hops.expired = true;
      reject(new OutboundError('timeout', 'no answer within {ms} ms', { ms: req.timeoutMs }));
    }, req.timeoutMs);
  });
  try {
    return await Promise.race([followHops(req, hops), deadline]);
  } catch (err) {
    // Whatever broke (a malformed URL the client refuses, a socket error), it is this
    // request's failure, reported like the others, never an exception out of the notifier.
    if (err instanceof OutboundError) throw err;
    throw new OutboundError('network', '{reason}', { reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
  } finally {
    clearTimeout(timer);
    for (const r of hops.inFlight) r.destroy();
  }
}

interface Hops {
  /** Requests and answers of this request, destroyed at the end so no socket outlives it. */
  inFlight: Set<{ destroy(): void }>;
  /**
   * Set when the deadline passed. A DNS lookup cannot be cancelled: without this, one that
   * answers late would still start the request (a webhook then posted after its failure
   * was recorded).
   */
  expired: boolean;
}

async function followHops(req: OutboundRequest, hops: Hops): Promise<OutboundResponse> {
  let url = parseHttpUrl(req.url);
  for (let hop = 0; ; hop += 1) {
    const address = await checkedAddress(url, req.allowedNetworks);
    if (hops.expired) throw new OutboundError('timeout', 'no answer within {ms} ms', { ms: req.timeoutMs });
    const res = await send(url, address, req, hops.inFlight);
    const location = res.headers.location;
    if (res.statusCode! < 300 || res.statusCode! >= 400 || !location) return { status: res.statusCode!, headers: res.headers, body: await readBody(res, req.maxBodyBytes) };
    res.destroy();
    if (hop >= req.maxRedirects) {
      throw req.maxRedirects === 0
        ? new OutboundError('redirect', 'answered with a redirect (HTTP {status}) to {location}, which is not followed', { status: res.statusCode!, location })
        : new OutboundError('redirect', 'more than {max} redirects', { max: req.maxRedirects });
    }
    url = parseHttpUrl(location, url);
  }
}

function parseHttpUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new OutboundError('network', "'{value}' is not a URL", { value: text });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundError('refused', '{url} is not an http or https URL', { url: url.toString() });
  return url;
}

interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves the URL's host once and refuses it when any of its addresses is internal and not allowed. */
async function checkedAddress(url: URL, allowed: readonly Network[]): Promise<CheckedAddress> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = classifyAddress(host);
  const resolved: LookupAddress[] = literal
    ? [{ address: host, family: literal.family }]
    : await new Promise((resolve, reject) =>
        dnsLookup(host, { all: true, verbatim: true }, (err, addresses) =>
          err ? reject(new OutboundError('network', 'cannot resolve {host}: {reason}', { host, reason: err.code ?? err.message })) : resolve(addresses),
        ),
      );
  // Refused if ANY address is internal: a name that resolves to a public and a private
  // address would otherwise reach the private one whenever the public one fails.
  for (const r of resolved) {
    const c = classifyAddress(r.address);
    if (!c || !isAllowedTarget(c, allowed)) {
      throw new OutboundError('refused', REFUSED, { host: url.hostname, address: r.address, range: c?.range ?? '?' });
    }
  }
  const first = resolved[0];
  if (!first) throw new OutboundError('network', 'cannot resolve {host}: {reason}', { host, reason: 'no address' });
  return { address: first.address, family: first.family as 4 | 6 };
}

function send(url: URL, to: CheckedAddress, req: OutboundRequest, inFlight: Set<{ destroy(): void }>): Promise<IncomingMessage> {
  // The client resolves nothing: whatever it asks for, it gets the address checked above.
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as (err: null, addresses: LookupAddress[]) => void)(null, [{ address: to.address, family: to.family }]);
    else callback(null, to.address, to.family);
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = request(
      url,
      {
        method: req.method,
        headers: { ...req.headers, ...(req.body !== undefined ? { 'content-length': String(Buffer.byteLength(req.body)) } : {}) },
        lookup: pinned,
        agent: false,
      },
      (res) => {
        inFlight.add(res);
        resolve(res);
      },
    );
    inFlight.add(r);
    r.on('error', (err: NodeJS.ErrnoException) => reject(new OutboundError('network', '{reason}', { reason: err.code ?? err.message })));
    r.end(req.body);
  });
}

function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  if (maxBytes === 0) {
    res.destroy();
    return Promise.resolve(Buffer.alloc(0));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        res.destroy();
        reject(new OutboundError('too-large', 'the answer is larger than {max} bytes', { max: maxBytes }));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (err: NodeJS.ErrnoException) => reject(new OutboundError('network', '{reason}', { reason: err.code ?? err.message })));
  });
}
