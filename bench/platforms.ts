/**
 * The third-party platform benchmarks (bench/platform-day.ts, bench/platform-scale.ts,
 * bench/platform-cost.ts): one block of BENCHMARKS.md between the markers below. `npm run bench`
 * writes it with the rest; `npm run bench -- --platforms` runs only these and replaces only this
 * block in BENCHMARKS.md (with --tiny: a temporary file, BENCHMARKS.md untouched).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { platformCostSection } from './platform-cost.js';
import { platformDay, platformDaySection } from './platform-day.js';
import { platformScale, platformScaleSection } from './platform-scale.js';

export const BEGIN = '<!-- platforms: bench/platforms.ts -->';
export const END = '<!-- /platforms -->';

/** The block, measured now; `command`: what produced it, as the sections name it. */
export async function platformSections(tiny: boolean, command: string): Promise<string> {
  const started = performance.now();
  const day = await platformDay(tiny);
  const scale = await platformScale(tiny);
  const wall = (performance.now() - started) / 1000;
  return `${BEGIN}
${platformDaySection(day, command)}
${platformScaleSection(scale, command)}
${platformCostSection({ day, scale }, command)}
These platform sections: ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${wall.toFixed(0)} s of wall time for the three.
${END}
`;
}

/** `npm run bench -- --platforms [--tiny]`: only the platform block, spliced into BENCHMARKS.md (or a temporary file). */
export async function runPlatformsOnly(tiny: boolean): Promise<void> {
  const block = await platformSections(tiny, `npm run bench -- --platforms${tiny ? ' --tiny' : ''}`);
  const target = tiny ? join(tmpdir(), 'BENCHMARKS.platforms.tiny.md') : 'BENCHMARKS.md';
  const current = !tiny && existsSync(target) ? readFileSync(target, 'utf8') : '';
  const from = current.indexOf(BEGIN);
  const to = current.indexOf(END);
  const md = from >= 0 && to > from ? `${current.slice(0, from)}${block.trimEnd()}${current.slice(to + END.length)}` : `${current.trimEnd()}${current ? '\n\n' : ''}${block}`;
  writeFileSync(target, md);
  if (tiny) console.error(`bench --platforms --tiny: the platform benchmarks ran; wrote ${target} (BENCHMARKS.md untouched)`);
  console.log(block);
}
