// CHANGELOG.md → module.xml's <changelog>. The file has one "## <version>" section per
// release, newest first, each a list of "- " items (an item may wrap onto indented lines).
// Module Admin shows the changelog with its line breaks, bolding each *<version>*.

/** @returns {{ version: string, items: string[] }[]} the sections in file order */
export function parseChangelog(text) {
  const sections = [];
  for (const line of text.split('\n')) {
    const heading = /^## (\d+\.\d+\.\d+)\s*$/.exec(line);
    if (heading) {
      sections.push({ version: heading[1], items: [] });
      continue;
    }
    const current = sections.at(-1);
    if (!current) continue;
    if (line.startsWith('- ')) current.items.push(line.slice(2).trim());
    else if (/^\s+\S/.test(line) && current.items.length > 0) current.items[current.items.length - 1] += ' ' + line.trim();
  }
  return sections;
}

/** The <changelog> text, not yet XML-escaped: "*1.0.0*" then its items, one per line. */
export function renderChangelog(text) {
  const sections = parseChangelog(text);
  if (sections.length === 0) throw new Error('CHANGELOG.md has no "## x.y.z" section');
  return sections.map((s) => [`*${s.version}*`, ...s.items.map((item) => `- ${item}`)].join('\n')).join('\n');
}

export function escapeXml(text) {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
