import type { IncomingHttpHeaders } from 'node:http';
import type { Network } from '../../config/networks.js';
import { outboundRequest, type OutboundError } from '../outbound.js';

/** Where a connector's requests may go and how long they may take (its settings). */
export interface CrmEndpoint {
  allowedNetworks: readonly Network[];
  timeoutMs?: number;
}

export interface CrmAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One request to a CRM: through outboundRequest, so the tenant-typed address is checked like
 * a webhook's, with no redirect followed. A request that got no answer becomes the
 * connector's own error (`notReached`), carrying the reason.
 */
export async function crmRequest(
  endpoint: CrmEndpoint,
  req: { url: string; method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; headers?: Record<string, string>; body?: string; maxBodyBytes: number },
  notReached: (reason: string) => Error,
): Promise<CrmAnswer> {
  try {
    const res = await outboundRequest({
      url: req.url,
      method: req.method,
      headers: { accept: 'application/json', 'user-agent': 'SmartMissedCalls', ...req.headers },
      body: req.body,
      timeoutMs: endpoint.timeoutMs ?? 15_000,
      maxRedirects: 0,
      maxBodyBytes: req.maxBodyBytes,
      allowedNetworks: endpoint.allowedNetworks,
    });
    return { status: res.status, headers: res.headers, text: res.body.toString('utf8') };
  } catch (err) {
    throw notReached((err as OutboundError).message);
  }
}

/** A JSON REST call's request part: the bearer token, and the body as JSON when there is one. */
export function bearerJson(token: string, body: unknown): { headers: Record<string, string>; body?: string } {
  return body === undefined
    ? { headers: { authorization: `Bearer ${token}` } }
    : { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** A 2xx answer's JSON (undefined for an empty body); `notJson` is the error when it is not JSON. */
export function successJson<T>(answer: CrmAnswer, notJson: () => Error): T {
  if (answer.text === '') return undefined as T;
  try {
    return JSON.parse(answer.text) as T;
  } catch {
    throw notJson();
  }
}
