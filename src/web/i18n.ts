import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fillPlaceholders, type TextParams, type Translate } from '../detect/explain.js';

/**
 * gettext catalogues (i18n/<lang>/LC_MESSAGES/smartmissedcalls.po), read once at start.
 * The English text is the message id; {name} placeholders are filled after translation,
 * so one catalogue serves the pages and the classifier's explanations alike.
 */
export const LANGS = ['en', 'ro'] as const;
export type Lang = (typeof LANGS)[number];

export const DOMAIN = 'smartmissedcalls';

/**
 * msgid → its translated forms: one for a plain message; for a counted phrase (msgid_plural)
 * one a plural form, in the order of the language's gettext Plural-Forms.
 */
export type Catalogue = Map<string, string[]>;

/**
 * The CLDR plural categories in the order gettext numbers a language's forms: English
 * `n != 1`; Romanian `n==1 ? 0 : (n==0 || n%100 in 1..19) ? 1 : 2`, which is CLDR's one/few/other.
 */
const PLURAL_ORDER: Record<Lang, Intl.LDMLPluralRule[]> = { en: ['one', 'other'], ro: ['one', 'few', 'other'] };

/** Parses the subset of the .po format we write: msgctxt-less entries, plural forms, multi-line strings, comments. */
export function parsePo(text: string): Catalogue {
  const out: Catalogue = new Map();
  let id: string | null = null;
  let forms: string[] = [];
  let target: 'id' | 'plural' | number | null = null;
  const flush = () => {
    if (id !== null && id !== '' && forms.length > 0 && forms.every((f) => f !== '')) out.set(id, forms);
    id = null;
    forms = [];
    target = null;
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) {
      if (line === '') flush();
      continue;
    }
    const m = /^(msgid|msgid_plural|msgstr)(?:\[(\d+)\])?\s+(".*")$/.exec(line);
    if (m) {
      const value = unquote(m[3]!);
      if (m[1] === 'msgid') {
        flush();
        id = value;
        target = 'id';
      } else if (m[1] === 'msgid_plural') {
        target = 'plural';
      } else {
        target = m[2] === undefined ? 0 : Number(m[2]);
        forms[target] = value;
      }
    } else if (line.startsWith('"') && target !== null) {
      if (target === 'id') id = (id ?? '') + unquote(line);
      else if (typeof target === 'number') forms[target] = (forms[target] ?? '') + unquote(line);
    }
  }
  flush();
  return out;
}

function unquote(quoted: string): string {
  return quoted
    .slice(1, -1)
    .replace(/\\(["\\nt])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

export class Catalogues {
  private readonly byLang = new Map<Lang, Catalogue>();

  constructor(readonly dir: string) {
    for (const lang of LANGS) {
      const file = join(dir, lang, 'LC_MESSAGES', `${DOMAIN}.po`);
      this.byLang.set(lang, existsSync(file) ? parsePo(readFileSync(file, 'utf8')) : new Map());
    }
  }

  translator(lang: Lang): Translate {
    const catalogue = this.byLang.get(lang) ?? new Map<string, string[]>();
    const rules = new Intl.PluralRules(lang);
    const order = PLURAL_ORDER[lang];
    return Object.assign((text: string, params: TextParams = {}) => fillPlaceholders(catalogue.get(text)?.[0] ?? text, params), {
      plural: (one: string, other: string, n: number, params: TextParams = {}) => {
        const forms = catalogue.get(one);
        const form = forms?.[order.indexOf(rules.select(n))] ?? (n === 1 ? one : other);
        return fillPlaceholders(form, { n, ...params });
      },
    });
  }

  /** Every msgstr of a language, each with all its forms: the Romanian page test checks visible text against them. */
  messages(lang: Lang): Catalogue {
    return this.byLang.get(lang) ?? new Map();
  }
}

/** The i18n folder of the module: beside build/ when bundled, SMC_I18N_DIR to override. */
export function defaultI18nDir(moduleDir: string): string {
  return process.env.SMC_I18N_DIR ?? join(moduleDir, 'i18n');
}

/** First supported language in an Accept-Language header (q-values honoured), else English. */
export function negotiateLang(acceptLanguage: string | undefined): Lang {
  if (!acceptLanguage) return 'en';
  const ranked = acceptLanguage
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => /^q=([\d.]+)$/.exec(p.trim())).find(Boolean);
      return { lang: (tag ?? '').toLowerCase().split('-')[0]!, q: q ? Number(q[1]) : 1 };
    })
    .sort((a, b) => b.q - a.q);
  for (const { lang } of ranked) if ((LANGS as readonly string[]).includes(lang)) return lang as Lang;
  return 'en';
}

/**
 * Numbers and the PBX's naive wall-clock times in the reader's language. Times are shown
 * as stored (the PBX's clock), never shifted by the service's or the browser's zone.
 */
export class Formats {
  private readonly locale: string;
  private readonly dateTime: Intl.DateTimeFormat;
  private readonly dateOnly: Intl.DateTimeFormat;
  private readonly timeOnly: Intl.DateTimeFormat;
  private readonly number: Intl.NumberFormat;

  constructor(readonly lang: Lang, private readonly t: Translate) {
    this.locale = lang === 'ro' ? 'ro-RO' : 'en-GB';
    this.dateTime = new Intl.DateTimeFormat(this.locale, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'medium' });
    this.dateOnly = new Intl.DateTimeFormat(this.locale, { timeZone: 'UTC', day: 'numeric', month: 'short' });
    this.timeOnly = new Intl.DateTimeFormat(this.locale, { timeZone: 'UTC', hour: '2-digit', minute: '2-digit' });
    this.number = new Intl.NumberFormat(this.locale);
  }

  datetime(naive: string | null): string {
    return naive ? this.dateTime.format(naiveDate(naive)) : '';
  }

  /** The time of day alone ("10:02"): what a wallboard shows of today's moments. */
  time(naive: string): string {
    return this.timeOnly.format(naiveDate(naive));
  }

  day(naive: string): string {
    return this.dateOnly.format(naiveDate(naive));
  }

  int(n: number): string {
    return this.number.format(n);
  }

  percent(ratio: number | null, digits = 1): string {
    if (ratio === null || !Number.isFinite(ratio)) return '–';
    return new Intl.NumberFormat(this.locale, { style: 'percent', maximumFractionDigits: digits }).format(ratio);
  }

  /** "2 d 4 h", "3 h 12 min", "45 s": two units at most, enough for an age or a wait. */
  duration(seconds: number | null): string {
    if (seconds === null || !Number.isFinite(seconds)) return '–';
    const s = Math.max(0, Math.round(seconds));
    const d = Math.floor(s / 86_400);
    const h = Math.floor((s % 86_400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d > 0) return this.t('{d} d {h} h', { d, h });
    if (h > 0) return this.t('{h} h {m} min', { h, m });
    if (m > 0) return this.t('{m} min', { m });
    return this.t('{s} s', { s });
  }

  money(amount: number): string {
    return new Intl.NumberFormat(this.locale, { maximumFractionDigits: 0 }).format(amount);
  }
}

function naiveDate(naive: string): Date {
  return new Date(naive.replace(' ', 'T') + 'Z');
}
