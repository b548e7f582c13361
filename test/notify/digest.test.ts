import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { naiveDatetime, naiveSeconds } from '../../src/cdr/row.js';
import { DIGEST_CADENCES, latestDuePeriod } from '../../src/notify/digest-period.js';
import { Notifier } from '../../src/notify/worker.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from '../helpers/ledger-calls.js';
import { TestSmtp } from '../helpers/smtp.js';

let db: FreshDatabases;
let smtp: TestSmtp;
before(async () => {
  db = await freshDatabases('notify_digest');
  smtp = await new TestSmtp().start();
});
after(async () => {
  await smtp.stop();
  await db.cleanup();
});

function config(): Config {
  return { ...db.config, mail: { ...db.config.mail, transport: 'smtp', host: '127.0.0.1', port: smtp.port, secure: false }, server: { ...db.config.server, baseUrl: 'https://pbx.example.test/admin/' } };
}

// Monday 3 March 2025, 12:30 in Bucharest: hourly = 11:00–12:00, daily = 2 March,
// weekly = 24 Feb – 3 Mar, monthly = February.
const NOW = new Date('2025-03-03T10:30:00Z');

test('digest periods follow the tenant time zone', () => {
  const p = (c: (typeof DIGEST_CADENCES)[number]) => latestDuePeriod(c, 'Europe/Bucharest', NOW);
  assert.deepEqual([p('hourly').start, p('hourly').end], ['2025-03-03 11:00:00', '2025-03-03 12:00:00']);
  assert.deepEqual([p('daily').start, p('daily').end], ['2025-03-02 00:00:00', '2025-03-03 00:00:00']);
  assert.deepEqual([p('weekly').start, p('weekly').end], ['2025-02-24 00:00:00', '2025-03-03 00:00:00']);
  assert.deepEqual([p('monthly').start, p('monthly').end, p('monthly').previousStart], ['2025-02-01 00:00:00', '2025-03-01 00:00:00', '2025-01-01 00:00:00']);
  // Before 08:00 the daily digest due is still the day before yesterday's.
  assert.equal(latestDuePeriod('daily', 'Europe/Bucharest', new Date('2025-03-03T05:00:00Z')).start, '2025-03-01 00:00:00');
});

/** Calls inside the period and the one before, through the real ledger. */
async function generate(tenant: string, start: string, end: string, previousStart: string): Promise<void> {
  const length = naiveSeconds(end) - naiveSeconds(start);
  const at = (from: string, fraction: number) => naiveDatetime(naiveSeconds(from) + Math.floor(length * fraction));
  await record(db.pool, tenant, [
    // previous period: 1 missed of 4 inbound; that entry is still open and not new
    callVerdict('missed', { caller: '0740000001', at: at(previousStart, 0.1) }),
    ...[0.2, 0.3, 0.4].map((f) => callVerdict('answered', { caller: '0740000009', at: at(previousStart, f) })),
    // this period: 3 missed of 5 inbound
    callVerdict('missed', { caller: '0740000002', at: at(start, 0.1), name: 'Ana Pop' }),
    callVerdict('missed', { caller: '0740000002', at: at(start, 0.2), name: 'Ana Pop' }),
    callVerdict('missed', { caller: '0740000003', at: at(start, 0.3) }),
    callVerdict('callback', { caller: '0740000003', at: at(start, 0.4), ext: '104' }),
    callVerdict('answered', { caller: '0740000008', at: at(start, 0.5) }),
    callVerdict('answered', { caller: '0740000008', at: at(start, 0.6) }),
  ]);
}

