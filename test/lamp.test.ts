/**
 * The lamp on the phones against the protocol-level AMI test server and a real MariaDB:
 * the Setvar actions, in order, as entries are created, claimed, cleared and their claims
 * lapse; a new session after the PBX dropped the connection sets every lamp again; no
 * change sends nothing; a failing AMI is retried with a growing wait; with the lamp off
 * (the default) or the sync lock held elsewhere no AMI session is opened at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabases, type FreshDatabases } from './harness/db.js';
import { startFakeAmi, type FakeAmi } from '../src/cdr/generator/ami-server.js';
import { saveSettings } from '../src/config/settings-store.js';
import { resolveEntry } from '../src/ledger/actions.js';
import { claimEntry, releaseClaim } from '../src/ledger/claims.js';
import { LampKeeper, type LampOptions } from '../src/pbx/lamp.js';
import { callVerdict, record } from './helpers/ledger-calls.js';
import { lampService } from '../src/cli/serve.js';
import { SyncService } from '../src/sync/service.js';

const AMI = { user: 'smc', secret: 'lamp-secret' };

describe('the lamp over AMI', () => {
  let db: FreshDatabases;
  let ami: FakeAmi;
  const keepers: LampKeeper[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const logs: string[] = [];

  before(async () => {
    db = await freshDatabases('lamp');
    ami = await startFakeAmi(AMI);
  });

  after(async () => {
    for (const k of keepers) await k.stop();
    for (const cleanup of cleanups) await cleanup();
    await ami?.close();
    await db?.cleanup();
  });

  function keeper(options: Partial<LampOptions> = {}): LampKeeper {
    const k = new LampKeeper({
      pool: db.pool,
      config: { pbx: 'freepbx', ami: { host: '127.0.0.1', port: ami.port, ...AMI } },
      holdsLock: () => true,
      log: (line) => logs.push(line),
      ...options,
    });
    keepers.push(k);
    return k;
  }

  let minute = 0;
  async function miss(caller: string, route: { kind: 'queue' | 'ringgroup'; id: string }): Promise<number> {
    const verdict = callVerdict('missed', { caller, at: `2026-12-02 09:${String(minute++).padStart(2, '0')}:00` });
    verdict.route = { ...route, label: '' };
    return (await record(db.pool, 'default', [verdict])).events[0]!.entry.id!;
  }

  /** The Setvar actions received since `from`, as "device=state". */
  function setvars(from: number): string[] {
    return ami.actions.slice(from).filter((a) => a.Action === 'Setvar').map((a) => `${/^DEVICE_STATE\((.*)\)$/.exec(a.Variable!)![1]}=${a.Value}`);
  }

  const claim = (entryId: number, user = 'ana') => claimEntry(db.pool, db.auditKey, { tenant: 'default', entryId, user, ext: '104', minutes: 15 });
  const clear = (entryId: number) => resolveEntry(db.pool, db.auditKey, 'default', entryId, 'ana', 'called back');

  const ids: Record<string, number> = {};

  test('off by default: open unclaimed entries and many looks, yet no AMI connection at all', async () => {
    ids.a = await miss('0722000201', { kind: 'queue', id: '400' });
    ids.b = await miss('0722000202', { kind: 'ringgroup', id: '600' });
    const k = keeper();
    for (let i = 0; i < 5; i++) await k.check();
    assert.equal(ami.connections, 0);
    assert.deepEqual(ami.actions, []);
  });

  test('a standing-by instance (the sync lock held elsewhere) opens no session either', async () => {
    await saveSettings(db.pool, 'default', { lampEnabled: true, lampScope: 'both' }, 'test');
    const k = keeper({ holdsLock: () => false });
    for (let i = 0; i < 3; i++) await k.check();
    assert.equal(ami.connections, 0);
  });

  test('state changes in order as entries are claimed, cleared, claims lapse and misses come; one action per change', async () => {
    const k = keeper({ fullCheckMs: 600_000 });
    const step = async (): Promise<string[]> => {
      const from = ami.actions.length;
      await k.check();
      return setvars(from);
    };
    // Lamp on: the first session sets every lamp once.
    assert.deepEqual(await step(), ['Custom:SMC=INUSE', 'Custom:SMC_queue_400=INUSE', 'Custom:SMC_ringgroup_600=INUSE']);
    assert.equal(ami.actions[0]!.Action, 'Login');
    assert.equal(ami.actions[0]!.Events, 'off');
    assert.deepEqual(ami.actions[1], { Action: 'Setvar', Variable: 'DEVICE_STATE(Custom:SMC)', Value: 'INUSE', ActionID: ami.actions[1]!.ActionID });

    // No flood: many looks with nothing new send nothing.
    const quiet = ami.actions.length;
    for (let i = 0; i < 20; i++) await k.check();
    assert.equal(ami.actions.length, quiet, 'no action without a change');

    // Claiming a's entry (a journal row, as a page's claim is): its route goes off; b keeps the tenant lamp on.
    await claim(ids.a!);
    // The claim lapses 5 s from now: the keeper knows when to look again without a journal row.
    await db.pool.query('UPDATE smart_missed_calls_claims SET expires_at = NOW() + INTERVAL 5 SECOND WHERE entry_id = ?', [ids.a]);
    assert.deepEqual(await step(), ['Custom:SMC_queue_400=NOT_INUSE']);

    // Clearing b, the last unclaimed one: everything off.
    await clear(ids.b!);
    assert.deepEqual(await step(), ['Custom:SMC=NOT_INUSE', 'Custom:SMC_ringgroup_600=NOT_INUSE']);

    // The claim lapses: the entry is unclaimed again, lamps on.
    for (;;) {
      const [[{ lapsed }]] = (await db.pool.query('SELECT NOW() >= expires_at AS lapsed FROM smart_missed_calls_claims WHERE entry_id = ?', [ids.a])) as unknown as [[{ lapsed: number }]];
      if (Number(lapsed) === 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(await step(), ['Custom:SMC=INUSE', 'Custom:SMC_queue_400=INUSE']);

    // A new miss on a lit route changes no lamp.
    ids.c = await miss('0722000203', { kind: 'queue', id: '400' });
    assert.deepEqual(await step(), []);

    // Claim a again, then release it: off only while a and c are both held.
    await claim(ids.a!);
    assert.deepEqual(await step(), []);
    await claim(ids.c!, 'bob');
    assert.deepEqual(await step(), ['Custom:SMC=NOT_INUSE', 'Custom:SMC_queue_400=NOT_INUSE']);
    await releaseClaim(db.pool, db.auditKey, 'default', ids.c!, 'bob');
    assert.deepEqual(await step(), ['Custom:SMC=INUSE', 'Custom:SMC_queue_400=INUSE']);

    // Clearing both: off; the PBX holds what was set.
    await clear(ids.a!);
    assert.deepEqual(await step(), []);
    await clear(ids.c!);
    assert.deepEqual(await step(), ['Custom:SMC=NOT_INUSE', 'Custom:SMC_queue_400=NOT_INUSE']);
    assert.deepEqual(Object.fromEntries(ami.deviceStates), { 'Custom:SMC': 'NOT_INUSE', 'Custom:SMC_queue_400': 'NOT_INUSE', 'Custom:SMC_ringgroup_600': 'NOT_INUSE' });
    assert.equal(ami.connections, 1, 'one session for all of it');

    // The PBX restarts (its lamps lost) while a miss is open: the new session sets every lamp once.
    ids.d = await miss('0722000204', { kind: 'ringgroup', id: '600' });
    assert.deepEqual(await step(), ['Custom:SMC=INUSE', 'Custom:SMC_ringgroup_600=INUSE']);
    ami.deviceStates.clear();
    ami.dropConnections();
    await new Promise((r) => setTimeout(r, 50));
    const after = await step();
    assert.deepEqual(after, ['Custom:SMC=INUSE', 'Custom:SMC_queue_400=NOT_INUSE', 'Custom:SMC_ringgroup_600=INUSE']);
    assert.equal(ami.connections, 2);
    assert.deepEqual(Object.fromEntries(ami.deviceStates), { 'Custom:SMC': 'INUSE', 'Custom:SMC_queue_400': 'NOT_INUSE', 'Custom:SMC_ringgroup_600': 'INUSE' });
    assert.deepEqual(await step(), [], 're-asserted once, not at every look');

    // The lamp turned off in the settings: what it lit goes off once, then the session closes.
    await saveSettings(db.pool, 'default', { lampEnabled: false }, 'test');
    assert.deepEqual(await step(), ['Custom:SMC=NOT_INUSE', 'Custom:SMC_ringgroup_600=NOT_INUSE']);
    await k.check();
    const closedAt = ami.actions.length;
    for (let i = 0; i < 3; i++) await k.check();
    assert.equal(ami.actions.length, closedAt);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(ami.openConnections, 0, 'no session left open');
    await k.stop();
  });

  test('scopes: a new service with lit lamps left by an earlier run turns off the routes it finds', async () => {
    await saveSettings(db.pool, 'default', { lampEnabled: true, lampScope: 'route' }, 'test');
    ami.deviceStates.set('Custom:SMC_queue_400', 'INUSE');
    const k = keeper();
    const from = ami.actions.length;
    await k.check();
    assert.deepEqual(setvars(from), ['Custom:SMC_queue_400=NOT_INUSE', 'Custom:SMC_ringgroup_600=INUSE']);
    await saveSettings(db.pool, 'default', { lampScope: 'tenant' }, 'test');
    const next = ami.actions.length;
    await k.check();
    assert.deepEqual(setvars(next), ['Custom:SMC=INUSE', 'Custom:SMC_ringgroup_600=NOT_INUSE']);
    await k.stop();
  });

  test('reacts to a claim within a few seconds on its own timer', async () => {
    const k = keeper({ checkMs: 200 });
    ami.deviceStates.delete('Custom:SMC');
    k.start();
    const lit = async (state: string) => {
      const deadline = Date.now() + 10_000;
      while (ami.deviceStates.get('Custom:SMC') !== state) {
        assert.ok(Date.now() < deadline, `Custom:SMC became ${state} within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await lit('INUSE');
    await claim(ids.d!);
    await lit('NOT_INUSE');
    await k.stop();
  });

  test('in smc serve, only the instance holding the sync lock sets lamps; the one that takes the lock over sets them all again', async () => {
    ids.f = await miss('0722000206', { kind: 'queue', id: '400' });
    const config = { ...db.config, ami: { host: '127.0.0.1', port: ami.port, ...AMI } };
    const first = new SyncService(db.pool, config);
    const second = new SyncService(db.pool, config);
    const lamps = [lampService(config, db.pool, first), lampService(config, db.pool, second)];
    cleanups.push(async () => {
      for (const lamp of lamps) await lamp.stop();
      await first.stop();
      await second.stop();
    });
    await first.tick();
    await second.tick();
    assert.equal(first.isSyncing, true);
    assert.equal(second.isSyncing, false);
    ami.deviceStates.clear();
    const connectionsBefore = ami.connections;
    for (const lamp of lamps) await lamp.start();
    const until = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!done()) {
        assert.ok(Date.now() < deadline, `${what} within 15 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until('the lamp set', () => ami.deviceStates.get('Custom:SMC') === 'INUSE');
    assert.equal(ami.connections - connectionsBefore, 1, 'one instance only opened a session');
    // The first instance stops (its lock freed); the second takes the lock over and sets every lamp again.
    await lamps[0]!.stop();
    await first.stop();
    ami.deviceStates.clear();
    await second.tick();
    assert.equal(second.isSyncing, true);
    await until('the lamp set again by the new holder', () => ami.deviceStates.get('Custom:SMC') === 'INUSE');
    assert.equal(ami.connections - connectionsBefore, 2);
  });

  test('a PBX that refuses: retried after a wait that grows, never at every look', async () => {
    const k = keeper({ config: { pbx: 'freepbx', ami: { host: '127.0.0.1', port: ami.port, user: 'smc', secret: 'wrong' } }, minRetryMs: 400, maxRetryMs: 800 });
    const logins = () => ami.actions.filter((a) => a.Action === 'Login' && a.Secret === 'wrong').length;
    for (let i = 0; i < 5; i++) await k.check();
    assert.equal(logins(), 1, 'one attempt, then a wait');
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 5; i++) await k.check();
    assert.equal(logins(), 2);
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 5; i++) await k.check();
    assert.equal(logins(), 2, 'the wait doubled to 800 ms');
    assert.ok(logs.some((l) => /lamp: AMI login refused for user 'smc'.*trying again in/.test(l)), logs.join('\n'));
    await k.stop();
  });
});
