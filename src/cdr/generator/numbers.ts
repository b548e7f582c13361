/**
 * Romanian-style phone numbers as a carrier presents them and as people dial them: the
 * same mobile arrives as 0722…, +40722… or 0040722…, and an agent calling back may add
 * the outbound prefix 9. Matching those is the detector's job; producing them is ours.
 */
import type { Rng } from './random.js';
import type { CallerId } from './legs.js';

export const ANONYMOUS: CallerId = { number: 'anonymous', name: 'Anonymous' };

/** A national mobile number, 07x xxx xxxx. */
export function randomMobile(rng: Rng): string {
  return `07${rng.int(2, 8)}${String(rng.int(0, 9_999_999)).padStart(7, '0')}`;
}

/** A national landline: Bucharest 021… or a county 02xx/03xx number. */
export function randomLandline(rng: Rng): string {
  if (rng.chance(0.5)) return `021${String(rng.int(0, 9_999_999)).padStart(7, '0')}`;
  return `0${rng.pick(['264', '256', '232', '268', '241', '351', '364'])}${String(rng.int(0, 999_999)).padStart(6, '0')}`;
}

export type NumberFormat = 'national' | 'plus' | 'international';

/** How one national number looks in the given format. */
export function formatNumber(national: string, format: NumberFormat): string {
  if (format === 'national') return national;
  const subscriber = national.replace(/^0/, '');
  return format === 'plus' ? `+40${subscriber}` : `0040${subscriber}`;
}

/** Back to the national form (0…), whatever format it arrived in. */
export function nationalForm(number: string): string {
  if (number.startsWith('+40')) return `0${number.slice(3)}`;
  if (number.startsWith('0040')) return `0${number.slice(4)}`;
  return number;
}

/** Carriers mostly send national numbers; some send E.164 with + or 00. */
export function randomFormat(rng: Rng): NumberFormat {
  return rng.weighted({ national: 70, plus: 20, international: 10 });
}

/** Carriers here send no name: FreePBX shows the number as the name too. */
export function carrierCaller(number: string): CallerId {
  return { number, name: number };
}

/** What an agent types to call a number back: with or without the 9 prefix, 0… or 0040… */
export function dialledForCallback(presented: string, prefix: string, rng: Rng): string {
  const national = nationalForm(presented);
  const roll = rng.next();
  if (roll < 0.4) return national;
  if (roll < 0.8) return `${prefix}${national}`;
  return formatNumber(national, 'international');
}

/** The number the outbound route (pattern `9|0.`) sends to the trunk: the dial prefix stripped. */
export function numberSentToTrunk(dialled: string, prefix: string): string {
  return prefix && dialled.startsWith(prefix + '0') ? dialled.slice(prefix.length) : dialled;
}
