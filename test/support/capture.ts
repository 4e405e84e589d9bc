import { vi } from 'vitest';

/**
 * Everything written to stdout and stderr while `run` runs (Powertools: DEBUG and INFO to stdout,
 * WARN and ERROR to stderr), restored afterwards even when `run` throws.
 */
export async function captureOutput(run: () => Promise<unknown>): Promise<{ lines: string[]; text: string }> {
  const lines: string[] = [];
  const capture = (chunk: unknown) => (lines.push(String(chunk)), true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    await run();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { lines, text: lines.join('') };
}
