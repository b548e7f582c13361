/**
 * CSV cells for spreadsheets. A caller name is chosen by a stranger: a cell starting with
 * = + - @ (or a tab/CR that some programs skip) would run as a formula, so it gets a
 * leading apostrophe.
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: unknown[]): string {
  return values.map(csvCell).join(',') + '\r\n';
}
