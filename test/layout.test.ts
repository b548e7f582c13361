// The house rule "two files never import each other": every ring of imports among src/ files,
// however long, is named here, so the layout keeps its flow (config → cdr → detect → ledger →
// notify/web) as it grows.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './harness/db.js';

const SRC = join(repoRoot(), 'src');
const IMPORT = /^(?:import|export)\b[^;]*?\bfrom '(\.{1,2}\/[^']+)\.js'/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [join(dir, d.name)] : [],
  );
}

/** Strongly connected groups of more than one file (Tarjan): each is a ring of imports. */
function rings(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const ring: string[] = [];
      let w: string;
      do ring.push((w = stack.pop()!)); while (w !== v);
      if (ring.length > 1) found.push(ring.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('no files of src/ import each other, directly or round a ring', () => {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const imports = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => relative(SRC, normalize(join(dirname(file), `${m[1]}.ts`))));
    graph.set(relative(SRC, file), imports);
  }
  assert.ok(graph.size > 100, `${graph.size} source files read`);
  assert.deepEqual(rings(graph), [], 'rings of imports');
});
