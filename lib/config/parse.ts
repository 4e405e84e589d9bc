import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * What every part of the configuration is checked with (lib/config.ts and its schemas here): zod
 * with English messages, the JSON and schema parsing whose ConfigurationInvalidError names the
 * field that is wrong (`Invalid configuration: <field>: <message>`), the string-matching check and
 * the caller lists (keys, IAM principals) whose names are unique.
 */

// zod/mini: the same zod, functional, so that a bundle carries only what it uses (27 KB, not 444).
z.config(en());

/** A string matching `re`, with a message that says what it must be. */
export const matching = (re: RegExp, message?: string) => z.string().check(z.regex(re, message));

export class ConfigurationInvalidError extends Error {
  override readonly name = 'ConfigurationInvalidError';
}

export function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ConfigurationInvalidError(`Invalid configuration: ${field}: is not valid JSON`);
  }
}

export function parse<T extends z.ZodMiniType>(schema: T, value: unknown, field: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), field);
  throw new ConfigurationInvalidError(`Invalid configuration: ${path || 'environment'}: ${issue.message}`);
}

/** A list of callers (keys or IAM principals) whose `name`s (in logs and metrics) and `unique` field differ. */
export const callerList = <T extends z.ZodMiniType<{ name: string }>>(entry: T, unique: 'sha256' | 'arn', what: string) =>
  z.array(entry).check(
    z.superRefine((list, ctx) => {
      const names = new Set<string>();
      const ids = new Set<unknown>();
      list.forEach((e, i) => {
        const id = (e as Record<string, unknown>)[unique];
        if (names.has(e.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate ${what} name "${e.name}": each caller needs its own name` });
        else if (ids.has(id)) ctx.addIssue({ code: 'custom', path: [i, unique], message: `the same ${unique} as an earlier entry` });
        names.add(e.name);
        ids.add(id);
      });
    }),
  );