for (const cadence of DIGEST_CADENCES) {
  for (const language of ['en', 'ro'] as const) {
    test(`${cadence} digest in ${language}: open, new, cleared by reason and by whom, top callers, miss rate vs before`, async () => {
      const tenant = `${cadence}_${language}`;
      await saveSettings(db.pool, tenant, { cadence, recipients: ['team@example.test'], timezone: 'Europe/Bucharest', language }, 'test');
      const period = latestDuePeriod(cadence, 'Europe/Bucharest', NOW);
      await generate(tenant, period.start, period.end, period.previousStart);
      const n = new Notifier({ pool: db.pool, config: config() });
      assert.equal(await n.queueDueDigests(NOW), 1);
      assert.equal(await n.queueDueDigests(NOW), 0, 'one digest per period');
      await n.pass();
      await n.close();
      const mails = smtp.mails.filter((m) => (m.html as string).includes(`lang="${language}"`) && /digest|rezumat/.test(m.subject ?? '') && m.headers.get('x-smc-delivery')?.toString().includes(`digest:${tenant}:`));
      assert.equal(mails.length, 1);
      const text = mails[0]!.text ?? '';
      const open = text.slice(text.indexOf(language === 'en' ? 'Open missed calls' : 'Apeluri pierdute deschise'));
      if (language === 'en') {
        assert.equal(mails[0]!.subject, `Missed calls, ${cadence} digest: 2 open, 2 new`);
        assert.match(text, /Team miss rate: 60% \(3 of 5 inbound calls\)/);
        assert.match(text, /Previous period: 25% \(1 of 4 inbound calls\)/);
        assert.match(text, /called back: 1/);
        assert.match(text, /extension 104: 1/);
        assert.match(text, /1\. Ana Pop \(0740000002\): 2 missed calls\n2\. 0740000003: 1 missed call\n/);
        assert.match(open, /0740000001 -> 0215550100, Sales queue, 1 missed call, /);
        assert.ok(open.indexOf('0740000001') < open.indexOf('Ana Pop'), 'oldest first');
        assert.match(open, /Ana Pop \(0740000002\) \(new\)/);
        assert.doesNotMatch(open, /0740000001 \(new\)/);
        assert.match(text, /https:\/\/pbx\.example\.test\/admin\/config\.php\?display=smartmissedcalls&view=entries&tenant=/);
      } else {
        assert.equal(mails[0]!.subject, `Apeluri pierdute, rezumat ${{ hourly: 'orar', daily: 'zilnic', weekly: 'săptămânal', monthly: 'lunar' }[cadence]}: 2 deschise, 2 noi`);
        assert.match(text, /Rata de apeluri pierdute a echipei: 60\s?% \(3 din 5 apeluri primite\)/);
        assert.match(text, /Perioada anterioară: 25\s?% \(1 din 4 apeluri primite\)/);
        assert.match(text, /sunat înapoi: 1/);
        assert.match(text, /interior 104: 1/);
        assert.match(open, /Ana Pop \(0740000002\) \(nou\)/);
        assert.match(text, /1\. Ana Pop \(0740000002\): 2 apeluri pierdute\n2\. 0740000003: 1 apel pierdut\n/);
        assert.doesNotMatch(text, /Open now|missed calls/);
      }
      // The journal's head at the time of the digest, an anchor outside the database for `smc audit verify --head`.
      assert.match(text, language === 'en' ? /Audit journal head \(keep it to check the journal later\): \d+:[0-9a-f]{64}/ : /Capul jurnalului de audit \(.+\): \d+:[0-9a-f]{64}/);
      const head = /: (\d+):([0-9a-f]{64})/.exec(text)!;
      const [row] = await db.pool.query<RowDataPacket[]>('SELECT hash FROM smart_missed_calls_audit WHERE id = ?', [Number(head[1])]);
      assert.equal(row[0]?.hash, head[2], 'the head in the mail is a row of the journal, with its hash');
      assert.match(mails[0]!.html as string, new RegExp(`${head[1]}:${head[2]}`));
      const [notified] = await db.pool.query<RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM smart_missed_calls_audit WHERE tenant = ? AND event = 'notified'`,
        [tenant],
      );
      assert.equal(Number(notified[0]!.n), 2, 'a notified journal row for each open entry the digest listed');
    });
  }
}
