import { createHmac } from 'node:crypto';
import { outboundRequest, type OutboundError } from './outbound.js';
import type { Network } from '../config/networks.js';

/**
 * Signed webhook POSTs. The receiver recomputes
 *   X-SMC-Signature = "sha256=" + hex(HMAC-SHA256(secret, X-SMC-Timestamp + "." + raw body))
 * and should refuse old timestamps (replay) and repeated X-SMC-Delivery ids (a retry of a
 * request it already processed).
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export interface WebhookResult {
  ok: boolean;
  status: number | null;
  error: string;
}

export interface WebhookTarget {
  url: string;
  secret: string;
  /** Internal networks the PBX administrator allows (config.yaml notify.allow_private_networks). */
  allowedNetworks: readonly Network[];
}

/**
 * One POST. A redirect is a failure (a receiver that moved should be updated in the
 * settings; following it would let the receiver point the service at an internal address).
 */
export async function postWebhook(target: WebhookTarget, deliveryKey: string, body: string, timeoutMs: number): Promise<WebhookResult> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  try {
    const res = await outboundRequest({
      url: target.url,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'SmartMissedCalls',
        'x-smc-timestamp': timestamp,
        'x-smc-signature': signature(target.secret, timestamp, body),
        'x-smc-delivery': deliveryKey,
      },
      body,
      timeoutMs,
      maxRedirects: 0,
      maxBodyBytes: 0,
      allowedNetworks: target.allowedNetworks,
    });
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, error: ok ? '' : `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, status: null, error: (err as OutboundError).message };
  }
}
