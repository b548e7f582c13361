/**
 * Reads what `mysql --batch -e 'SELECT * FROM cdr'` prints: a header row of column
 * names, then one row a line, tab separated, NULL for SQL NULL and backslash escapes
 * (\t \n \\ \0) for the characters that would break the layout. This is how an admin
 * hands us a PBX's CDR for `smc explain --cdr-file` without giving us database access.
 */

export type TsvRecord = Record<string, string | null>;

export class BadTsv extends Error {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
  }
}

const ESCAPES: Record<string, string> = { t: '\t', n: '\n', '\\': '\\', '0': '\0' };

function decodeField(raw: string): string | null {
  if (raw === 'NULL') return null;
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\(.)/g, (whole, c: string) => ESCAPES[c] ?? whole);
}

export function readTsv(text: string): TsvRecord[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const header = lines[0];
  if (header === undefined || header.trim() === '') return [];
  const columns = header.split('\t').map((name) => name.trim());
  const records: TsvRecord[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const fields = line.split('\t');
    if (fields.length !== columns.length) {
      throw new BadTsv(i + 1, `${fields.length} fields where the header names ${columns.length} columns`);
    }
    const record: TsvRecord = {};
    columns.forEach((column, j) => {
      record[column] = decodeField(fields[j]!);
    });
    records.push(record);
  }
  return records;
}
