/** Reading SHOW GRANTS: what the doctor's privilege checks (the PBX's database, a group's cluster) ask. */

/**
 * Privileges the connected user holds on a database (and optionally one table of it),
 * from SHOW GRANTS: global, database-level (with its % and _ wildcards) and table-level.
 */
export function privilegesOn(grants: string[], database: string, table?: string): Set<string> {
  const held = new Set<string>();
  for (const grant of grants) {
    const m = /^GRANT (.+?) ON (\S+) TO /i.exec(grant);
    if (!m) continue;
    const [dbPart, tablePart] = splitTarget(m[2]!);
    const dbMatches = dbPart === '*' || likePattern(dbPart).test(database);
    const tableMatches = tablePart === '*' || (table !== undefined && tablePart === table);
    if (!dbMatches || !tableMatches) continue;
    for (const raw of m[1]!.split(',')) {
      const privilege = raw.trim().toUpperCase();
      if (privilege.includes('(')) continue; // column-level: not enough for our queries
      if (privilege === 'ALL' || privilege === 'ALL PRIVILEGES') held.add('ALL');
      else held.add(privilege);
    }
  }
  return held;
}

function splitTarget(target: string): [string, string] {
  const parts = target.match(/(`(?:[^`]|``)*`|\*|[^.`]+)/g) ?? [];
  const unquote = (p: string) => (p.startsWith('`') ? p.slice(1, -1).replace(/``/g, '`') : p);
  return [unquote(parts[0] ?? ''), unquote(parts[1] ?? '*')];
}

function likePattern(dbPattern: string): RegExp {
  let re = '';
  for (let i = 0; i < dbPattern.length; i++) {
    const c = dbPattern[i]!;
    if (c === '\\' && i + 1 < dbPattern.length) re += escapeRegex(dbPattern[++i]!);
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += escapeRegex(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
