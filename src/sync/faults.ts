import { writeSync } from 'node:fs';

/**
 * Crash injection for the reliability tests: SMC_FAULT="<point>:<probability>[,...]" makes
 * the process kill itself with SIGKILL when it reaches a named point — no finally blocks,
 * no rollback from our side, exactly what a power cut or `kill -9` does there. `<point>:stop`
 * instead freezes the process there with SIGSTOP, once (a paused VM, a stalled disk), for the
 * tests of a holder that wakes after its lease was taken over. Without SMC_FAULT every point
 * is a no-op. The points:
 *
 *   after-read      the CDR window was read, nothing written yet
 *   after-classify  a call was classified, not yet recorded
 *   in-ledger       inside the ledger transaction, after its writes, before COMMIT
 *   after-commit    the ledger transaction committed, the cursor not yet moved
 *   outbox-sending  a delivery is marked `sending`, not yet handed to the mail server
 *   outbox-accepted the mail server accepted a delivery, not yet marked `sent`
 *   crm-created     a CRM created a task (its 201), its id not yet recorded
 */
export type FaultPoint = 'after-read' | 'after-classify' | 'in-ledger' | 'after-commit' | 'outbox-sending' | 'outbox-accepted' | 'crm-created';

const armed = parseFaults(process.env.SMC_FAULT ?? '');

export function parseFaults(spec: string): Map<string, number | 'stop'> {
  const out = new Map<string, number | 'stop'>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = part.lastIndexOf(':');
    const name = at < 0 ? part : part.slice(0, at);
    if (at >= 0 && part.slice(at + 1) === 'stop') {
      out.set(name, 'stop');
      continue;
    }
    const p = at < 0 ? 1 : Number(part.slice(at + 1));
    if (!Number.isFinite(p) || p < 0 || p > 1) throw new Error(`SMC_FAULT: '${part}' needs a probability between 0 and 1`);
    out.set(name, p);
  }
  return out;
}

export function faultPoint(name: FaultPoint): void {
  if (armed.size === 0) return;
  const p = armed.get(name) ?? armed.get('*') ?? 0;
  if (p === 'stop') {
    armed.delete(name);
    writeSync(2, `fault injected at ${name}: stopped\n`);
    // Synchronous: the process freezes here, in the middle of its work, until SIGCONT.
    process.kill(process.pid, 'SIGSTOP');
    return;
  }
  if (p > 0 && Math.random() < p) {
    // Synchronously: an asynchronous write to a pipe may be lost with the SIGKILL below.
    writeSync(2, `fault injected at ${name}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/**
 * For the tests of history at install: SMC_HISTORY_CHUNK_DELAY_MS holds each history chunk
 * back that long, as a slow database would, so a test can act while the history still runs
 * however fast the machine. Unset, nothing waits.
 */
export const historyChunkDelayMs = Math.max(0, Number(process.env.SMC_HISTORY_CHUNK_DELAY_MS ?? 0) || 0);
