import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { signature } from '../../src/notify/webhook.js';
import { Notifier } from '../../src/notify/worker.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';

const SECRET = 'a-webhook-secret-of-some-length';

interface Received {
  delivery: string;
  valid: boolean;
  body: { id: string; event: string; tenant: string; entry: { id: number; caller: string; missedCount: number; clearedBy: string | null }; call?: { linkedid: string } };
  answered: number;
}

/** A CRM stand-in: checks every signature and answers 500 to the first `failFirst` tries of each delivery. */
async function receiver(failFirst: number | 'always'): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const tries = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const delivery = String(req.headers['x-smc-delivery']);
      const valid = req.headers['x-smc-signature'] === signature(SECRET, String(req.headers['x-smc-timestamp']), raw);
      const n = (tries.get(delivery) ?? 0) + 1;
      tries.set(delivery, n);
      const answered = !valid ? 401 : failFirst === 'always' || n <= failFirst ? 500 : 200;
      got.push({ delivery, valid, body: JSON.parse(raw), answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, got, server };
}

let db: FreshDatabases;
/** The receivers listen on loopback, which config.yaml must allow (outbound-targets.test.ts shows the refusal). */
const localReceivers = (): Config => ({ ...db.config, notify: { allowPrivateNetworks: ['127.0.0.1/32'] } });
const servers: Server[] = [];
before(async () => {
  db = await freshDatabases('notify_hooks');
});
after(async () => {
  for (const s of servers) s.close();
  await db.cleanup();
});

async function drain(n: Notifier): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    await n.pass();
    const { recent } = await recentDeliveries(db.pool, 'hooks', 200);
    if (recent.every((d) => d.status !== 'pending' && d.status !== 'sending')) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('deliveries still pending');
}

test('signed webhooks: retried after 500s with backoff, every event delivered, filters honoured, failures visible', async () => {
  const flaky = await receiver(2);
  const onlyCleared = await receiver(0);
  const broken = await receiver('always');
  servers.push(flaky.server, onlyCleared.server, broken.server);
  await saveSettings(db.pool, 'hooks', {
    cadence: 'off',
    webhooks: [
      { url: flaky.url, secret: SECRET },
      { url: onlyCleared.url, secret: SECRET, events: ['entry.cleared'] },
      { url: broken.url, secret: SECRET, events: ['entry.created'] },
    ],
  }, 'test');
  await record(db.pool, 'hooks', [
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 09:00:00' }),
    callVerdict('missed', { caller: '0731000001', at: '2025-05-07 09:03:00' }),
    callVerdict('callback', { caller: '0731000001', at: '2025-05-07 09:10:00', ext: '103' }),
  ]);
  const n = new Notifier({ pool: db.pool, config: localReceivers(), mailer: null, webhookRetry: { baseMs: 10, maxMs: 100, maxAttempts: 4 } });
  await drain(n);
  await n.close();

  assert.ok(flaky.got.every((g) => g.valid) && onlyCleared.got.every((g) => g.valid), 'every signature verifies');
  const accepted = flaky.got.filter((g) => g.answered === 200);
  assert.deepEqual(accepted.map((g) => g.body.event), ['entry.created', 'entry.incremented', 'entry.cleared']);
  assert.equal(new Set(accepted.map((g) => g.delivery)).size, 3, 'each event accepted once');
  for (const a of accepted) {
    assert.equal(flaky.got.filter((g) => g.delivery === a.delivery).length, 3, 'two 500s, then accepted on the third try');
    assert.equal(a.body.id, a.delivery);
    assert.equal(a.body.tenant, 'hooks');
    assert.ok(a.body.call?.linkedid, 'the call that caused the event is included');
  }
  assert.equal(accepted[1]!.body.entry.missedCount, 2);
  assert.equal(accepted[2]!.body.entry.clearedBy, 'returned');
  assert.deepEqual(onlyCleared.got.map((g) => g.body.event), ['entry.cleared']);
  assert.equal(broken.got.length, 4, 'tried maxAttempts times');
  const { failures } = await recentDeliveries(db.pool, 'hooks');
  const dead = failures.filter((f) => f.status === 'dead');
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.target, broken.url);
  assert.equal(dead[0]!.responseCode, 500);
  assert.equal(dead[0]!.attempts, 4);
});

test('a webhook whose receiver crashed mid-answer is sent again once, with the same delivery id', async () => {
  const hook = await receiver(0);
  servers.push(hook.server);
  await saveSettings(db.pool, 'hooks2', { cadence: 'off', webhooks: [{ url: hook.url, secret: SECRET }] }, 'test');
  await record(db.pool, 'hooks2', [callVerdict('missed', { caller: '0732000001', at: '2025-05-07 10:00:00' })]);
  const first = new Notifier({
    pool: db.pool, config: localReceivers(), mailer: null,
    afterAccepted: () => {
      throw new Error('simulated crash after a 2xx answer');
    },
  });
  await assert.rejects(first.pass(), /simulated crash/);
  await first.close();
  const second = new Notifier({ pool: db.pool, config: localReceivers(), mailer: null });
  await second.pass();
  await second.pass();
  await second.close();
  assert.equal(hook.got.length, 2);
  assert.equal(hook.got[0]!.delivery, hook.got[1]!.delivery);
  const { recent } = await recentDeliveries(db.pool, 'hooks2');
  assert.deepEqual(recent.map((d) => [d.status, d.attempts]), [['sent', 2]]);
});
