/**
 * CSV cells for spreadsheets. A caller name is chosen by a stranger: text that starts with
 * = + - @ (or a tab/CR that some programs skip) would run as a formula. Not only at the
 * start of the cell: a spreadsheet that splits on ; (Excel with a Romanian or German list
 * separator), a tab or | starts a new cell after it, where our quotes no longer protect
 * anything. So every place a cell could start — the cell's start, and after any of
 * , ; | tab CR LF, past spaces and quotes — gets an apostrophe before such a character.
 */
const FORMULA_AT_CELL_START = /(?<=^|[,;|\t\r\n])([ "]*)(?=[=+\-@\t\r])/g;

export function csvCell(value: unknown): string {
  const text = (value === null || value === undefined ? '' : String(value)).replace(FORMULA_AT_CELL_START, "$1'");
  return /[",;|\t\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: unknown[]): string {
  return values.map(csvCell).join(',') + '\r\n';
}
