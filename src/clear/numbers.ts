import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

export interface NumberRules {
  /** ISO country of the PBX ('RO'); empty when not configured. */
  defaultCountry: string;
  /** Dial prefixes the PBX's users put before outside numbers ('9', '0'). */
  outboundPrefixes: string[];
  /** How many trailing digits must agree for two numbers to be one caller. */
  matchDigits: number;
}

export const NO_RULES: NumberRules = { defaultCountry: '', outboundPrefixes: [], matchDigits: 9 };

const WITHHELD = /^(anonymous|restricted|unknown|unavailable|private|withheld)$/i;

export interface CallerNumber {
  /** What we show: E.164 when the country is known and the number valid, else the digits as given. */
  display: string;
  /** What we match and key entries by: the last matchDigits digits (all digits when shorter). */
  key: string;
  anonymous: boolean;
}

/**
 * Normalises a caller id or a dialled number. With a default country libphonenumber-js
 * gives E.164; with none (a fresh install, `smc explain` on a file) numbers still match on
 * their last digits after dial prefixes are stripped, so 0722000120, 90722000120,
 * +40722000120 and 0040722000120 are one caller.
 */
export function normaliseNumber(raw: string, rules: NumberRules, dialled = false): CallerNumber {
  const text = (raw ?? '').trim();
  if (!text || WITHHELD.test(text) || !/\d/.test(text)) return { display: 'anonymous', key: 'anonymous', anonymous: true };
  let digits = text.replace(/[^\d+]/g, '');
  if (dialled) digits = stripPrefix(digits, rules.outboundPrefixes);
  const plus = digits.startsWith('+');
  digits = digits.replace(/\+/g, '');
  let display = (plus ? '+' : '') + digits;
  if (rules.defaultCountry) {
    const international = plus ? '+' + digits : digits.startsWith('00') ? '+' + digits.slice(2) : '';
    const parsed = international
      ? parsePhoneNumberFromString(international)
      : parsePhoneNumberFromString(digits, rules.defaultCountry as CountryCode);
    if (parsed?.isValid()) display = parsed.number;
  }
  const significant = display.replace(/\D/g, '');
  const key = significant.length > rules.matchDigits ? significant.slice(-rules.matchDigits) : significant;
  return { display, key, anonymous: false };
}

/** Strips the longest configured dial prefix, only when what remains still looks like a phone number. */
function stripPrefix(digits: string, prefixes: string[]): string {
  const sorted = [...prefixes].sort((a, b) => b.length - a.length);
  for (const prefix of sorted) {
    if (digits.startsWith(prefix) && digits.length - prefix.length >= 6) return digits.slice(prefix.length);
  }
  return digits;
}

/** Two numbers are the same caller when their keys agree; withheld numbers never match anything. */
export function sameCaller(a: CallerNumber, b: CallerNumber): boolean {
  return !a.anonymous && !b.anonymous && a.key === b.key;
}
