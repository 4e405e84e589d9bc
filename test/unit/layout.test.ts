import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layout rules of lib/ (docs/architecture.md): no import cycle, and no file longer than a
 * reader holds in their head (about 250 lines: split by concept before adding to it).
 */
const LIB = resolve(import.meta.dirname, '../../lib');
const MAX_LINES = 260;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The lib/ files a file imports at run time (`import type` and `export type` left out: they leave no edge at run time). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'(\.[^']+)'/gms)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  for (const m of text.matchAll(/import\('(\.[^']+)'\)/g)) out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return out.filter((f) => f.startsWith(LIB));
}

describe('lib/', () => {
  const all = files(LIB);

  it(`has no file over ${MAX_LINES} lines`, () => {
    const long = all.map((f) => [relative(LIB, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('has no import cycle', () => {
    const graph = new Map(all.map((f) => [f, imports(f)]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(LIB, p)).join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('the cycle check sees a cycle (the check itself can fail)', () => {
    // refresher.ts imports protocol.ts at run time: an edge the parser must find.
    expect(imports(join(LIB, 'refresher.ts'))).toContain(join(LIB, 'protocol.ts'));
  });
});
