import type { SignedClient } from './http.js';
import { round, spread, type Spread } from './stats.js';

/** Response times of each path, requested one after the other (after two unmeasured warm-ups each). */
export async function timeEndpoints(client: SignedClient, paths: string[], requests: number): Promise<Record<string, Spread & { bytes: number }>> {
  const out: Record<string, Spread & { bytes: number }> = {};
  for (const path of paths) {
    let bytes = 0;
    for (let i = 0; i < 2; i++) await (await client.get(path)).arrayBuffer();
    const times: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t = performance.now();
      const body = await (await client.get(path)).arrayBuffer();
      times.push(round(performance.now() - t));
      bytes = body.byteLength;
    }
    out[path] = { ...spread(times), bytes };
  }
  return out;
}
