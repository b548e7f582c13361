import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { latestDuePeriod } from '../../src/notify/digest-period.js';
import { Notifier } from '../../src/notify/worker.js';
import { naiveDatetime, naiveSeconds } from '../../src/cdr/row.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { TestSmtp } from '../helpers/smtp.js';

// VitalPBX: every tenant has its own recipients, cadence and list; a tenant's digest
// reaches only its own people and speaks only of its own callers.
let db: FreshDatabases;
let smtp: TestSmtp;
before(async () => {
  db = await freshDatabases('tenant_digest');
  smtp = await new TestSmtp().start();
});
after(async () => {
  await smtp.stop();
  await db.cleanup();
});

const NOW = new Date('2025-03-03T10:30:00Z');

test('each tenant gets its own digest, with only its own callers, at its own recipients', async () => {
  const config: Config = { ...db.config, mail: { ...db.config.mail, transport: 'smtp', host: '127.0.0.1', port: smtp.port, secure: false } };
  const period = latestDuePeriod('daily', 'UTC', NOW);
  const at = naiveDatetime(naiveSeconds(period.start) + 3600);
  await saveSettings(db.pool, 'alpha', { cadence: 'daily', recipients: ['boss@alpha.test'], timezone: 'UTC' }, 'test');
  await saveSettings(db.pool, 'beta', { cadence: 'daily', recipients: ['desk@beta.test'], timezone: 'UTC' }, 'test');
  await saveSettings(db.pool, 'gamma', { cadence: 'off', recipients: ['nobody@gamma.test'], timezone: 'UTC' }, 'test');
  await record(db.pool, 'alpha', [callVerdict('missed', { caller: '0740000101', at, name: 'Alpha Caller' })]);
  await record(db.pool, 'beta', [callVerdict('missed', { caller: '0740000202', at, name: 'Beta Caller' })]);
  await record(db.pool, 'gamma', [callVerdict('missed', { caller: '0740000303', at })]);
  // The same caller missed in two tenants: two entries, one in each digest.
  await record(db.pool, 'alpha', [callVerdict('missed', { caller: '0740000999', at })]);
  await record(db.pool, 'beta', [callVerdict('missed', { caller: '0740000999', at })]);

  const notifier = new Notifier({ pool: db.pool, config });
  assert.equal(await notifier.queueDueDigests(NOW), 2, 'alpha and beta; gamma has digests off');
  await notifier.pass();
  await notifier.close();

  const recipients = (m: (typeof smtp.mails)[number]) => [m.to].flat().flatMap((a) => a?.value ?? []).map((v) => v.address);
  const digest = (to: string) => smtp.mails.filter((m) => recipients(m).includes(to));
  const [alpha] = digest('boss@alpha.test');
  const [beta] = digest('desk@beta.test');
  assert.ok(alpha && beta);
  assert.equal(digest('nobody@gamma.test').length, 0);
  assert.match(alpha.text ?? '', /Alpha Caller/);
  assert.doesNotMatch(alpha.text ?? '', /Beta Caller|0740000202|0740000303/);
  assert.match(beta.text ?? '', /Beta Caller/);
  assert.doesNotMatch(beta.text ?? '', /Alpha Caller|0740000101|0740000303/);
  for (const mail of [alpha, beta]) {
    assert.match(mail.text ?? '', /0740000999/);
    assert.equal(recipients(mail).length, 1, 'one recipient, the tenant\'s own');
  }
});
