import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/db.js';
import { csvCell, csvLine } from '../../src/web/csv.js';
import { Catalogues, LANGS, negotiateLang, parsePo } from '../../src/web/i18n.js';
import { english, type Translate } from '../../src/detect/explain.js';
import { bindTenant } from '../../src/web/tenant-scope.js';
import { calculate } from '../../src/web/calculator.js';
import { findUser, readSessionCookie, newSession, sessionCookieValue } from '../../src/web/session.js';

describe('CSV cells', () => {
  test('cells a spreadsheet would run as formulas get a leading apostrophe', () => {
    for (const text of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx']) assert.ok(csvCell(text).replace(/^"/, '').startsWith("'"), text);
    assert.equal(csvCell('0722 000 111'), '0722 000 111');
  });

  test('commas, quotes and line breaks are quoted', () => {
    assert.equal(csvLine(['a,b', 'say "hi"', 'two\nlines', 3]), '"a,b","say ""hi""","two\nlines",3\r\n');
  });

  test('a formula is neutralised wherever a spreadsheet could start a cell: after ; , | tab and line breaks too', () => {
    // Excel with a ; list separator (Romanian, German) splits `x;=HYPERLINK(` into x and a formula.
    assert.equal(csvCell('x;=HYPERLINK("http://evil","click")'), `"x;'=HYPERLINK(""http://evil"",""click"")"`);
    for (const separator of [';', ',', '|', '\t', '\r', '\n', '; ', ';"']) {
      for (const trigger of ['=', '+', '-', '@', '\t', '\r']) {
        const cell = csvCell(`ok${separator}${trigger}1+1`);
        const text = cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
        const after = text.slice(2);
        // Whatever a reader takes as the separator, the next cell starts with an apostrophe (past spaces and quotes).
        assert.match(after, new RegExp(`^${separator.replace(/[|]/g, '\\$&')}[ "]*'`), JSON.stringify(cell));
      }
    }
    for (const text of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\r=1']) assert.ok(csvCell(text).replace(/^"/, '').startsWith("'"), text);
    assert.equal(csvCell('0722 000 111'), '0722 000 111');
    assert.equal(csvCell('2026-11-20 10:00:00'), '2026-11-20 10:00:00', 'a dash inside a value is no formula');
  });
});

describe('the .po reader', () => {
  test('reads entries, multi-line strings and escapes; empty translations are left out', () => {
    const po = [
      'msgid ""', 'msgstr ""', '"Language: ro\\n"', '',
      '# a comment', 'msgid "Open"', 'msgstr "Deschis"', '',
      'msgid "Say \\"hi\\""', 'msgstr ""', '"Spune "', '"\\"salut\\""', '',
      'msgid "Untranslated"', 'msgstr ""', '',
    ].join('\n');
    const catalogue = parsePo(po);
    assert.deepEqual(catalogue.get('Open'), ['Deschis']);
    assert.deepEqual(catalogue.get('Say "hi"'), ['Spune "salut"']);
    assert.equal(catalogue.has('Untranslated'), false);
    assert.equal(catalogue.has(''), false);
  });

  test('reads plural forms; one left empty leaves the whole phrase untranslated', () => {
    const po = [
      'msgid "{n} day"', 'msgid_plural "{n} days"', 'msgstr[0] "{n} zi"', 'msgstr[1] "{n} zile"', 'msgstr[2] "{n} de "', '"zile"', '',
      'msgid "{n} call"', 'msgid_plural "{n} calls"', 'msgstr[0] "{n} apel"', 'msgstr[1] ""', 'msgstr[2] "{n} de apeluri"', '',
    ].join('\n');
    const catalogue = parsePo(po);
    assert.deepEqual(catalogue.get('{n} day'), ['{n} zi', '{n} zile', '{n} de zile']);
    assert.equal(catalogue.has('{n} call'), false);
  });

  test('a counted phrase takes the form its number needs, in English and in Romanian', () => {
    const catalogues = new Catalogues(join(repoRoot(), 'i18n'));
    const en = catalogues.translator('en');
    const ro = catalogues.translator('ro');
    const days = (t: Translate, n: number) => t.plural('{n} day', '{n} days', n);
    assert.deepEqual([0, 1, 2, 20].map((n) => days(en, n)), ['0 days', '1 day', '2 days', '20 days']);
    assert.deepEqual([1, 2, 19, 20, 101, 119, 120, 0].map((n) => days(ro, n)), ['1 zi', '2 zile', '19 zile', '20 de zile', '101 zile', '119 zile', '120 de zile', '0 zile']);
    // {n} given already formatted in the reader's way is kept; the form follows the number.
    assert.equal(ro.plural('{n} day', '{n} days', 1200, { n: '1.200' }), '1.200 de zile');
    assert.equal(english.plural('{n} day', '{n} days', 1), '1 day');
  });

  test('every text the pages, the mails and the explanations pass through t() has a Romanian translation', () => {
    const root = repoRoot();
    const files = (dir: string): string[] =>
      readdirSync(join(root, dir)).flatMap((name) => {
        const path = join(dir, name);
        return statSync(join(root, path)).isDirectory() ? files(path) : [path];
      });
    const sources = [...files('src/web'), ...files('src/notify')].filter((f) => f.endsWith('.ts')).concat(files('views').filter((f) => f.endsWith('.ejs')), 'src/detect/explain.ts');
    const ro = new Catalogues(join(root, 'i18n')).messages('ro');
    const missing: string[] = [];
    for (const file of sources) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/\btr?\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g)) {
        const id = (m[1] ?? m[2]!).replace(/\\'/g, "'");
        if (ro.get(id)?.length !== 1) missing.push(`${file}: ${id}`);
      }
      // A counted phrase needs Romanian's three forms.
      for (const m of text.matchAll(/\btr?\.plural\(\s*'((?:[^'\\]|\\.)*)'/g)) {
        const id = m[1]!.replace(/\\'/g, "'");
        if (ro.get(id)?.length !== 3) missing.push(`${file}: ${id} (plural)`);
      }
    }
    assert.deepEqual(missing, []);
  });

  test('every catalogue is one gettext compiles: each message has its translation line, each counted phrase its forms', () => {
    const root = repoRoot();
    for (const file of ['i18n/smartmissedcalls.pot', ...LANGS.map((lang) => `i18n/${lang}/LC_MESSAGES/smartmissedcalls.po`)]) {
      const run = spawnSync('msgfmt', ['--check-format', '-o', '/dev/null', join(root, file)], { encoding: 'utf8' });
      assert.ok(!run.error, `msgfmt (Debian package gettext) is needed: ${run.error?.message}`);
      assert.equal(run.status, 0, `${file}: ${run.stderr}`);
    }
  });

  test('every settings problem the schema can report has a Romanian translation', () => {
    const root = repoRoot();
    const ro = new Catalogues(join(root, 'i18n')).messages('ro');
    const schema = readFileSync(join(root, 'src/config/schema.ts'), 'utf8');
    const templates = [...schema.matchAll(/new ConfigError\([^,]+,\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g)].map((m) => (m[1] ?? m[2]!).replace(/\\'/g, "'"));
    assert.ok(templates.length >= 15, `${templates.length} templates found`);
    assert.deepEqual(templates.filter((id) => !ro.has(id)), []);
  });

  test('Accept-Language picks the best supported language', () => {
    assert.equal(negotiateLang('ro-RO,ro;q=0.9,en;q=0.8'), 'ro');
    assert.equal(negotiateLang('de-DE,en;q=0.5,ro;q=0.7'), 'ro');
    assert.equal(negotiateLang('fr'), 'en');
    assert.equal(negotiateLang(undefined), 'en');
  });
});

describe('tenant scope', () => {
  test('puts the tenant where @tenant stands, between the other parameters, with this PBX\'s rows only', () => {
    assert.deepEqual(bindTenant('SELECT 1 FROM t WHERE a = ? AND tenant = @tenant AND b = ?', [1, 2], 'x'), [
      'SELECT 1 FROM t WHERE a = ? AND (tenant = ? AND pbx = @smc_pbx) AND b = ?', [1, 'x', 2],
    ]);
    assert.deepEqual(bindTenant('SELECT 1 FROM t c WHERE c.tenant = @tenant', [], 'x'), ['SELECT 1 FROM t c WHERE (c.tenant = ? AND c.pbx = @smc_pbx)', ['x']]);
    assert.throws(() => bindTenant('SELECT 1 FROM t WHERE tenant IN (@tenant)', [], 'x'), /outside `tenant = @tenant`/);
  });

  test('refuses a statement that does not name the tenant', () => {
    assert.throws(() => bindTenant('SELECT * FROM smart_missed_calls WHERE id = ?', [1], 'x'), /not restricted to the tenant/);
  });
});

describe('calculator', () => {
  test('revenue lost and recoverable per month', () => {
    const r = calculate({ callsPerDay: 100, lossRatePct: 10, conversionPct: 20, dealValue: 500, recoveryPct: 50 });
    assert.equal(r.missedPerMonth, 220);
    assert.equal(Math.round(r.lostPerMonth), 22_000);
    assert.equal(Math.round(r.recoverablePerMonth), 11_000);
  });
});

describe('standalone sessions', () => {
  const users = [{ user: 'ana', password: 'secret-pass', tenant: 'default', role: 'admin' as const }];

  test('a login needs the right name and password', () => {
    assert.equal(findUser(users, 'ana', 'secret-pass')?.user, 'ana');
    assert.equal(findUser(users, 'ana', 'secret-pas'), null);
    assert.equal(findUser(users, 'bob', 'secret-pass'), null);
  });

  test('a session cookie is refused when altered, signed with another key or expired', () => {
    const now = 1_800_000_000;
    const value = sessionCookieValue('k1', newSession(users[0]!, now));
    assert.equal(readSessionCookie('k1', value, now)?.user, 'ana');
    assert.equal(readSessionCookie('k2', value, now), null);
    const [body, sig] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), role: 'superadmin' })).toString('base64url');
    assert.equal(readSessionCookie('k1', `${forged}.${sig}`, now), null);
    assert.equal(readSessionCookie('k1', value, now + 13 * 3600), null);
  });
});
