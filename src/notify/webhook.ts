import { createHmac } from 'node:crypto';

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

export async function postWebhook(url: string, secret: string, deliveryKey: string, body: string, timeoutMs: number): Promise<WebhookResult> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'SmartMissedCalls',
        'x-smc-timestamp': timestamp,
        'x-smc-signature': signature(secret, timestamp, body),
        'x-smc-delivery': deliveryKey,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, error: ok ? '' : `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const reason = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message;
    return { ok: false, status: null, error: reason };
  }
}
