import type { Pool } from 'mysql2/promise';
import type { TenantSettings } from '../config/schema.js';
import { normaliseNumber } from '../clear/numbers.js';
import { numberRules } from '../ledger/entries.js';

export interface ContactLine {
  line: number;
  number: string;
  key: string;
  name: string;
}

export interface ParsedContacts {
  contacts: ContactLine[];
  bad: { line: number; text: string; problem: string }[];
}

/** One CSV field list per line: quoted fields ("Popescu, Ion"), doubled quotes inside them. */
function splitCsvLine(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        field += line[i];
        i += 1;
      }
      while (i < line.length && line[i] !== ',' && line[i] !== ';') i += 1;
    } else {
      while (i < line.length && line[i] !== ',' && line[i] !== ';') field += line[i++];
    }
    fields.push(field.trim());
    if (i >= line.length) return fields;
    i += 1;
  }
}

/**
 * Reads a contacts CSV: columns number,name (comma or semicolon), header optional. Bad
 * lines are reported with their line numbers and skipped; the good ones are kept.
 */
export function parseContactsCsv(text: string, settings: TenantSettings): ParsedContacts {
  const out: ParsedContacts = { contacts: [], bad: [] };
  const rules = numberRules(settings);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const bad = (line: number, text: string, problem: string) => out.bad.push({ line, text, problem });
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    if (raw.trim() === '') continue;
    const fields = splitCsvLine(raw);
    if (!fields) {
      bad(line, raw, 'unterminated quote');
      continue;
    }
    if (index === 0 && /^(number|phone|tel)/i.test(fields[0] ?? '')) continue;
    const [number = '', name = ''] = fields;
    const parsed = normaliseNumber(number, rules);
    if (fields.length < 2) bad(line, raw, 'expected two columns: number,name');
    else if (!name) bad(line, raw, 'the name is empty');
    else if (name.length > 160) bad(line, raw, 'the name is longer than 160 characters');
    else if (parsed.anonymous || !/^\+?[\d\s().-]+$/.test(number) || parsed.key.length < 6) bad(line, raw, `'${number}' is not a phone number`);
    else out.contacts.push({ line, number: parsed.display, key: parsed.key, name });
  }
  return out;
}

/** Stores contacts (a later line for the same number wins); returns how many were written. */
export async function importContacts(pool: Pool, tenant: string, contacts: ContactLine[]): Promise<number> {
  const chunk = 500;
  for (let i = 0; i < contacts.length; i += chunk) {
    const slice = contacts.slice(i, i + chunk);
    await pool.query(
      `INSERT INTO smart_missed_calls_contacts (pbx, tenant, caller_key, number, name, source, imported_at)
       VALUES ${slice.map(() => "(@smc_pbx, ?, ?, ?, ?, 'csv', NOW())").join(',')}
       ON DUPLICATE KEY UPDATE number = VALUES(number), name = VALUES(name), imported_at = VALUES(imported_at)`,
      slice.flatMap((c) => [tenant, c.key, c.number, c.name]),
    );
  }
  return contacts.length;
}
